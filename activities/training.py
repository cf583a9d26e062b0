"""Training-balance moves: purchases debit, cancellations refund, the programme's close returns the rest."""

import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.contracts import (
    CancelPurchaseResult,
    CancelPurchaseUpdate,
    PurchaseResult,
    RecordPurchaseInput,
    ReturnBalanceInput,
    ScheduleSurveysInput,
)
from core.domain import BalanceEntryKind, JourneyStatus, PurchaseStatus
from core.problems import ProblemCode
from db import projection
from db.models import BalanceEntry, Purchase


class TrainingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    async def record_purchase(self, input: RecordPurchaseInput) -> PurchaseResult:
        """Write the purchase and its debit once (keyed by purchase_ref) and refresh the projected balance."""
        p = input.purchase
        async with self.sessions.begin() as session:
            existing = await session.get(Purchase, p.purchase_ref)
            if existing is None:
                session.add(
                    Purchase(
                        purchase_ref=p.purchase_ref,
                        registration_id=input.registration_id,
                        marketplace_client_code=p.marketplace_client_code,
                        provider_client_code=p.provider_client_code,
                        course_id=p.course_id,
                        price=p.price,
                        status=PurchaseStatus.PURCHASED,
                    )
                )
                session.add(_entry(input.registration_id, BalanceEntryKind.PURCHASE, -p.price, p.purchase_ref))
            elif existing.registration_id != input.registration_id:
                raise ApplicationError("purchase_ref belongs to another card", type="InvalidInput", non_retryable=True)
            await session.flush()
            balance = await projection.balance_of(session, input.registration_id)
            b = await projection.get(session, input.registration_id)
            if b is not None:
                b.balance = balance
                if b.status == JourneyStatus.AWARDED:
                    b.status = JourneyStatus.TRAINING
                if input.surveys_at_completion and not (b.detail or {}).get(projection.SURVEYS_AT_COMPLETION):
                    await projection.remember(session, b, projection.SURVEYS_AT_COMPLETION, True)
        return PurchaseResult(purchase_ref=p.purchase_ref, price=p.price, balance_remaining=balance)

    @activity.defn
    async def cancel_purchase(self, input: CancelPurchaseUpdate) -> CancelPurchaseResult:
        """Mark the purchase cancelled and refund its price once."""
        async with self.sessions.begin() as session:
            purchase = await session.get(Purchase, input.purchase_ref)
            if purchase is None:
                raise ApplicationError("unknown purchase", type="InvalidInput", non_retryable=True)
            cancelled = await projection.cancel_open_purchase(session, purchase)
            if not cancelled and await _status(session, input.purchase_ref) == PurchaseStatus.COMPLETED:
                raise ApplicationError(
                    "the training was completed", type=ProblemCode.PURCHASE_COMPLETED, non_retryable=True
                )
            if cancelled:
                await session.flush()
                if input.balance_returned:
                    await projection.return_to_treasury(
                        session, purchase.registration_id, _cancel_ref(input.purchase_ref)
                    )
                    await session.flush()
            balance = await projection.balance_of(session, purchase.registration_id)
            b = await projection.get(session, purchase.registration_id)
            if b is not None:
                b.balance = balance
        return CancelPurchaseResult(purchase_ref=input.purchase_ref, balance_remaining=balance)

    @activity.defn
    async def return_balance(self, input: ReturnBalanceInput) -> int:
        """Return what is left of the training balance to the treasury (once per reference)."""
        async with self.sessions.begin() as session:
            remaining = await projection.return_to_treasury(session, input.registration_id, input.reference)
            fields: dict[str, object] = {"balance": 0}
            if input.status is not None:
                await projection.set_status(session, input.registration_id, input.status, input.reasons, **fields)
            else:
                b = await projection.get(session, input.registration_id)
                if b is not None:
                    b.balance = 0
        return remaining


async def _status(session: AsyncSession, purchase_ref: str) -> str | None:
    return await session.scalar(select(Purchase.status).where(Purchase.purchase_ref == purchase_ref))


def _cancel_ref(purchase_ref: str) -> str:
    """Ledger reference of a refund's return to the treasury; fits the column whatever the partner's ref."""
    reference = f"cancel:{purchase_ref}"
    return reference if len(reference) <= 128 else "cancel:#" + hashlib.sha256(purchase_ref.encode()).hexdigest()


def _entry(registration_id: str, kind: BalanceEntryKind, amount: int, reference: str) -> BalanceEntry:
    return BalanceEntry(registration_id=registration_id, kind=kind, amount=amount, reference=reference)


class SurveyActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    async def schedule_surveys(self, input: ScheduleSurveysInput) -> None:
        """First training completed: publish the survey windows (the API checks submissions against them)."""
        async with self.sessions.begin() as session:
            b = await projection.get(session, input.registration_id)
            if b is not None:
                projection.show_survey_windows(b, input.surveys)
