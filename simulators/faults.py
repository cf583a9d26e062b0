"""Injected partner faults: latency, 5xx, timeouts after the work is done, dropped or duplicated callbacks, and a
payment partner that keeps a fee out of what it credits."""

import asyncio
import logging
import random
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from adapters.errors import PartnerTimeout, PartnerUnavailable

logger = logging.getLogger(__name__)

SYSTEMS = ("civil_registry", "biometrics", "social_affairs", "marketplace", "payment")
# Over HTTP a timeout fault holds the answer back this long unless the fault says otherwise.
DEFAULT_TIMEOUT_MS = 30_000


class FaultKind(StrEnum):
    LATENCY = "latency"
    ERROR_5XX = "error_5xx"
    TIMEOUT = "timeout"
    DROP_CALLBACK = "drop_callback"
    DUPLICATE_CALLBACK = "duplicate_callback"
    FEE_DEDUCTION = "fee_deduction"  # the partner credits (and records) the payment less `amount` rupiah


class Fault(BaseModel):
    """`target` is a system name, or `payment:<client_code>` for one payment partner."""

    target: str
    kind: FaultKind
    rate: float = Field(1.0, ge=0, le=1)
    ms: int | None = Field(None, ge=0)
    amount: int | None = Field(None, ge=0, description="fee_deduction: rupiah kept back from each payment")

    @field_validator("target")
    @classmethod
    def _known_target(cls, target: str) -> str:
        system, _, client_code = target.partition(":")
        if target in SYSTEMS or (system == "payment" and client_code):
            return target
        raise ValueError(f"target must be one of {', '.join(SYSTEMS)} or payment:<client_code>")


class FaultTimeout(PartnerTimeout):
    """The partner did the work but will not answer in time (over HTTP: answers 504 after `ms`)."""

    def __init__(self, target: str, ms: int) -> None:
        super().__init__(f"{target}: simulated timeout")
        self.ms = ms


class FaultBook:
    """The active faults; each matching fault fires independently with probability `rate`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear(self) -> int:
        count, self.faults = len(self.faults), []
        return count

    def firing(self, targets: Sequence[str], kind: FaultKind) -> list[Fault]:
        # rng.random() is in [0, 1): rate 1 always fires, rate 0 never does.
        matching = [f for f in self.faults if f.kind is kind and f.target in targets]
        return [f for f in matching if self.rng.random() < f.rate]

    async def before(self, targets: Sequence[str]) -> None:
        """Faults that strike before the partner does anything."""
        for fault in self.firing(targets, FaultKind.LATENCY):
            await asyncio.sleep((fault.ms or 0) / 1000)
        if self.firing(targets, FaultKind.ERROR_5XX):
            logger.info("fault: %s answers 503", targets[-1])
            raise PartnerUnavailable(f"{targets[-1]}: simulated 503")

    def after(self, targets: Sequence[str]) -> None:
        """Faults that strike once the work is done: the caller never learns the outcome."""
        fired = self.firing(targets, FaultKind.TIMEOUT)
        if fired:
            logger.info("fault: %s times out after doing the work", targets[-1])
            raise FaultTimeout(targets[-1], fired[0].ms if fired[0].ms is not None else DEFAULT_TIMEOUT_MS)
