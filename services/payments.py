"""Support's retry of a payment on hold: planned (shown for confirmation), then executed by the payment's workflow."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.domain import PartnerKind, PaymentStatus
from core.payments import RetryOutcome, RetryPaymentInput, RetryPaymentResult, payment_workflow_id
from core.problems import ProblemCode
from db.models import Beneficiary, Partner, Payment
from services.errors import Refused
from services.paging import NOT_OURS, decode_cursor, encode_cursor
from workflows.disbursement import Disbursement


@dataclass(frozen=True)
class RetryPayment:
    payment_id: str
    requested_by: str  # staff id
    partner_client_code: str | None = None
    account_number: str | None = None


@dataclass(frozen=True)
class RetryPlan:
    """What a retry will do: the payment as it stands and where the money goes (None: where it went before)."""

    payment: Payment
    partner_client_code: str | None
    account_number: str | None
    requested_by: str

    @property
    def moves(self) -> bool:
        return self.partner_client_code is not None


async def plan_retry(session: AsyncSession, cmd: RetryPayment) -> RetryPlan:
    """Check the payment is on hold and resolve the target; without a new account, the beneficiary's
    currently linked account is used if it changed since the payment was sent."""
    payment = await session.get(Payment, cmd.payment_id)
    if payment is None:
        raise Refused(404, ProblemCode.PAYMENT_NOT_FOUND, f"No payment {cmd.payment_id}.")
    partner, account = await _target(session, payment, cmd)
    plan = RetryPlan(payment, partner, account, cmd.requested_by)
    if payment.status != PaymentStatus.ON_HOLD:
        raise Refused(409, ProblemCode.PAYMENT_NOT_ON_HOLD, f"The payment is {payment.status}, not ON_HOLD.")
    return plan


async def execute_retry(session: AsyncSession, client: Client, plan: RetryPlan) -> RetryPaymentResult:
    """Ask the payment's workflow to retry (it re-checks the hold and runs the new account's e-KYC)."""
    payment = plan.payment
    retry = RetryPaymentInput(
        partner_client_code=plan.partner_client_code,
        account_number=plan.account_number,
        requested_by=plan.requested_by,
    )
    # A fresh update id per request: the workflow's validator already admits one retry per hold, and a refusal
    # (e-KYC failed, partner unavailable) must be asked again next time, not replayed from the first answer.
    update_id = f"retry-{payment.attempts}-{uuid.uuid4().hex}"
    result = await _execute(client, payment.payment_id, retry, update_id)
    if result.outcome is RetryOutcome.EKYC_FAILED:
        raise Refused(
            422,
            ProblemCode.EKYC_FAILED,
            f"The partner's e-KYC refused the account: {result.reason}.",
            extra={"reason": result.reason},
        )
    if result.outcome is RetryOutcome.PARTNER_UNAVAILABLE:
        raise Refused(
            503, ProblemCode.PARTNER_UNAVAILABLE, "The payment partner could not verify the account; retry later."
        )
    await _follow_to_new_account(session, payment, plan.partner_client_code, plan.account_number)
    return result


async def _follow_to_new_account(
    session: AsyncSession, payment: Payment, partner: str | None, account: str | None
) -> None:
    """The journey now pays later instalments to the account support moved this one to (it passed e-KYC),
    unless the beneficiary linked another meanwhile; the projection says the same."""
    if partner is None or account is None:
        return
    await session.execute(
        update(Beneficiary)
        .where(
            Beneficiary.registration_id == payment.registration_id,
            Beneficiary.payment_partner == payment.partner_client_code,
            Beneficiary.payment_account == payment.account_number,
        )
        .values(payment_partner=partner, payment_account=account)
    )
    await session.commit()


async def _target(session: AsyncSession, payment: Payment, cmd: RetryPayment) -> tuple[str | None, str | None]:
    """Where the retry goes: as asked, else the beneficiary's linked account if it differs, else unchanged."""
    if cmd.account_number and not cmd.partner_client_code:
        raise Refused(422, ProblemCode.PARTNER_REQUIRED, "An account number needs its partner_client_code.")
    if cmd.partner_client_code:
        found = await session.get(Partner, cmd.partner_client_code)
        if found is None or found.kind != PartnerKind.PAYMENT:
            raise Refused(422, ProblemCode.UNKNOWN_PAYMENT_PARTNER, f"No payment partner {cmd.partner_client_code}.")
        return cmd.partner_client_code, cmd.account_number
    beneficiary = await session.get(Beneficiary, payment.registration_id)
    if beneficiary and beneficiary.payment_partner and beneficiary.payment_account:
        linked = (beneficiary.payment_partner, beneficiary.payment_account)
        if linked != (payment.partner_client_code, payment.account_number):
            return linked
    return None, None


async def _execute(client: Client, payment_id: str, retry: RetryPaymentInput, update_id: str) -> RetryPaymentResult:
    handle = client.get_workflow_handle(payment_workflow_id(payment_id))
    try:
        return await handle.execute_update(Disbursement.retry, retry, id=update_id)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == ProblemCode.PARTNER_STILL_PENDING:
            raise Refused(409, ProblemCode.PARTNER_STILL_PENDING, cause.message) from None
        # The workflow's validator is the authority: the payment left ON_HOLD (paid, retried or cancelled).
        raise Refused(409, ProblemCode.PAYMENT_NOT_ON_HOLD, "The payment is no longer on hold.") from None
    except RuntimeError as err:  # the client could not (re)connect at all
        raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The retry could not be delivered; try again.") from err
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise Refused(409, ProblemCode.PAYMENT_NOT_ON_HOLD, "The payment is no longer in progress.") from None
        raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The retry could not be delivered; try again.") from err


@dataclass(frozen=True)
class PaymentFilter:
    status: str | None = None
    partner_client_code: str | None = None
    kind: str | None = None


async def newest_payments(
    session: AsyncSession, where: PaymentFilter, limit: int, cursor: str | None = None
) -> tuple[list[Payment], str | None]:
    """A page of payments, newest first, and the cursor of the next page (keyset: stable while rows arrive)."""
    query = select(Payment).order_by(Payment.created_at.desc(), Payment.payment_id.desc()).limit(limit + 1)
    if where.status:
        query = query.where(Payment.status == where.status)
    if where.partner_client_code:
        query = query.where(Payment.partner_client_code == where.partner_client_code)
    if where.kind:
        query = query.where(Payment.kind == where.kind)
    if (after := _parse_cursor(cursor)) is not None:
        at, payment_id = after
        query = query.where(
            or_(Payment.created_at < at, and_(Payment.created_at == at, Payment.payment_id < payment_id))
        )
    rows = list(await session.scalars(query))
    page = rows[:limit]
    more = len(rows) > limit
    return page, (encode_cursor(page[-1].created_at.isoformat(), page[-1].payment_id) if more else None)


def _parse_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    at, payment_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(at), str(payment_id)
    except (ValueError, TypeError):
        raise Refused(422, ProblemCode.INVALID_CURSOR, NOT_OURS) from None


async def payments_by_id(
    session: AsyncSession, status: PaymentStatus | None, limit: int, after: str | None = None
) -> tuple[list[Payment], str | None]:
    """A page of payments (optionally of one status) in payment-id order, and the id to pass as `after` next."""
    query = select(Payment).order_by(Payment.payment_id).limit(limit + 1)
    if status is not None:
        query = query.where(Payment.status == status)
    if after:
        query = query.where(Payment.payment_id > after)
    rows = list(await session.scalars(query))
    page = rows[:limit]
    return page, (page[-1].payment_id if len(rows) > limit else None)


async def payment_partners(session: AsyncSession) -> list[str]:
    """Client codes of the payment partners a retry may move a payment to."""
    query = select(Partner.client_code).where(Partner.kind == PartnerKind.PAYMENT).order_by(Partner.client_code)
    return list(await session.scalars(query))
