"""A payment partner's callback: the outcome of one disbursement attempt, delivered to the payment's workflow."""

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.payments import AttemptStatus, AttemptStatusSignal, CallbackStatus, payment_workflow_id
from core.problems import ProblemCode
from db.models import PaymentAttempt
from db.session import rows_matched
from services.errors import Refused
from workflows.disbursement import Disbursement


@dataclass(frozen=True)
class AttemptOutcome:
    attempt_id: str
    partner_client_code: str  # the calling partner
    status: CallbackStatus
    reason: str | None = None
    partner_reference: str | None = None


async def attempt_for(session: AsyncSession, cmd: AttemptOutcome) -> PaymentAttempt:
    """The attempt (404 ATTEMPT_NOT_FOUND), if it was sent to the calling partner (403 FORBIDDEN_PARTNER)."""
    attempt = await session.get(PaymentAttempt, cmd.attempt_id)
    if attempt is None:
        raise Refused(404, ProblemCode.ATTEMPT_NOT_FOUND, f"No disbursement attempt {cmd.attempt_id}.")
    if attempt.partner_client_code != cmd.partner_client_code:
        raise Refused(403, ProblemCode.FORBIDDEN_PARTNER, "This attempt was sent to another payment partner.")
    return attempt


async def report_outcome(session: AsyncSession, client: Client, attempt: PaymentAttempt, cmd: AttemptOutcome) -> None:
    """Repeats and late callbacks are harmless: the payment workflow applies each attempt's outcome once and
    never pays again because of a callback."""
    if attempt.status == cmd.status.value:
        return  # already applied: no need to wake the workflow
    signal = AttemptStatusSignal(
        attempt_id=cmd.attempt_id,
        partner_client_code=cmd.partner_client_code,
        status=cmd.status,
        reason=cmd.reason,
        partner_reference=cmd.partner_reference,
    )
    if await _signalled(client, attempt, signal) or not await _without_a_workflow(session, attempt, cmd):
        return
    # The journey may have started the payment's workflow between the signal and that write, and that workflow may
    # have read the attempt before it: it waits for this callback, so it gets it too. Started after the write, it
    # has read the outcome already (a repeat changes nothing); still not started, it will. The outcome is recorded
    # either way: if Temporal is away now, the workflow asks the partner when its callback window ends.
    with contextlib.suppress(Refused):
        await _signalled(client, attempt, signal)


async def _signalled(client: Client, attempt: PaymentAttempt, signal: AttemptStatusSignal) -> bool:
    """Delivered to the payment's workflow; False when none runs."""
    try:
        await client.get_workflow_handle(payment_workflow_id(attempt.payment_id)).signal(
            Disbursement.attempt_status, signal
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The callback could not be delivered; retry.") from err
        return False
    return True


async def _without_a_workflow(session: AsyncSession, attempt: PaymentAttempt, cmd: AttemptOutcome) -> bool:
    """No payment workflow runs. Either none has started yet (the journey's one-activity payment sent the attempt
    and is handing it to a `Disbursement` workflow): the outcome waits on the attempt, where that workflow reads it
    when it opens (True, if this callback's outcome is the one written). Or the payment workflow has finished: a
    success for an attempt closed as failed is an anomaly that reconciliation must see (money may have moved twice),
    anything else an old echo."""
    if attempt.status == AttemptStatus.PENDING:
        written = await session.execute(
            update(PaymentAttempt)
            .where(PaymentAttempt.attempt_id == attempt.attempt_id, PaymentAttempt.status == AttemptStatus.PENDING)
            .values(
                status=AttemptStatus(cmd.status.value),
                reason=cmd.reason,
                resolved_at=datetime.now(UTC),
                partner_reference=cmd.partner_reference or attempt.partner_reference,
            )
        )
        await session.commit()
        return rows_matched(written) == 1  # else a concurrent callback wrote its outcome first
    if cmd.status is CallbackStatus.SUCCEEDED and attempt.status == AttemptStatus.FAILED:
        await session.execute(
            update(PaymentAttempt)
            .where(PaymentAttempt.attempt_id == attempt.attempt_id, PaymentAttempt.status == AttemptStatus.FAILED)
            .values(
                status=AttemptStatus.LATE_SUCCEEDED,
                partner_reference=cmd.partner_reference or attempt.partner_reference,
            )
        )
        await session.commit()
    return False
