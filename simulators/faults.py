"""Injected partner faults: latency, 5xx, timeouts after the work is done, dropped or duplicated callbacks, a
payment partner that keeps a fee out of what it credits, one that answers 5xx after it paid, and one that answers a
repeated idempotency key with 409 instead of the stored result."""

import asyncio
import logging
import random
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from adapters.errors import DuplicateKey, PartnerTimeout, PartnerUnavailable

logger = logging.getLogger(__name__)

SYSTEMS = ("civil_registry", "biometrics", "social_affairs", "marketplace", "payment")
# Over HTTP a timeout fault holds the answer back this long unless the fault says otherwise.
DEFAULT_TIMEOUT_MS = 30_000
# The problem code of the 409 a partner answers to an idempotency key it has already received.
DUPLICATE_IDEMPOTENCY_KEY = "DUPLICATE_IDEMPOTENCY_KEY"


class FaultKind(StrEnum):
    LATENCY = "latency"
    ERROR_5XX = "error_5xx"
    TIMEOUT = "timeout"
    DROP_CALLBACK = "drop_callback"
    DUPLICATE_CALLBACK = "duplicate_callback"
    FEE_DEDUCTION = "fee_deduction"  # the partner credits (and records) the payment less `amount` rupiah
    # A disbursement is recorded and paid, then the answer is a 500: the caller must resend the same key.
    ERROR_5XX_AFTER_COMMIT = "error_5xx_after_commit"
    # A disbursement whose key the partner already holds is answered 409 DUPLICATE_IDEMPOTENCY_KEY instead of the
    # stored result: the caller must ask for the status.
    CONFLICT_ON_REPEAT = "conflict_on_repeat"


class Fault(BaseModel):
    """`target` is a system name, or `payment:<client_code>` for one payment partner."""

    target: str
    kind: FaultKind
    rate: float = Field(1.0, ge=0, le=1)
    ms: int | None = Field(None, ge=0)
    amount: int | None = Field(None, ge=0, description="fee_deduction: rupiah kept back from each payment")
    times: int | None = Field(None, ge=1, description="fire at most this many times, then stay quiet (None: no limit)")
    fired: int = Field(0, ge=0, description="how often it has fired so far (set by the simulator)")

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

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


class FaultAfterCommit(PartnerUnavailable):
    """The partner did the work, then failed to answer (over HTTP: 500). Resending the same key is safe."""


class FaultDuplicateKey(DuplicateKey):
    """The partner refuses a key it already holds (over HTTP: 409 DUPLICATE_IDEMPOTENCY_KEY), without saying how the
    first request ended."""

    code = DUPLICATE_IDEMPOTENCY_KEY


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
        matching = [f for f in self.faults if f.kind is kind and f.target in targets and not f.spent]
        fired = [f for f in matching if self.rng.random() < f.rate]
        for fault in fired:
            fault.fired += 1
        return fired

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

    def after_commit(self, targets: Sequence[str]) -> None:
        """Faults that strike once money moved: the answer is lost, the payment is not."""
        self.after(targets)
        if self.firing(targets, FaultKind.ERROR_5XX_AFTER_COMMIT):
            logger.info("fault: %s answers 500 after recording the disbursement", targets[-1])
            raise FaultAfterCommit(f"{targets[-1]}: simulated 500 after commit")

    def on_repeat(self, targets: Sequence[str]) -> None:
        """Faults that strike when a request repeats an idempotency key the partner already holds."""
        if self.firing(targets, FaultKind.CONFLICT_ON_REPEAT):
            logger.info("fault: %s answers 409 to a repeated idempotency key", targets[-1])
            raise FaultDuplicateKey(f"{targets[-1]}: simulated 409 {DUPLICATE_IDEMPOTENCY_KEY}")
