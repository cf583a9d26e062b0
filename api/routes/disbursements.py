"""Payment partners' callbacks: the outcome of one disbursement attempt, signed by that partner."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.audit import add_audit_detail
from api.deps import PaymentPartnerDep, SessionDep, TemporalDep
from api.errors import problem_responses
from core.payments import CallbackStatus
from services import callbacks

router = APIRouter(prefix="/v1/partners", tags=["partner"], responses=problem_responses(401, 403, 404, 422, 503))


class AttemptStatusIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    status: CallbackStatus
    reason: str | None = Field(None, max_length=200)
    partner_reference: str | None = Field(None, max_length=128)


class AttemptStatusAck(BaseModel):
    attempt_id: str
    accepted: bool = True


@router.post("/disbursements/{attempt_id}/status")
async def disbursement_status(
    attempt_id: str,
    body: AttemptStatusIn,
    partner: PaymentPartnerDep,
    session: SessionDep,
    client: TemporalDep,
    request: Request,
) -> AttemptStatusAck:
    """The partner's outcome for one attempt (its idempotency key). Repeats and late callbacks are harmless:
    the payment workflow applies each attempt's outcome once and never pays again because of a callback."""
    cmd = callbacks.AttemptOutcome(attempt_id, partner.client_code, body.status, body.reason, body.partner_reference)
    attempt = await callbacks.attempt_for(session, cmd)
    add_audit_detail(request, payment_id=attempt.payment_id, status=body.status.value)
    await callbacks.report_outcome(session, client, attempt, cmd)
    return AttemptStatusAck(attempt_id=attempt_id)
