"""Support staff: payments by status, retrying a payment on hold, clawbacks, and the daily reconciliation report."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.audit import add_audit_detail
from api.deps import SessionDep, SettingsDep, SupportDep, SupportOrOperatorDep, TemporalDep
from api.errors import problem_responses
from api.schemas import IsoDay
from core.domain import PaymentKind, PaymentStatus
from services import clawbacks
from services.clawbacks import ClawbackPage
from services.payments import RetryPayment, execute_retry, payments_by_id, plan_retry
from services.reconciliation import ReconciliationReport, daily_report

router = APIRouter(prefix="/v1/support", tags=["support"], responses=problem_responses(401, 403, 422))


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


@router.get("/payments", response_model=PaymentPage)
async def list_payments(
    session: SessionDep,
    staff: SupportOrOperatorDep,
    status_: Annotated[PaymentStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> PaymentPage:
    """Payments (optionally of one status) with reason, partner and attempts, paged by payment id."""
    rows, next_cursor = await payments_by_id(session, status_, limit, cursor)
    items = [PaymentItem.model_validate(p, from_attributes=True) for p in rows]
    return PaymentPage(items=items, next_cursor=next_cursor)


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
    day: Annotated[IsoDay | None, Query(alias="date", description="UTC day, YYYY-MM-DD (default: today)")] = None,
) -> ReconciliationReport:
    """Per payment partner: what the ledger says was paid that UTC day next to the partner's own statement
    (fetched through its adapter by a short workflow), with the differences key by key."""
    return await daily_report(session, client, settings.task_queue, day or datetime.now(UTC).date())
