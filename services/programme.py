"""The programme in numbers for `/metrics`: grouped counts over the projection and the payment ledger."""

from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import PaymentStatus
from db.models import Beneficiary, Payment

NO_PARTNER = "none"  # a payment not yet sent has no partner


@dataclass(frozen=True)
class PaymentCount:
    kind: str
    status: str
    partner: str
    count: int
    paid_rupiah: int


@dataclass(frozen=True)
class ProgrammeCounts:
    journeys: dict[str, int] = field(default_factory=dict)  # status -> journeys
    payments: list[PaymentCount] = field(default_factory=list)


async def programme_counts(session: AsyncSession) -> ProgrammeCounts:
    """Two grouped queries (journeys by status; payments by kind, status and partner with the rupiah paid),
    never a walk over journeys."""
    journeys = await session.execute(select(Beneficiary.status, func.count()).group_by(Beneficiary.status))
    paid = func.coalesce(func.sum(case((Payment.status == PaymentStatus.PAID, Payment.amount), else_=0)), 0)
    partner = func.coalesce(Payment.partner_client_code, NO_PARTNER)
    payments = await session.execute(
        select(Payment.kind, Payment.status, partner, func.count(), paid).group_by(
            Payment.kind, Payment.status, partner
        )
    )
    return ProgrammeCounts(
        journeys={status: count for status, count in journeys.all()},
        payments=[PaymentCount(k, s, p, int(n), int(r)) for k, s, p, n, r in payments.all()],
    )
