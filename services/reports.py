"""Programme-office reports: how each payment partner performs (the SLA report).

The cohort is every payment whose first attempt falls in the UTC days [from, to], counted at the partner it
is with now; attempts are counted at the partner each went to. Counting and summing are SQL aggregates;
the percentiles are taken in Python over the finished payments' durations (one number per payment), so SQLite
and PostgreSQL answer alike.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import PartnerKind, PaymentStatus
from core.payments import AttemptStatus, day_bounds
from core.problems import ProblemCode
from db.models import Partner, Payment, PaymentAttempt
from services.errors import Refused

MAX_RANGE_DAYS = 366
# Final as far as the partner's performance goes: paid, or failed for good. CANCELLED is the programme's doing.
FINISHED = (PaymentStatus.PAID, PaymentStatus.FAILED)


@dataclass(frozen=True)
class PartnerSla:
    partner_client_code: str
    attempts: int
    succeeded: int
    failed: int
    success_rate: float | None  # succeeded / (succeeded + failed); None before any attempt is resolved
    p50_seconds_to_final: float | None
    p95_seconds_to_final: float | None
    pending: int
    pending_over_sla: int
    on_hold: int
    paid_rupiah: int


def report_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The days asked for (default: the last 7 days up to today), refused when reversed or too long."""
    end = end or today
    start = start or end - timedelta(days=6)
    if start > end:
        raise Refused(422, ProblemCode.INVALID_RANGE, "`from` is after `to`.")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise Refused(422, ProblemCode.INVALID_RANGE, f"A report covers at most {MAX_RANGE_DAYS} days.")
    return start, end


async def payment_partner_sla(
    session: AsyncSession, start: date, end: date, sla_s: float, now: datetime | None = None
) -> list[PartnerSla]:
    """One row per payment partner (every registered one, in client-code order), for payments first attempted
    in [start, end]; `sla_s` is the wall-clock age past which a pending payment is late."""
    now = now or datetime.now(UTC)
    lo, hi = day_bounds(start)[0], day_bounds(end)[1]
    attempts = await _attempt_counts(session, lo, hi)
    first = (
        select(PaymentAttempt.payment_id, func.min(PaymentAttempt.created_at).label("first_at"))
        .where(PaymentAttempt.created_at < hi)
        .group_by(PaymentAttempt.payment_id)
        .having(func.min(PaymentAttempt.created_at) >= lo)
        .subquery()
    )
    late_before = now - timedelta(seconds=sla_s)
    pending = Payment.status == PaymentStatus.PENDING
    rows = await session.execute(
        select(
            Payment.partner_client_code,
            func.count().filter(pending),
            func.count().filter(pending, first.c.first_at < late_before),
            func.count().filter(Payment.status == PaymentStatus.ON_HOLD),
            func.coalesce(func.sum(case((Payment.status == PaymentStatus.PAID, Payment.amount), else_=0)), 0),
        )
        .join(first, first.c.payment_id == Payment.payment_id)
        .group_by(Payment.partner_client_code)
    )
    cohort = {code: (p, late, held, int(paid)) for code, p, late, held, paid in rows.all()}
    finished_at = case((Payment.status == PaymentStatus.PAID, Payment.paid_at), else_=Payment.updated_at)
    durations: dict[str, list[float]] = {}
    for code, first_at, final_at in await session.execute(
        select(Payment.partner_client_code, first.c.first_at, finished_at)
        .join(first, first.c.payment_id == Payment.payment_id)
        .where(Payment.status.in_(FINISHED))
    ):
        durations.setdefault(code, []).append(max((_utc(final_at) - _utc(first_at)).total_seconds(), 0.0))
    codes = await session.scalars(
        select(Partner.client_code).where(Partner.kind == PartnerKind.PAYMENT).order_by(Partner.client_code)
    )
    return [_row(code, attempts.get(code, (0, 0, 0)), cohort.get(code), durations.get(code, [])) for code in codes]


async def _attempt_counts(session: AsyncSession, lo: datetime, hi: datetime) -> dict[str, tuple[int, int, int]]:
    succeeded = PaymentAttempt.status.in_((AttemptStatus.SUCCEEDED, AttemptStatus.LATE_SUCCEEDED))
    rows = await session.execute(
        select(
            PaymentAttempt.partner_client_code,
            func.count(),
            func.count().filter(succeeded),
            func.count().filter(PaymentAttempt.status == AttemptStatus.FAILED),
        )
        .where(PaymentAttempt.created_at >= lo, PaymentAttempt.created_at < hi)
        .group_by(PaymentAttempt.partner_client_code)
    )
    return {code: (n, ok, bad) for code, n, ok, bad in rows.all()}


def _row(
    code: str, attempts: tuple[int, int, int], cohort: tuple[int, int, int, int] | None, durations: list[float]
) -> PartnerSla:
    n, ok, bad = attempts
    pending, late, held, paid = cohort or (0, 0, 0, 0)
    durations.sort()
    return PartnerSla(
        partner_client_code=code,
        attempts=n,
        succeeded=ok,
        failed=bad,
        success_rate=round(ok / (ok + bad), 4) if ok + bad else None,
        p50_seconds_to_final=percentile(durations, 0.5),
        p95_seconds_to_final=percentile(durations, 0.95),
        pending=pending,
        pending_over_sla=late,
        on_hold=held,
        paid_rupiah=paid,
    )


def percentile(ordered: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont), over sorted values."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 3)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
