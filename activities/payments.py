"""Payment side effects: the ledger rows, one partner call per method, the beneficiary's on-hold projection.

Partner calls (`pay`, `disburse`, `check_status`, `verify_account`) run on the partner's own task queue; ledger
writes run on the journey queue. The journey's common path, `pay_in_worker`, runs as a local activity of the
journey's own worker, within the partner's budget. Every method is idempotent: a retried activity finds its own
earlier write, and the partner dedupes a repeated disbursement by its idempotency key (the attempt id).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.errors import DuplicateKey, PartnerError, PartnerRejected, PartnerTimeout
from adapters.payment import DisbursementResult, DisburseRequest, PaymentGateway
from core.contracts import LinkAccountResult
from core.domain import FINAL_STATUSES, JourneyStatus, PaymentStatus
from core.payments import (
    AttemptAnswer,
    AttemptInput,
    AttemptStatus,
    CancelPaymentInput,
    CheckStatusInput,
    DisburseInput,
    LastAttempt,
    OpenPaymentInput,
    OpenPaymentResult,
    PartnerAnswer,
    PaymentReason,
    PayResult,
    SettleAttemptInput,
    VerifyAccountInput,
    attempt_id_for,
)
from core.ratestore import MemoryRateStore, RateStore
from db import projection
from db.models import Beneficiary, Clawback, Payment, PaymentAttempt

log = logging.getLogger(__name__)

# A partner's payments per second from the journeys' workers when the composition root sets none (tests, tools).
DEFAULT_DIRECT_RATE_PER_S = 10.0
# Where the beneficiary's status before its first payment hold is kept, to restore it once nothing is on hold.
STATUS_BEFORE_HOLD = "status_before_payment_hold"


def callback_url(base_url: str, attempt_id: str) -> str:
    return f"{base_url.rstrip('/')}/v1/partners/disbursements/{attempt_id}/status"


def _answer(result: DisbursementResult | None) -> AttemptAnswer:
    if result is None:
        return AttemptAnswer(answer=PartnerAnswer.NOT_RECEIVED)
    return AttemptAnswer(
        answer=PartnerAnswer(result.status.value), reason=result.reason, partner_reference=result.partner_reference
    )


@dataclass(frozen=True)
class PartnerBudget:
    """How many payments per second each partner takes from the journeys' workers directly (`pay_in_worker`), counted
    in `store`: in Redis one budget for every worker process, in memory one per process. What a spent budget turns
    away queues on the partner's task queue, whose server-side rate is the partner's other share."""

    per_s: float
    store: RateStore

    async def admits(self, partner_client_code: str) -> bool:
        return await self.store.hit(f"prakerja:partner-calls:{partner_client_code}", self.per_s, 1.0) == 0


class PaymentActivities:
    def __init__(
        self,
        gateway: PaymentGateway,
        sessions: async_sessionmaker[AsyncSession],
        callback_base_url: str,
        budget: PartnerBudget | None = None,
    ) -> None:
        self.gateway = gateway
        self.sessions = sessions
        self.callback_base_url = callback_base_url
        self.budget = budget or PartnerBudget(DEFAULT_DIRECT_RATE_PER_S, MemoryRateStore())

    # --- partner calls (partner task queue) ---

    @activity.defn
    async def pay(self, input: DisburseInput) -> PayResult:
        """The common path of a payment in one call: the ledger row, attempt 1, the partner's answer and, on a
        definitive success, PAID. Anything else (a pending, failed or unknown answer, a row already past attempt 1)
        returns without settling: the journey then runs the durable `Disbursement` workflow, which resumes from the
        ledger row and from `answer`. Idempotent: a retry finds its own row and attempt and resends the same key."""
        attempt = AttemptInput(
            payment_id=input.payment_id,
            attempt_id=attempt_id_for(input.payment_id, 1),
            attempt_no=1,
            partner_client_code=input.partner_client_code,
            account_number=input.account_number,
            nik=input.nik,
            amount=input.amount,
        )
        opening = OpenPaymentInput(**input.model_dump(include=set(OpenPaymentInput.model_fields)))
        try:
            async with self.sessions.begin() as session:  # the row and its attempt in one write
                # Held first, as a revocation holds it: a call that outlived its workflow task (a direct payment
                # whose task was lost) never opens a payment for a beneficiary revoked meanwhile.
                if await projection.held_status(session, input.registration_id) == JourneyStatus.REVOKED:
                    return PayResult(status=PaymentStatus.CANCELLED)
                payment = await session.get(Payment, input.payment_id)
                if payment is None:  # the common path: the row and attempt 1, nothing to read back
                    session.add(Payment(**opening.model_dump(), status=PaymentStatus.PENDING, attempts=1))
                    session.add(_attempt_row(attempt))
                else:
                    opened = await _opened(session, payment)
                    if opened.status in (PaymentStatus.PAID, PaymentStatus.CANCELLED):
                        return PayResult(status=opened.status)
                    last = opened.last_attempt
                    if opened.attempts > 1 or (last is not None and last.status is not AttemptStatus.PENDING):
                        return PayResult(status=opened.status)  # past the common path: the durable path resolves it
                    await self._record_attempt_in(session, attempt)
        except IntegrityError:
            raise ApplicationError("ledger row created concurrently", type="LedgerConflict") from None
        attempt_id = attempt.attempt_id
        answer = await self._send(attempt)
        if answer.answer is not PartnerAnswer.SUCCEEDED:
            return PayResult(status=PaymentStatus.PENDING, answer=answer)
        await self.mark_paid(
            SettleAttemptInput(
                payment_id=input.payment_id, attempt_id=attempt_id, partner_reference=answer.partner_reference
            )
        )
        return PayResult(status=PaymentStatus.PAID, answer=answer)

    @activity.defn
    async def pay_in_worker(self, input: DisburseInput) -> PayResult:
        """`pay`, run by the journey's own worker as a local activity: no task queue, no dispatch by the server, no
        workflow task of its own. Only within the partner's budget: once it is spent this returns `queued`, having
        written and sent nothing, and the journey runs `pay` on the partner's queue, where the server's rate limit
        lets a payday backlog through at the partner's pace."""
        if not await self.budget.admits(input.partner_client_code):
            return PayResult(status=PaymentStatus.PENDING, queued=True)
        return await self.pay(input)

    @activity.defn
    async def disburse(self, input: AttemptInput) -> AttemptAnswer:
        """Record the attempt, then send it; a timeout returns UNKNOWN so the workflow asks before anything else.
        A refusal outside the partner's contract (a 4xx) is a definitive failure: the payment goes on hold with
        PARTNER_REJECTED instead of being resent for ever. A 409 for a key the partner already has is answered by
        its own record for that key."""
        await self._record_attempt(input)
        return await self._send(input)

    async def _send(self, input: AttemptInput) -> AttemptAnswer:
        """Send a recorded attempt; the partner's answer, or UNKNOWN / FAILED for the failures that mean so."""
        request = DisburseRequest(
            idempotency_key=input.attempt_id,
            account_number=input.account_number,
            nik=input.nik,
            amount=input.amount,
            callback_url=callback_url(self.callback_base_url, input.attempt_id),
        )
        try:
            result = await self.gateway.disburse(input.partner_client_code, request)
        except PartnerTimeout:
            log.info("attempt %s at %s: no answer, outcome unknown", input.attempt_id, input.partner_client_code)
            return AttemptAnswer(answer=PartnerAnswer.UNKNOWN)
        except DuplicateKey:
            check = CheckStatusInput(partner_client_code=input.partner_client_code, attempt_id=input.attempt_id)
            answer = await self.check_status(check)
            if answer.answer is PartnerAnswer.NOT_RECEIVED:  # contradicts its 409: ask again after a backoff
                raise PartnerError(f"{input.attempt_id}: 409 for a key the partner says it never received") from None
            return answer
        except PartnerRejected as exc:
            log.warning("attempt %s at %s: refused (%s)", input.attempt_id, input.partner_client_code, exc)
            return AttemptAnswer(answer=PartnerAnswer.FAILED, reason=PaymentReason.PARTNER_REJECTED)
        return _answer(result)

    @activity.defn
    async def check_status(self, input: CheckStatusInput) -> AttemptAnswer:
        """The partner's record for the attempt's key; NOT_RECEIVED when it never got it. A read: safe to retry."""
        return _answer(await self.gateway.status(input.partner_client_code, input.attempt_id))

    @activity.defn
    async def verify_account(self, input: VerifyAccountInput) -> LinkAccountResult:
        """e-KYC: is this an open, KYC'd account of this NIK at that partner? (Also used by account linking.) The
        workflows get the platform's model, never the partner's wire format (same fields: old histories decode)."""
        return await self.gateway.verify_account(input.partner_client_code, input.account_number, input.nik)

    async def _record_attempt(self, input: AttemptInput) -> None:
        async with self.sessions.begin() as session:
            await self._record_attempt_in(session, input)

    async def _record_attempt_in(self, session: AsyncSession, input: AttemptInput) -> None:
        """The attempt row exists before the partner hears of it; a retry of the activity finds it."""
        if (existing := await session.get(PaymentAttempt, input.attempt_id)) is not None:
            sent = (existing.payment_id, existing.partner_client_code, existing.account_number, existing.amount)
            if sent != (input.payment_id, input.partner_client_code, input.account_number, input.amount):
                # One key, one destination: the same key to another partner or account could pay twice.
                raise ApplicationError(
                    f"attempt {input.attempt_id} was recorded for another destination or amount",
                    type="InvalidInput",
                    non_retryable=True,
                )
            return
        payment = await _payment(session, input.payment_id)
        session.add(_attempt_row(input))
        retried = payment.status == PaymentStatus.ON_HOLD
        payment.attempts = max(payment.attempts, input.attempt_no)
        payment.status, payment.reason = PaymentStatus.PENDING, None
        payment.partner_client_code, payment.account_number = input.partner_client_code, input.account_number
        if retried:  # the hold is over (support retried it): the beneficiary's status says so in this write
            await _release_hold(session, await projection.locked(session, payment.registration_id))

    # --- ledger writes (journey task queue) ---

    @activity.defn
    async def open_payment(self, input: OpenPaymentInput) -> OpenPaymentResult:
        """Create the ledger row (PENDING) once; a rerun gets the row as it stands, with its last attempt."""
        return await self._open(input)

    async def _open(self, input: OpenPaymentInput) -> OpenPaymentResult:
        try:
            async with self.sessions.begin() as session:
                return await self._open_in(session, input)
        except IntegrityError:
            # A concurrent insert of the same row: the retry reads it. (The message quotes values: drop it.)
            raise ApplicationError("ledger row created concurrently", type="LedgerConflict") from None

    async def _open_in(self, session: AsyncSession, input: OpenPaymentInput) -> OpenPaymentResult:
        payment = await session.get(Payment, input.payment_id)
        if payment is None:
            session.add(Payment(**input.model_dump(), status=PaymentStatus.PENDING, attempts=0))
            await session.flush()  # the attempt recorded next in this write finds it
            return OpenPaymentResult(status=PaymentStatus.PENDING, attempts=0)
        return await _opened(session, payment)

    @activity.defn
    async def mark_paid(self, input: SettleAttemptInput) -> None:
        """Attempt SUCCEEDED, payment PAID; the beneficiary leaves PAYMENT_ON_HOLD once nothing else is on hold."""
        async with self.sessions.begin() as session:
            attempt, payment, beneficiary = await _settling(session, input.attempt_id)
            _resolve(attempt, AttemptStatus.SUCCEEDED, PaymentReason.LATE_SUCCESS_AFTER_FAILURE if input.late else None)
            attempt.partner_reference = input.partner_reference or attempt.partner_reference
            newly_paid = payment.status != PaymentStatus.PAID
            if newly_paid:
                # Even over a cancellation: the money moved, so the ledger must say so (clawback counts it).
                payment.status, payment.reason, payment.paid_at = PaymentStatus.PAID, None, datetime.now(UTC)
                payment.partner_client_code, payment.account_number = (
                    attempt.partner_client_code,
                    attempt.account_number,
                )
            if newly_paid:
                await _claw_back_if_revoked(session, payment, beneficiary)
            await _release_hold(session, beneficiary)

    @activity.defn
    async def mark_on_hold(self, input: SettleAttemptInput) -> None:
        """Attempt FAILED, payment ON_HOLD with the partner's reason, beneficiary PAYMENT_ON_HOLD."""
        async with self.sessions.begin() as session:
            attempt, payment = await _attempt_and_payment(session, input.attempt_id)
            _resolve(attempt, AttemptStatus.FAILED, input.reason)
            if payment.status in (PaymentStatus.PAID, PaymentStatus.CANCELLED):
                return
            payment.status, payment.reason = PaymentStatus.ON_HOLD, input.reason
            await _hold(session, payment.registration_id)

    @activity.defn
    async def cancel(self, input: CancelPaymentInput) -> None:
        """Close an unpaid payment as CANCELLED (revocation); the journey sets the beneficiary's status itself."""
        async with self.sessions.begin() as session:
            payment = await _payment(session, input.payment_id)
            if input.attempt_id is not None:
                attempt, _ = await _attempt_and_payment(session, input.attempt_id)
                _resolve(attempt, AttemptStatus.FAILED, input.reason)
            if payment.status != PaymentStatus.PAID:
                payment.status = PaymentStatus.CANCELLED
                payment.reason = input.reason or payment.reason

    @activity.defn
    async def record_late_success(self, input: SettleAttemptInput) -> None:
        """A success reported for an attempt closed as failed, after the payment was settled otherwise:
        money moved twice (or after cancellation). Recorded on the attempt for reconciliation, never re-paid."""
        async with self.sessions.begin() as session:
            attempt, _ = await _attempt_and_payment(session, input.attempt_id)
            if attempt.status == AttemptStatus.FAILED:
                attempt.status = AttemptStatus.LATE_SUCCEEDED
                attempt.partner_reference = input.partner_reference or attempt.partner_reference
        log.warning("payment anomaly: late success for failed attempt %s", input.attempt_id)


def _resolve(attempt: PaymentAttempt, status: AttemptStatus, reason: str | None) -> None:
    if attempt.status == AttemptStatus.PENDING or (
        attempt.status == AttemptStatus.FAILED and status is AttemptStatus.SUCCEEDED
    ):
        attempt.status, attempt.reason, attempt.resolved_at = status, reason, datetime.now(UTC)


async def _payment(session: AsyncSession, payment_id: str) -> Payment:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise ApplicationError(f"no ledger row {payment_id}", type="InvalidInput", non_retryable=True)
    return payment


async def _opened(session: AsyncSession, payment: Payment) -> OpenPaymentResult:
    """The ledger row as it stands, with its last attempt."""
    return OpenPaymentResult(
        status=PaymentStatus(payment.status),
        attempts=payment.attempts,
        last_attempt=await _last_attempt(session, payment),
    )


def _attempt_row(input: AttemptInput) -> PaymentAttempt:
    """A new attempt, PENDING: recorded before the partner hears of it."""
    return PaymentAttempt(
        attempt_id=input.attempt_id,
        payment_id=input.payment_id,
        idempotency_key=input.attempt_id,
        partner_client_code=input.partner_client_code,
        account_number=input.account_number,
        amount=input.amount,
        status=AttemptStatus.PENDING,
    )


async def _attempt_and_payment(session: AsyncSession, attempt_id: str) -> tuple[PaymentAttempt, Payment]:
    attempt = await session.get(PaymentAttempt, attempt_id)
    if attempt is None:
        raise ApplicationError(f"no attempt {attempt_id}", type="InvalidInput", non_retryable=True)
    return attempt, await _payment(session, attempt.payment_id)


async def _settling(session: AsyncSession, attempt_id: str) -> tuple[PaymentAttempt, Payment, Beneficiary | None]:
    """The attempt, its payment and the beneficiary's row in one read, the beneficiary's locked for update (as
    `projection.locked`: its lock comes first, as a revocation takes it)."""
    row = (
        await session.execute(
            select(PaymentAttempt, Payment, Beneficiary)
            .join(Payment, Payment.payment_id == PaymentAttempt.payment_id)
            .join(Beneficiary, Beneficiary.registration_id == Payment.registration_id)
            .where(PaymentAttempt.attempt_id == attempt_id)
            .with_for_update(of=Beneficiary)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is not None:
        return row[0], row[1], row[2]
    attempt, payment = await _attempt_and_payment(session, attempt_id)  # no beneficiary row: read them apart
    return attempt, payment, await projection.locked(session, payment.registration_id)


async def _last_attempt(session: AsyncSession, payment: Payment) -> LastAttempt | None:
    if payment.attempts == 0:
        return None
    attempt = await session.get(PaymentAttempt, attempt_id_for(payment.payment_id, payment.attempts))
    if attempt is None:
        return None
    return LastAttempt(
        attempt_id=attempt.attempt_id,
        status=AttemptStatus(attempt.status),
        partner_client_code=attempt.partner_client_code,
        account_number=attempt.account_number,
        reason=attempt.reason,
        partner_reference=attempt.partner_reference,
    )


async def _claw_back_if_revoked(session: AsyncSession, payment: Payment, beneficiary: Beneficiary | None) -> None:
    """Money that reached a revoked beneficiary after the revocation was booked (it was in flight then) joins the
    clawback in the same write that records it paid: a revocation never waits for a partner to answer.
    `beneficiary`: its row locked for update by the caller (`projection.locked`)."""
    if beneficiary is None or beneficiary.status != JourneyStatus.REVOKED:
        return  # a revocation still to come counts every PAID row itself
    clawback = await session.get(Clawback, payment.registration_id, with_for_update=True)
    if clawback is None:
        reason = (beneficiary.reasons or [JourneyStatus.REVOKED.value])[0]
        session.add(
            Clawback(
                registration_id=payment.registration_id,
                amount=payment.amount,
                payment_ids=[payment.payment_id],
                reason=reason,
            )
        )
    elif payment.payment_id not in clawback.payment_ids:
        clawback.amount += payment.amount
        clawback.payment_ids = [*clawback.payment_ids, payment.payment_id]


async def _hold(session: AsyncSession, registration_id: str) -> None:
    beneficiary = await projection.locked(session, registration_id)
    if beneficiary is None or beneficiary.status in (*FINAL_STATUSES, JourneyStatus.PAYMENT_ON_HOLD):
        return
    beneficiary.detail = {**(beneficiary.detail or {}), STATUS_BEFORE_HOLD: beneficiary.status}
    beneficiary.status = JourneyStatus.PAYMENT_ON_HOLD


async def _release_hold(session: AsyncSession, beneficiary: Beneficiary | None) -> None:
    """`beneficiary`: its row locked for update (`projection.locked`)."""
    if beneficiary is None or beneficiary.status != JourneyStatus.PAYMENT_ON_HOLD:
        return
    still_held = await session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(Payment.registration_id == beneficiary.registration_id, Payment.status == PaymentStatus.ON_HOLD)
    )
    if still_held:
        return
    detail = dict(beneficiary.detail or {})
    beneficiary.status = detail.pop(STATUS_BEFORE_HOLD, JourneyStatus.INCENTIVES)
    beneficiary.detail = detail
