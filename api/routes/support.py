"""Support staff: payments by status, retrying a payment on hold, clawbacks, and the daily reconciliation report."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.audit import add_audit_detail
from api.deps import SessionDep, SettingsDep, SupportDep, SupportOrOperatorDep, TemporalDep
from api.errors import ProblemError, problem_responses
from core.domain import PartnerKind, PaymentKind, PaymentStatus
from core.payments import (
    AttemptStatus,
    ReconcileInput,
    ReconcileResult,
    ReconciliationDifference,
    day_bounds,
    reconciliation_id,
)
from core.problems import ProblemCode
from db.models import Partner, Payment, PaymentAttempt
from services import clawbacks
from services.clawbacks import ClawbackPage
from services.payments import RetryPayment, execute_retry, plan_retry
from workflows.reconciliation import Reconciliation

router = APIRouter(prefix="/v1/support", tags=["support"], responses=problem_responses(401, 403, 422))

REPORT_TIMEOUT = timedelta(seconds=90)


class PaymentItem(BaseModel):
    payment_id: str
    registration_id: str
    kind: PaymentKind
    number: int
    amount: int
    status: PaymentStatus
    reason: str | None
    partner_client_code: str | None
    attempts: int


class PaymentPage(BaseModel):
    items: list[PaymentItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    partner_client_code: str | None = Field(None, min_length=1, max_length=64)
    account_number: str | None = Field(None, pattern=r"^[0-9A-Za-z-]{4,64}$")


class RetryAccepted(BaseModel):
    payment_id: str
    status: PaymentStatus = PaymentStatus.PENDING


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


@router.get("/payments", response_model=PaymentPage)
async def list_payments(
    session: SessionDep,
    staff: SupportOrOperatorDep,
    status_: Annotated[PaymentStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> PaymentPage:
    """Payments (optionally of one status) with reason, partner and attempts, paged by payment id."""
    query = select(Payment).order_by(Payment.payment_id).limit(limit + 1)
    if status_ is not None:
        query = query.where(Payment.status == status_)
    if cursor:
        query = query.where(Payment.payment_id > cursor)
    rows = list(await session.scalars(query))
    items = [PaymentItem.model_validate(p, from_attributes=True) for p in rows[:limit]]
    return PaymentPage(items=items, next_cursor=items[-1].payment_id if len(rows) > limit else None)


@router.get("/clawbacks", response_model=ClawbackPage)
async def list_clawbacks(
    session: SessionDep,
    staff: SupportOrOperatorDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> ClawbackPage:
    """What revoked beneficiaries had been paid (amount and payment ids, with the revocation's reason), paged by
    registration id."""
    return await clawbacks.list_clawbacks(session, limit, cursor)


@router.post(
    "/payments/{payment_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(404, 409, 503),
)
async def retry_payment(
    payment_id: str,
    session: SessionDep,
    client: TemporalDep,
    staff: SupportDep,
    request: Request,
    body: RetryRequest | None = None,
) -> RetryAccepted:
    """Retry a payment on hold, optionally to another partner/account (which must pass the partner's e-KYC).
    Without either, the beneficiary's currently linked account is used if it changed since."""
    body = body or RetryRequest()
    cmd = RetryPayment(payment_id, staff.staff_id, body.partner_client_code, body.account_number)
    add_audit_detail(request, payment_id=payment_id, requested_by=staff.staff_id)
    plan = await plan_retry(session, cmd)
    add_audit_detail(request, partner_client_code=plan.partner_client_code)
    await execute_retry(session, client, plan)
    return RetryAccepted(payment_id=payment_id)


@router.get("/reconciliation", response_model=ReconciliationReport, responses=problem_responses(503))
async def reconciliation(
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    staff: SupportOrOperatorDep,
    day: Annotated[date | None, Query(alias="date", description="UTC day, YYYY-MM-DD (default: today)")] = None,
) -> ReconciliationReport:
    """Per payment partner: what the ledger says was paid that UTC day next to the partner's own statement
    (fetched through its adapter by a short workflow), with the differences key by key."""
    day = day or datetime.now(UTC).date()
    codes = list(await session.scalars(select(Partner.client_code).where(Partner.kind == PartnerKind.PAYMENT)))
    ledger = await _ledger_figures(session, day)
    statements = {
        s.partner_client_code: s for s in (await _statements(client, settings.task_queue, day, codes)).statements
    }
    partners = []
    for code in sorted(codes):
        paid_count, paid_sum, on_hold, failed = ledger.get(code, (0, 0, 0, 0))
        stmt = statements.get(code)
        available = stmt is not None and stmt.available
        partners.append(
            PartnerReconciliation(
                partner_client_code=code,
                paid_count=paid_count,
                paid_sum=paid_sum,
                on_hold=on_hold,
                failed=failed,
                partner_available=available,
                partner_paid_count=stmt.count if available and stmt else None,
                partner_paid_sum=stmt.total if available and stmt else None,
                matches=bool(
                    available and stmt and (stmt.count, stmt.total, stmt.differences_total) == (paid_count, paid_sum, 0)
                ),
                differences=stmt.differences if stmt else [],
                differences_total=stmt.differences_total if stmt else 0,
            )
        )
    return ReconciliationReport(date=day, matches=all(p.matches for p in partners), partners=partners)


async def _ledger_figures(session: AsyncSession, day: date) -> dict[str, tuple[int, int, int, int]]:
    """partner → (paid count, paid sum, on hold now, failed attempts that day), from the ledger."""
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
    figures: dict[str, list[int]] = {}
    for code, count, total in paid:
        figures.setdefault(code or "", [0, 0, 0, 0])[0:2] = [count, int(total)]
    for code, count in held:
        figures.setdefault(code or "", [0, 0, 0, 0])[2] = count
    for code, count in failed:
        figures.setdefault(code, [0, 0, 0, 0])[3] = count
    return {code: (v[0], v[1], v[2], v[3]) for code, v in figures.items()}


async def _statements(client: Client, task_queue: str, day: date, codes: list[str]) -> ReconcileResult:
    """The partners' statements, through the Reconciliation workflow (routes never call adapters)."""
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
    except (WorkflowFailureError, RPCError) as err:
        raise ProblemError(
            503, ProblemCode.RECONCILIATION_UNAVAILABLE, "The partners' statements could not be fetched."
        ) from err
