"""Payment partners' callbacks: the outcome of one disbursement attempt, signed by that partner."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from temporalio.service import RPCError, RPCStatusCode

from api.audit import add_audit_detail
from api.deps import PaymentPartnerDep, SessionDep, TemporalDep
from api.errors import ProblemError, problem_responses
from core.payments import AttemptStatus, AttemptStatusSignal, CallbackStatus, payment_workflow_id
from core.problems import ProblemCode
from db.models import PaymentAttempt
from workflows.disbursement import Disbursement

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
    attempt = await session.get(PaymentAttempt, attempt_id)
    if attempt is None:
        raise ProblemError(404, ProblemCode.ATTEMPT_NOT_FOUND, f"No disbursement attempt {attempt_id}.")
    if attempt.partner_client_code != partner.client_code:
        raise ProblemError(403, ProblemCode.FORBIDDEN_PARTNER, "This attempt was sent to another payment partner.")
    add_audit_detail(request, payment_id=attempt.payment_id, status=body.status.value)
    if attempt.status == body.status.value:
        return AttemptStatusAck(attempt_id=attempt_id)  # already applied: no need to wake the workflow
    signal = AttemptStatusSignal(
        attempt_id=attempt_id,
        partner_client_code=partner.client_code,
        status=body.status,
        reason=body.reason,
        partner_reference=body.partner_reference,
    )
    try:
        await client.get_workflow_handle(payment_workflow_id(attempt.payment_id)).signal(
            Disbursement.attempt_status, signal
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise ProblemError(
                503, ProblemCode.TEMPORAL_UNAVAILABLE, "The callback could not be delivered; retry."
            ) from err
        await _after_the_payment_closed(session, attempt, body)
    return AttemptStatusAck(attempt_id=attempt_id)


async def _after_the_payment_closed(session: SessionDep, attempt: PaymentAttempt, body: AttemptStatusIn) -> None:
    """The payment workflow has finished; a success for an attempt closed as failed is an anomaly that
    reconciliation must see (money may have moved twice). Anything else is an old echo."""
    if body.status is CallbackStatus.SUCCEEDED and attempt.status == AttemptStatus.FAILED:
        await session.execute(
            update(PaymentAttempt)
            .where(PaymentAttempt.attempt_id == attempt.attempt_id, PaymentAttempt.status == AttemptStatus.FAILED)
            .values(
                status=AttemptStatus.LATE_SUCCEEDED,
                partner_reference=body.partner_reference or attempt.partner_reference,
            )
        )
        await session.commit()
