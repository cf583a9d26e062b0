"""Writes to the beneficiary projection, made by the activity that caused the change."""

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.cards import new_card_number
from core.contracts import SurveyWindow, survey_windows
from core.domain import BalanceEntryKind, JourneyStatus, PurchaseStatus
from core.terms import ProgrammeTerms
from db.models import BalanceEntry, Beneficiary, Purchase
from db.session import rows_matched

# Keys of `Beneficiary.detail` the survey windows live under: the windows the API checks answers against, whether
# the API records them with the first completion (set by the purchases of journeys that ask for it), their anchor.
SURVEYS = "surveys"
SURVEYS_AT_COMPLETION = "surveys_at_completion"
SURVEYS_FROM = "surveys_from"


async def set_status(
    session: AsyncSession,
    registration_id: str,
    status: JourneyStatus,
    reasons: list[str] | None = None,
    **fields: Any,
) -> None:
    values: dict[str, Any] = {"status": status.value, **fields}
    if reasons is not None:
        values["reasons"] = list(reasons)
    await session.execute(update(Beneficiary).where(Beneficiary.registration_id == registration_id).values(**values))


async def get(session: AsyncSession, registration_id: str) -> Beneficiary | None:
    return await session.get(Beneficiary, registration_id)


async def update_unless_revoked(session: AsyncSession, registration_id: str, **values: Any) -> Beneficiary | None:
    """Write `values` for a step that may finish after its journey was revoked, unless it was (a late check
    must not put a revoked applicant back in VERIFYING or the pool); returns the row for further writes in this
    transaction, or None. One conditional statement: SQLite ignores FOR UPDATE and its driver runs a bare SELECT
    outside the transaction, so a revocation committed between a read and the write would be overwritten."""
    written = await session.execute(
        update(Beneficiary)
        .where(Beneficiary.registration_id == registration_id, Beneficiary.status != JourneyStatus.REVOKED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if rows_matched(written) != 1:
        return None
    # The write holds the row (PostgreSQL) or the database (SQLite) until commit: this read is current.
    return await session.get(Beneficiary, registration_id, populate_existing=True)


async def award(session: AsyncSession, beneficiary: Beneficiary, wave_id: str, terms: ProgrammeTerms) -> str:
    """Issue the card and credit the training balance, on a row that has no card yet and that the caller holds for
    this write (a collision of card numbers fails the write: try again); the card's number."""
    beneficiary.prakerja_number = card = new_card_number()
    session.add(
        BalanceEntry(
            registration_id=beneficiary.registration_id,
            kind=BalanceEntryKind.AWARD,
            amount=terms.training_balance,
            reference=wave_id,
        )
    )
    beneficiary.status = JourneyStatus.AWARDED
    beneficiary.balance = terms.training_balance
    beneficiary.wave_id = wave_id
    beneficiary.in_pool = False
    beneficiary.profile = terms.profile
    await remember(session, beneficiary, "terms", terms.model_dump(mode="json"))
    return card


async def remember(session: AsyncSession, beneficiary: Beneficiary, key: str, value: Any) -> None:
    """Record an activity's outcome on the row so a retried activity returns it instead of redoing it."""
    beneficiary.detail = {**(beneficiary.detail or {}), key: value}


async def survey_anchor(session: AsyncSession, registration_id: str, now: datetime) -> datetime | None:
    """When the survey windows of a journey that takes them from the API open: fixed at `now` with the beneficiary's
    first completed training, the same on every later call; None for a journey that publishes its own. Call it in
    the write that completed the purchase: that write holds the database (SQLite), and the row is locked here
    (PostgreSQL), so two completions at once fix one anchor. The windows are recorded once the journey has been told
    (`record_survey_windows`): none can be answered before the journey can pay it."""
    beneficiary = await locked(session, registration_id)
    if beneficiary is None or not (detail := beneficiary.detail or {}).get(SURVEYS_AT_COMPLETION):
        return None
    if (anchor := detail.get(SURVEYS_FROM)) is not None:
        return datetime.fromisoformat(anchor)
    if SURVEYS in detail or beneficiary.status not in (JourneyStatus.AWARDED, JourneyStatus.TRAINING):
        # Published by the journey (a completion reached it without the anchor), or no incentive phase can begin:
        # the journey has ended (a completion after the programme's close) or is not in training.
        return None
    beneficiary.detail = {**detail, SURVEYS_FROM: now.isoformat()}
    return now


async def record_survey_windows(session: AsyncSession, registration_id: str) -> None:
    """The journey has been told of the completion (its signal landed): record the survey windows counted from the
    anchor, which the API checks answers against, and move the beneficiary to INCENTIVES (once)."""
    beneficiary = await locked(session, registration_id)
    if beneficiary is None or SURVEYS in (detail := beneficiary.detail or {}) or SURVEYS_FROM not in detail:
        return
    if beneficiary.status not in (JourneyStatus.AWARDED, JourneyStatus.TRAINING):
        return  # revoked or ended meanwhile: no incentive phase
    anchor = datetime.fromisoformat(detail[SURVEYS_FROM])
    show_survey_windows(beneficiary, survey_windows(ProgrammeTerms.model_validate(detail["terms"]), anchor))


def show_survey_windows(beneficiary: Beneficiary, windows: list[SurveyWindow]) -> None:
    """Record the survey windows the API checks answers against (keeping answers already recorded) and move a
    beneficiary still in training to INCENTIVES."""
    detail = beneficiary.detail or {}
    known = {s["survey_no"]: s for s in detail.get(SURVEYS, [])}
    beneficiary.detail = {
        **detail,
        SURVEYS: [
            {**w.model_dump(mode="json"), "submitted_at": known.get(w.survey_no, {}).get("submitted_at")}
            for w in windows
        ],
    }
    if beneficiary.status in (JourneyStatus.AWARDED, JourneyStatus.TRAINING):
        beneficiary.status = JourneyStatus.INCENTIVES


async def held_status(session: AsyncSession, registration_id: str) -> str | None:
    """The beneficiary's status alone, its row locked for update as `locked` locks it, for a writer that needs the
    lock (taken before the rows it writes, in the order a revocation takes them) and not the row."""
    return await session.scalar(
        select(Beneficiary.status).where(Beneficiary.registration_id == registration_id).with_for_update()
    )


async def locked(session: AsyncSession, registration_id: str) -> Beneficiary | None:
    """The beneficiary's row, read as it stands and locked for update (PostgreSQL; SQLite's write lock is the
    transaction's first write) until the transaction ends."""
    return await session.get(Beneficiary, registration_id, with_for_update=True, populate_existing=True)


async def balance_of(session: AsyncSession, registration_id: str) -> int:
    rows = await session.scalars(select(BalanceEntry.amount).where(BalanceEntry.registration_id == registration_id))
    return sum(rows)


async def cancel_open_purchase(session: AsyncSession, purchase: Purchase) -> bool:
    """Cancel a purchase still PURCHASED and refund its price; False if it was not (already cancelled, or
    completed). Conditional, so a completion committed since the purchase was read is never overwritten."""
    cancelled = await session.execute(
        update(Purchase)
        .where(Purchase.purchase_ref == purchase.purchase_ref, Purchase.status == PurchaseStatus.PURCHASED)
        .values(status=PurchaseStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    if rows_matched(cancelled) != 1:
        return False
    session.add(
        BalanceEntry(
            registration_id=purchase.registration_id,
            kind=BalanceEntryKind.REFUND,
            amount=purchase.price,
            reference=purchase.purchase_ref,
        )
    )
    return True


async def return_to_treasury(session: AsyncSession, registration_id: str, reference: str) -> int:
    """Book what is left of the training balance back to the treasury (once per reference); returns it."""
    remaining = await balance_of(session, registration_id)
    if remaining > 0:
        session.add(
            BalanceEntry(
                registration_id=registration_id,
                kind=BalanceEntryKind.TREASURY_RETURN,
                amount=-remaining,
                reference=reference,
            )
        )
    return remaining
