"""The daily reconciliation report: per payment partner, the ledger's figures next to the partner's statement."""

from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from core.domain import PartnerKind, PaymentStatus
from core.payments import (
    AttemptStatus,
    PartnerStatement,
    ReconcileInput,
    ReconcileResult,
    ReconciliationDifference,
    day_bounds,
    reconciliation_id,
)
from core.problems import ProblemCode
from db.models import Partner, Payment, PaymentAttempt
from services.errors import Refused
from workflows.reconciliation import Reconciliation

REPORT_TIMEOUT = timedelta(seconds=90)


class PartnerReconciliation(BaseModel):
    partner_client_code: str
    paid_count: int = Field(description="Ledger: payments paid through this partner on the day (UTC).")
    paid_sum: int
    on_hold: int = Field(description="Ledger: payments at this partner on hold now.")
    failed: int = Field(description="Ledger: attempts at this partner that failed on the day.")
    partner_available: bool
    partner_paid_count: int | None = Field(description="The partner's statement: SUCCEEDED disbursements that day.")
    partner_paid_sum: int | None
    matches: bool
    differences: list[ReconciliationDifference]
    differences_total: int


class ReconciliationReport(BaseModel):
    date: date
    matches: bool
    partners: list[PartnerReconciliation]


@dataclass
class LedgerFigures:
    """What the ledger says of one partner for the day."""

    paid_count: int = 0
    paid_sum: int = 0
    on_hold: int = 0  # now, not on the day
    failed: int = 0  # attempts that failed on the day


async def daily_report(session: AsyncSession, client: Client, task_queue: str, day: date) -> ReconciliationReport:
    """Every payment partner's ledger figures for `day` next to its statement (fetched through its adapter by a
    short workflow), with the differences key by key; 503 RECONCILIATION_UNAVAILABLE when that fails."""
    codes = sorted(await session.scalars(select(Partner.client_code).where(Partner.kind == PartnerKind.PAYMENT)))
    ledger = await ledger_figures(session, day)
    statements = {s.partner_client_code: s for s in (await _statements(client, task_queue, day, codes)).statements}
    partners = [compare(code, ledger.get(code, LedgerFigures()), statements.get(code)) for code in codes]
    return ReconciliationReport(date=day, matches=all(p.matches for p in partners), partners=partners)


def compare(code: str, ledger: LedgerFigures, stmt: PartnerStatement | None) -> PartnerReconciliation:
    """One partner's line: it matches when the partner answered with the ledger's count and sum and no
    difference."""
    available = stmt is not None and stmt.available
    return PartnerReconciliation(
        partner_client_code=code,
        paid_count=ledger.paid_count,
        paid_sum=ledger.paid_sum,
        on_hold=ledger.on_hold,
        failed=ledger.failed,
        partner_available=available,
        partner_paid_count=stmt.count if available and stmt else None,
        partner_paid_sum=stmt.total if available and stmt else None,
        matches=bool(
            available
            and stmt
            and (stmt.count, stmt.total, stmt.differences_total) == (ledger.paid_count, ledger.paid_sum, 0)
        ),
        differences=stmt.differences if stmt else [],
        differences_total=stmt.differences_total if stmt else 0,
    )


async def ledger_figures(session: AsyncSession, day: date) -> dict[str, LedgerFigures]:
    """Partner client code → its figures, from the ledger ("" for paid or held payments without a partner)."""
    start, end = day_bounds(day)
    paid = await session.execute(
        select(Payment.partner_client_code, func.count(), func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.status == PaymentStatus.PAID, Payment.paid_at >= start, Payment.paid_at < end)
        .group_by(Payment.partner_client_code)
    )
    held = await session.execute(
        select(Payment.partner_client_code, func.count())
        .where(Payment.status == PaymentStatus.ON_HOLD)
        .group_by(Payment.partner_client_code)
    )
    failed = await session.execute(
        select(PaymentAttempt.partner_client_code, func.count())
        .where(
            PaymentAttempt.status == AttemptStatus.FAILED,
            PaymentAttempt.resolved_at >= start,
            PaymentAttempt.resolved_at < end,
        )
        .group_by(PaymentAttempt.partner_client_code)
    )
    figures: dict[str, LedgerFigures] = {}
    for code, count, total in paid:
        line = figures.setdefault(code or "", LedgerFigures())
        line.paid_count, line.paid_sum = count, int(total)
    for code, count in held:
        figures.setdefault(code or "", LedgerFigures()).on_hold = count
    for code, count in failed:
        figures.setdefault(code, LedgerFigures()).failed = count
    return figures


async def _statements(client: Client, task_queue: str, day: date, codes: list[str]) -> ReconcileResult:
    """The partners' statements, through the Reconciliation workflow (the API never calls adapters)."""
    if not codes:
        return ReconcileResult(day=day, statements=[])
    try:
        return await client.execute_workflow(
            Reconciliation.run,
            ReconcileInput(day=day, partner_client_codes=sorted(codes)),
            id=reconciliation_id(day),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            execution_timeout=REPORT_TIMEOUT,
        )
    except (WorkflowFailureError, RPCError, RuntimeError) as err:  # RuntimeError: the client could not connect at all
        raise Refused(
            503, ProblemCode.RECONCILIATION_UNAVAILABLE, "The partners' statements could not be fetched."
        ) from err
