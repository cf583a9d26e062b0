"""Reconciliation: one partner's own statement for a UTC day, next to what the ledger says was paid."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from adapters.payment import DisbursementStatus, PaymentGateway, StatementLine
from core.domain import PaymentStatus
from core.payments import AttemptStatus, PartnerStatement, ReconcilePartnerInput, ReconciliationDifference, day_bounds
from db.models import Payment, PaymentAttempt

# A report lists this many differences per partner (and counts all of them).
MAX_DIFFERENCES = 100
_IN_BATCH = 500


class ReconciliationActivities:
    def __init__(self, gateway: PaymentGateway, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.gateway = gateway
        self.sessions = sessions

    @activity.defn
    async def reconcile_partner(self, input: ReconcilePartnerInput) -> PartnerStatement:
        """Fetch the partner's statement and compare it, key by key and amount by amount, with the ledger's
        payments of that day."""
        lines = await self.gateway.statement(input.partner_client_code, input.day)
        paid_by_partner = {line.idempotency_key: line for line in lines if line.status is DisbursementStatus.SUCCEEDED}
        async with self.sessions() as session:
            paid_in_ledger = await _paid_that_day(session, input.partner_client_code, input.day)
            unmatched = [key for key in paid_by_partner if key not in paid_in_ledger]
            known = await _attempt_statuses(session, unmatched)
        differences = [_partner_only(paid_by_partner[key], known.get(key)) for key in unmatched]
        differences += [
            ReconciliationDifference(
                idempotency_key=key, kind="MISSING_AT_PARTNER", ledger_status=PaymentStatus.PAID, amount=amount
            )
            for key, amount in paid_in_ledger.items()
            if key not in paid_by_partner
        ]
        differences += [
            _amount_mismatch(paid_by_partner[key], amount)
            for key, amount in paid_in_ledger.items()
            if key in paid_by_partner and paid_by_partner[key].amount != amount
        ]
        return PartnerStatement(
            partner_client_code=input.partner_client_code,
            count=len(paid_by_partner),
            total=sum(line.amount for line in paid_by_partner.values()),
            differences=differences[:MAX_DIFFERENCES],
            differences_total=len(differences),
        )


async def _paid_that_day(session: AsyncSession, partner: str, day: date) -> dict[str, int]:
    """Idempotency key → amount of the succeeded attempts whose payment the ledger marks paid on `day`."""
    start, end = day_bounds(day)
    rows = await session.execute(
        select(PaymentAttempt.idempotency_key, PaymentAttempt.amount)
        .join(Payment, Payment.payment_id == PaymentAttempt.payment_id)
        .where(
            PaymentAttempt.partner_client_code == partner,
            PaymentAttempt.status == AttemptStatus.SUCCEEDED,
            Payment.status == PaymentStatus.PAID,
            Payment.paid_at >= start,
            Payment.paid_at < end,
        )
    )
    return {key: amount for key, amount in rows}


async def _attempt_statuses(session: AsyncSession, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for i in range(0, len(keys), _IN_BATCH):
        batch = keys[i : i + _IN_BATCH]
        rows = await session.execute(
            select(PaymentAttempt.idempotency_key, PaymentAttempt.status).where(
                PaymentAttempt.idempotency_key.in_(batch)
            )
        )
        found.update({key: status for key, status in rows})
    return found


def _amount_mismatch(line: StatementLine, ledger_amount: int) -> ReconciliationDifference:
    """The partner credited another amount than the ledger sent under that key (a fee kept along the way)."""
    return ReconciliationDifference(
        idempotency_key=line.idempotency_key,
        kind="AMOUNT_MISMATCH",
        ledger_status=PaymentStatus.PAID,
        partner_status=line.status,
        amount=ledger_amount - line.amount,
        ledger_amount=ledger_amount,
        partner_amount=line.amount,
    )


def _partner_only(line: StatementLine, ledger_status: str | None) -> ReconciliationDifference:
    """The partner paid a key the ledger does not count as paid that day; say why."""
    kinds: dict[str | None, str] = {
        None: "UNKNOWN_TO_LEDGER",
        AttemptStatus.SUCCEEDED: "OTHER_DAY",  # paid, but the ledger dates it on another UTC day
        AttemptStatus.LATE_SUCCEEDED: "LATE_SUCCESS",
    }
    kind = kinds.get(ledger_status, "NOT_PAID_IN_LEDGER")
    return ReconciliationDifference(
        idempotency_key=line.idempotency_key,
        kind=kind,
        ledger_status=ledger_status,
        partner_status=line.status,
        amount=line.amount,
    )
