"""One beneficiary driven from the award to COMPLETED, as the API and partners would drive it: a purchase and
an e-wallet link (updates), a review and the 3 surveys (signals), each by method reference, and the completion
through the service the API runs for it (the ledger row, the survey windows, the signal)."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.contracts import (
    JourneyResult,
    LinkAccountUpdate,
    PurchaseUpdate,
    ReviewSignal,
    SurveySignal,
)
from core.domain import PartnerKind
from core.problems import ProblemCode
from db.models import Beneficiary
from services.purchases import Complete, execute_completion, plan_completion
from tests.workflows.harness import order
from workflows.journey import BeneficiaryJourney

Rows = dict[str, tuple[str, dict[str, Any]]]  # registration id -> (status, detail)


class Projection:
    """The beneficiary rows, re-read by one poller for all journeys (as the API would read them)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
        self.sessions, self.interval = sessions, interval
        self.rows: Rows = {}
        self.changed = asyncio.Condition()

    async def run(self) -> None:
        query = select(Beneficiary.registration_id, Beneficiary.status, Beneficiary.detail)
        while True:
            async with self.sessions() as session:
                rows = (await session.execute(query)).all()
            async with self.changed:
                self.rows = {r: (str(s), d or {}) for r, s, d in rows}
                self.changed.notify_all()
            await asyncio.sleep(self.interval)

    async def wait(self, predicate: Callable[[Rows], bool]) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: predicate(self.rows))


@dataclass
class Stats:
    marks: dict[str, list[float]] = field(default_factory=dict)  # step -> seconds after the draw, per journey
    purchase_retries: int = 0
    missed_windows: int = 0
    survey_lag: list[float] = field(default_factory=list)  # seconds from a window opening to our signal


async def drive(
    client: Client, projection: Projection, handle: WorkflowHandle, account: str, stats: Stats, drawn: float
) -> str:
    """One beneficiary from the award to COMPLETED; returns the journey's final status (and reasons)."""

    def mark(step: str) -> None:
        stats.marks.setdefault(step, []).append(time.perf_counter() - drawn)

    rid = handle.id.removeprefix("journey-")
    await projection.wait(lambda rows: rows.get(rid, ("",))[0].endswith("AWARDED"))
    mark("awarded (row)")
    ref = f"P-{rid}"
    await purchase(handle, ref, stats)
    mark("purchased")
    await complete(client, projection.sessions, ref, "C-" + rid)
    await handle.signal(BeneficiaryJourney.review, ReviewSignal(purchase_ref=ref, rating=5))
    link = LinkAccountUpdate(partner_client_code="EWALLET", account_number=account)
    linked = await handle.execute_update(BeneficiaryJourney.link_payment_account, link, id=f"link-{rid}")
    assert linked.verified, linked
    mark("linked")
    await projection.wait(lambda rows: "surveys" in rows[rid][1])
    mark("surveys published")
    await answer_surveys(handle, projection.rows[rid][1]["surveys"], stats)
    result = await handle.result()
    mark("completed")
    assert isinstance(result, JourneyResult)
    return f"{result.status}{':' + ','.join(result.reasons) if result.reasons else ''}"


async def complete(
    client: Client, sessions: async_sessionmaker[AsyncSession], ref: str, certificate_number: str
) -> None:
    """The marketplace reports the training completed, through the service the API runs for it: the ledger row, the
    survey windows with the first completion, and the journey's signal."""
    cmd = Complete(
        ref, certificate_number, datetime.now(UTC), order(ref)["marketplace_client_code"], PartnerKind.MARKETPLACE
    )
    async with sessions() as session:
        await execute_completion(session, client, await plan_completion(session, cmd), cmd)


async def purchase(handle: WorkflowHandle, ref: str, stats: Stats) -> None:
    """The row says AWARDED as soon as the draw writes the card (or, for older journeys, their award activity); the
    workflow learns it with the draw's signal a moment later, and refuses NOT_AWARDED until then: retried, counted."""
    for attempt in range(200):
        try:
            update = PurchaseUpdate.model_validate(order(ref))
            await handle.execute_update(BeneficiaryJourney.purchase, update, id=f"purchase-{ref}-{attempt}")
            return
        except WorkflowUpdateFailedError as err:
            if not (isinstance(err.cause, ApplicationError) and err.cause.type == ProblemCode.NOT_AWARDED):
                raise
            stats.purchase_retries += 1
            await asyncio.sleep(0.1)


async def answer_surveys(handle: WorkflowHandle, windows: list[dict[str, Any]], stats: Stats) -> None:
    """Each survey just after its window opens; a window already closed counts as missed."""
    for window in windows:
        opens, closes = datetime.fromisoformat(window["opens_at"]), datetime.fromisoformat(window["closes_at"])
        await asyncio.sleep(max((opens - datetime.now(UTC)).total_seconds(), 0) + 0.02)
        if datetime.now(UTC) >= closes:
            stats.missed_windows += 1
            continue
        stats.survey_lag.append((datetime.now(UTC) - opens).total_seconds())
        answer = SurveySignal(survey_no=window["survey_no"], submitted_at=datetime.now(UTC))
        await handle.signal(BeneficiaryJourney.survey_submitted, answer)
