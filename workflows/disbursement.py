"""One payment, exactly once: a child workflow per (beneficiary, kind, number), id `payment-<payment_id>`.

Attempt n of a payment has the id (and partner idempotency key) `<payment_id>-A<n>`. An attempt is always
resolved (callback, or the partner's status for its key) before another one may start, so a payment can
never be sent twice under two keys. A definitive failure puts it ON_HOLD until support retries it.
"""

import asyncio
import dataclasses
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from core.contracts import LinkAccountResult, PaymentAccount
    from core.domain import PaymentStatus
    from core.payments import (
        AttemptAnswer,
        AttemptInput,
        AttemptStatus,
        AttemptStatusSignal,
        CallbackStatus,
        CancelPaymentInput,
        CheckStatusInput,
        DisburseInput,
        DisburseResult,
        OpenPaymentInput,
        PartnerAnswer,
        PaymentHoldSignal,
        PaymentReason,
        PaymentState,
        RetryOutcome,
        RetryPaymentInput,
        RetryPaymentResult,
        SettleAttemptInput,
        VerifyAccountInput,
        attempt_id_for,
        attempt_no_of,
        interactive_task_queue,
        payment_task_queue,
    )
    from core.problems import ProblemCode
    from core.temporal import SA_ON_HOLD, SA_PAYMENT_PARTNER
    from workflows.options import DATABASE_CALL, ActivityMethod, ActivityOptions, ArgT, QueuedActivityOptions, ResultT
    from workflows.payment_hold import PaymentHoldReceiver
    from workflows.versions import since_one_activity_payments

# The partner calls answer an attempt; each is routed to its partner's queue.
PartnerCallT = TypeVar("PartnerCallT", AttemptInput, CheckStatusInput)

# Money waits out a partner outage instead of failing: no overall deadline, backoff up to 5 minutes.
PAYMENT_PARTNER_CALL: ActivityOptions = {
    "start_to_close_timeout": timedelta(seconds=60),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=5),
        non_retryable_error_types=["InvalidInput"],
    ),
}
# The journey's one-activity payment: the same call, but only a few quick retries of a partner outage before the
# durable path takes over.
ONE_ACTIVITY_PAY: ActivityOptions = {
    **PAYMENT_PARTNER_CALL,
    "retry_policy": dataclasses.replace(
        PAYMENT_PARTNER_CALL["retry_policy"], maximum_interval=timedelta(seconds=10), maximum_attempts=4
    ),
}
# The journey's direct payment (`pay_in_worker`, a local activity): one try inside the journey's workflow task; any
# failure goes to the partner's queue (`ONE_ACTIVITY_PAY`), whose retries back off without holding a workflow task.
DIRECT_PAY: ActivityOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_attempts=1),
}
# How long a direct call lost with its workflow task may still be running in its worker: its timeout, then the
# partner's request timeout at most (real time: a worker's clock is not scaled).
LOST_DIRECT_CALL_WINDOW = DIRECT_PAY["start_to_close_timeout"] + timedelta(seconds=30)
# e-KYC answers someone who is waiting (support, a beneficiary relinking): bounded, then "try later".
KYC_CALL: ActivityOptions = {
    "start_to_close_timeout": timedelta(seconds=20),
    "schedule_to_close_timeout": timedelta(seconds=45),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=5)),
}
# How long an asynchronous partner gets to call back before we ask it (programme time, scaled) ...
CALLBACK_WINDOW = timedelta(hours=1)
# ... but callbacks travel in real time: a high time scale never shrinks the wait below this.
MIN_CALLBACK_WINDOW = timedelta(seconds=15)
MAX_CALLBACK_WINDOW = timedelta(days=1)
# A partner that keeps an attempt PENDING longer than this (programme time; real time at least the floor) puts the
# payment ON_HOLD with PARTNER_PENDING_TOO_LONG instead of being polled for ever.
PENDING_LIMIT = timedelta(days=3)
MIN_PENDING_LIMIT = timedelta(minutes=10)

Outcome = tuple[str, AttemptAnswer]  # (attempt_id, a definitive SUCCEEDED or FAILED answer)


def kyc_options(client_code: str) -> QueuedActivityOptions:
    """Options for `PaymentActivities.verify_account` (e-KYC), on that partner's interactive queue: never behind
    a backlog of disbursements (journeys that asked before that queue existed keep the bulk one)."""
    queue = interactive_task_queue(client_code) if since_one_activity_payments() else None
    return {"task_queue": queue or payment_task_queue(client_code), **KYC_CALL}


@workflow.defn
class Disbursement:
    @workflow.init
    def __init__(self, input: DisburseInput) -> None:
        # The input is known before any handler runs (a callback may be delivered with the start).
        self.input = input
        self.partner, self.account = input.partner_client_code, input.account_number
        self.status = PaymentStatus.PENDING
        self.attempts = 0
        self.reason: str | None = None
        self.callbacks: dict[str, AttemptStatusSignal] = {}
        self.failed: set[str] = set()  # attempts the ledger has closed as failed
        self.late: list[AttemptStatusSignal] = []  # successes reported for those
        self.retry_request: RetryPaymentInput | None = None
        self.retry_in_progress = False
        # The ledger (and so the console) shows the hold before mark_on_hold's result reaches this workflow:
        # a support retry sent in between is taken, and `_on_hold` acts on it once the hold is recorded.
        self.recording_hold = False
        self.cancel_requested = input.stop
        self.on_hold = False
        self.published: tuple[str, bool] | None = None

    @workflow.run
    async def run(self, input: DisburseInput) -> DisburseResult:
        work = asyncio.create_task(self._pay())
        result = await self._despite_cancellation(work)
        await self._despite_cancellation(asyncio.ensure_future(workflow.wait_condition(workflow.all_handlers_finished)))
        return result

    async def _despite_cancellation(self, task: "asyncio.Future[ResultT]") -> ResultT:
        """Cancellation (a revocation) is a request: no new attempt starts, but money already sent is resolved."""
        while True:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                self.cancel_requested = True

    async def _pay(self) -> DisburseResult:
        outcome = await self._open()
        while self.status not in (PaymentStatus.PAID, PaymentStatus.CANCELLED):
            if outcome is None:
                if self.cancel_requested:
                    await self._cancel()
                    break
                outcome = await self._attempt()
            outcome = await self._settle(*outcome)
        await self._record_late_successes()
        return DisburseResult(
            payment_id=self.input.payment_id,
            status=self.status,
            attempts=self.attempts,
            partner_client_code=self.partner,
            amount=self.input.amount if self.status is PaymentStatus.PAID else 0,
        )

    async def _open(self) -> Outcome | None:
        """Open the ledger row; a rerun resumes from it (an unresolved attempt is resolved before anything else)."""
        opened = await self._db(
            PaymentActivities.open_payment,
            OpenPaymentInput(**self.input.model_dump(include=set(OpenPaymentInput.model_fields))),
        )
        self.status, self.attempts, last = opened.status, opened.attempts, opened.last_attempt
        if last is not None:
            self.partner, self.account = last.partner_client_code, last.account_number
        await self._publish(on_hold=False)
        if last is None or self.status in (PaymentStatus.PAID, PaymentStatus.CANCELLED):
            return None
        if last.status is AttemptStatus.FAILED:
            return last.attempt_id, AttemptAnswer(answer=PartnerAnswer.FAILED, reason=last.reason)
        if last.status is AttemptStatus.SUCCEEDED and since_one_activity_payments():
            # The partner's callback came before this workflow existed: the API left it on the attempt.
            return last.attempt_id, AttemptAnswer(
                answer=PartnerAnswer.SUCCEEDED, partner_reference=last.partner_reference
            )
        first = self.input.first_answer
        if first is not None and last.attempt_id == attempt_id_for(self.input.payment_id, 1):
            # The journey's one-activity payment sent attempt 1 and brought this answer: resolve from it.
            return last.attempt_id, await self._resolve(self._attempt_input(last.attempt_id), first.answer, first)
        return last.attempt_id, await self._resolve(self._attempt_input(last.attempt_id), PartnerAnswer.UNKNOWN)

    async def _attempt(self) -> Outcome:
        self.attempts += 1
        request = self._attempt_input(attempt_id_for(self.input.payment_id, self.attempts))
        answer = await self._partner(PaymentActivities.disburse, request)
        return request.attempt_id, await self._resolve(request, answer.answer, answer)

    def _attempt_input(self, attempt_id: str) -> AttemptInput:
        return AttemptInput(
            payment_id=self.input.payment_id,
            attempt_id=attempt_id,
            attempt_no=attempt_no_of(attempt_id),
            partner_client_code=self.partner,
            account_number=self.account,
            nik=self.input.nik,
            amount=self.input.amount,
        )

    async def _resolve(
        self, request: AttemptInput, state: PartnerAnswer, answer: AttemptAnswer | None = None
    ) -> AttemptAnswer:
        """Turn the partner's first answer into a definitive one: wait for its callback, or ask for the key."""
        window = max(CALLBACK_WINDOW / self.input.time_scale, MIN_CALLBACK_WINDOW)
        check = CheckStatusInput(partner_client_code=request.partner_client_code, attempt_id=request.attempt_id)
        pending_until = workflow.now() + max(PENDING_LIMIT / self.input.time_scale, MIN_PENDING_LIMIT)
        waited_out_sender = False
        while True:
            if (callback := self.callbacks.get(request.attempt_id)) is not None:
                return _from_callback(callback)
            if state in (PartnerAnswer.SUCCEEDED, PartnerAnswer.FAILED):
                assert answer is not None
                return answer
            if state is PartnerAnswer.NOT_RECEIVED:
                if self.input.stop and not waited_out_sender:
                    # The payment's direct call was lost with its workflow task, and its worker may be sending it
                    # still: believe "never received" only once no such call can be running any more.
                    waited_out_sender = True
                    await workflow.sleep(LOST_DIRECT_CALL_WINDOW, summary="a lost direct call's time to end")
                    answer = await self._partner(PaymentActivities.check_status, check)
                    state = answer.answer
                    continue
                if self.cancel_requested and since_one_activity_payments():
                    # Never received and the payment is to stop: nothing moved, so nothing is sent after a revocation.
                    return AttemptAnswer(answer=PartnerAnswer.FAILED, reason=PaymentReason.CANCELLED_BEFORE_RECEIVED)
                # The partner never got it: sending the same key again cannot pay twice.
                answer = await self._partner(PaymentActivities.disburse, request)
            elif state is PartnerAnswer.UNKNOWN:
                answer = await self._partner(PaymentActivities.check_status, check)
            else:  # PENDING: the partner calls back; if it does not in time, ask it
                try:
                    await workflow.wait_condition(
                        lambda: request.attempt_id in self.callbacks, timeout=window, timeout_summary="partner callback"
                    )
                    continue
                except TimeoutError:
                    window = min(window * 2, max(MAX_CALLBACK_WINDOW / self.input.time_scale, MIN_CALLBACK_WINDOW))
                    answer = await self._partner(PaymentActivities.check_status, check)
                    if (
                        answer.answer is PartnerAnswer.PENDING
                        and workflow.now() >= pending_until
                        and since_one_activity_payments()
                    ):
                        # Polled for ever, the history would grow to its limit: support takes it from here. A
                        # success the partner reports later still settles it (a late success for this attempt).
                        return AttemptAnswer(answer=PartnerAnswer.FAILED, reason=PaymentReason.PARTNER_PENDING_TOO_LONG)
            state = answer.answer

    async def _settle(self, attempt_id: str, answer: AttemptAnswer) -> Outcome | None:
        """Record a definitive answer; after a failure, wait on hold. Returns a late success to settle, or None."""
        settle = SettleAttemptInput(
            payment_id=self.input.payment_id,
            attempt_id=attempt_id,
            reason=answer.reason,
            partner_reference=answer.partner_reference,
            late=attempt_id in self.failed,
        )
        if answer.answer is PartnerAnswer.SUCCEEDED:
            await self._db(PaymentActivities.mark_paid, settle)
            self.status, self.reason = PaymentStatus.PAID, None
            await self._publish(on_hold=False)
            return None
        self.failed.add(attempt_id)
        if late := await self._confirmed_late_success():
            return late
        if self.cancel_requested and not self._maybe_still_paid(answer.reason):
            await self._cancel(settle)
            return None
        self.recording_hold = since_one_activity_payments() or workflow.patched("retry-while-holding")
        await self._db(PaymentActivities.mark_on_hold, settle)
        self.recording_hold = False
        self.status, self.reason = PaymentStatus.ON_HOLD, answer.reason
        await self._publish(on_hold=True)
        return await self._on_hold()

    async def _on_hold(self) -> Outcome | None:
        """Wait for people: a support retry, a cancellation, or news that an earlier attempt did pay."""
        while True:
            await workflow.wait_condition(
                lambda: (
                    self.retry_request is not None
                    or bool(self.late)
                    or (self.cancel_requested and not self._maybe_still_paid(self.reason))
                )
            )
            if late := await self._confirmed_late_success():
                return late
            if self.cancel_requested and not self._maybe_still_paid(self.reason):
                await self._cancel()
                return None
            if self.retry_request is not None:
                break
        request, self.retry_request = self.retry_request, None
        before = PaymentAccount(partner_client_code=self.partner, account_number=self.account)
        self.partner = request.partner_client_code or self.partner
        self.account = request.account_number or self.account
        self.status, self.reason = PaymentStatus.PENDING, None
        after = PaymentAccount(partner_client_code=self.partner, account_number=self.account)
        await self._publish(on_hold=False, moved=(before, after) if after != before else None)
        return None

    @staticmethod
    def _maybe_still_paid(reason: str | None) -> bool:
        """Held because the partner kept the attempt PENDING: it may still pay it, so a cancellation cannot close it;
        it waits on hold for the partner's answer (a late success settles it) or for support."""
        return reason == PaymentReason.PARTNER_PENDING_TOO_LONG

    async def _confirmed_late_success(self) -> Outcome | None:
        """A success reported for a failed attempt counts only if the partner's own record says so."""
        while self.late:
            callback = self.late.pop(0)
            answer = await self._partner(
                PaymentActivities.check_status,
                CheckStatusInput(partner_client_code=callback.partner_client_code, attempt_id=callback.attempt_id),
            )
            if answer.answer is PartnerAnswer.SUCCEEDED:
                workflow.logger.warning("payment %s: late success for %s", self.input.payment_id, callback.attempt_id)
                return callback.attempt_id, answer
        return None

    async def _cancel(self, failed: SettleAttemptInput | None = None) -> None:
        cancel = CancelPaymentInput(payment_id=self.input.payment_id)
        if failed is not None:
            cancel = CancelPaymentInput(
                payment_id=failed.payment_id, attempt_id=failed.attempt_id, reason=failed.reason
            )
        await self._db(PaymentActivities.cancel, cancel)
        self.status = PaymentStatus.CANCELLED
        await self._publish(on_hold=False)

    async def _record_late_successes(self) -> None:
        """Successes reported for failed attempts once the payment was settled otherwise: if the partner confirms,
        money moved twice (or after cancellation). Recorded for reconciliation, never re-paid."""
        while late := await self._confirmed_late_success():
            attempt_id, answer = late
            await self._db(
                PaymentActivities.record_late_success,
                SettleAttemptInput(
                    payment_id=self.input.payment_id,
                    attempt_id=attempt_id,
                    partner_reference=answer.partner_reference,
                    late=True,
                ),
            )

    async def _publish(self, on_hold: bool, moved: tuple[PaymentAccount, PaymentAccount] | None = None) -> None:
        """Search attributes and the UI summary (ids and codes only); tell the parent when a hold starts or ends."""
        changed = on_hold != self.on_hold
        self.on_hold = on_hold
        if (self.partner, on_hold) != self.published:
            self.published = (self.partner, on_hold)
            workflow.upsert_search_attributes(
                [SA_PAYMENT_PARTNER.value_set(self.partner), SA_ON_HOLD.value_set(on_hold)]
            )
        details = f"**{self.status.value}** · {self.input.kind.value} #{self.input.number} · Rp {self.input.amount:,}"
        details += f"\n\nattempts: {self.attempts} · partner: {self.partner}"
        if self.reason:
            details += f"\n\nreason: {self.reason}"
        workflow.set_current_details(details)
        parent = workflow.info().parent
        if changed and self.input.notify_parent and parent is not None:
            signal = PaymentHoldSignal(payment_id=self.input.payment_id, on_hold=on_hold, reason=self.reason)
            if moved is not None:
                signal.moved_from, signal.moved_to = moved
            try:
                journey = workflow.get_external_workflow_handle(parent.workflow_id)
                await journey.signal(PaymentHoldReceiver.payment_hold, signal)
            except Exception:  # a parent already gone needs no news; the ledger holds the truth
                workflow.logger.info("payment %s: parent not told about hold change", self.input.payment_id)

    async def _db(self, activity: ActivityMethod[ArgT, ResultT], arg: ArgT) -> ResultT:
        return await workflow.execute_activity_method(activity, arg, **DATABASE_CALL)

    async def _partner(self, activity: ActivityMethod[PartnerCallT, AttemptAnswer], arg: PartnerCallT) -> AttemptAnswer:
        queue = payment_task_queue(arg.partner_client_code)
        return await workflow.execute_activity_method(activity, arg, task_queue=queue, **PAYMENT_PARTNER_CALL)

    @workflow.signal
    def attempt_status(self, signal: AttemptStatusSignal) -> None:
        """A partner's callback; applied once per attempt. A repeat changes nothing; a success reported for
        an attempt already closed as failed is checked with the partner and, if true, settles the payment
        (or is recorded as an anomaly if the payment was settled otherwise)."""
        if not signal.attempt_id.startswith(f"{self.input.payment_id}-A"):
            return
        first = self.callbacks.setdefault(signal.attempt_id, signal)
        contradicts = first is not signal and first.status is CallbackStatus.FAILED
        if signal.status is CallbackStatus.SUCCEEDED and (signal.attempt_id in self.failed or contradicts):
            if all(late.attempt_id != signal.attempt_id for late in self.late):
                self.late.append(signal)

    @workflow.update
    async def retry(self, input: RetryPaymentInput) -> RetryPaymentResult:
        """Support retries a payment on hold, optionally to another partner/account (which must pass e-KYC)."""
        self.retry_in_progress = True
        try:
            partner = input.partner_client_code or self.partner
            account = input.account_number or self.account
            if (partner, account) != (self.partner, self.account):
                kyc = await self._verify(partner, account)
                if kyc is None:
                    return self._retry_result(RetryOutcome.PARTNER_UNAVAILABLE)
                if not kyc.verified:
                    return self._retry_result(RetryOutcome.EKYC_FAILED, kyc.reason)
            if self.reason == PaymentReason.PARTNER_PENDING_TOO_LONG and await self._still_pending_at_partner():
                # A new attempt while the partner may still pay the last one could pay twice.
                raise ApplicationError(
                    "the partner still reports the last attempt pending; ask the partner to settle it",
                    type=ProblemCode.PARTNER_STILL_PENDING,
                )
            if not self._holding() or self.cancel_requested:
                raise ApplicationError("the payment left ON_HOLD meanwhile", type=ProblemCode.PAYMENT_NOT_ON_HOLD)
            self.retry_request = input.model_copy(update={"partner_client_code": partner, "account_number": account})
            return self._retry_result(RetryOutcome.ACCEPTED)
        finally:
            self.retry_in_progress = False

    @retry.validator
    def _only_on_hold(self, input: RetryPaymentInput) -> None:
        if not self._holding() or self.cancel_requested or self.retry_in_progress or self.retry_request is not None:
            raise ApplicationError(f"payment is {self.status.value}, not ON_HOLD", type=ProblemCode.PAYMENT_NOT_ON_HOLD)

    async def _still_pending_at_partner(self) -> bool:
        """Ask the partner about the attempt held as pending too long; a success it reports now settles the payment
        (as a late success), so only a still-pending answer blocks a new attempt."""
        attempt_id = attempt_id_for(self.input.payment_id, self.attempts)
        check = CheckStatusInput(partner_client_code=self.partner, attempt_id=attempt_id)
        answer = await self._partner(PaymentActivities.check_status, check)
        if answer.answer is PartnerAnswer.SUCCEEDED:
            self.late.append(
                AttemptStatusSignal(
                    attempt_id=attempt_id,
                    partner_client_code=self.partner,
                    status=CallbackStatus.SUCCEEDED,
                    partner_reference=answer.partner_reference,
                )
            )
            raise ApplicationError("the partner has paid it meanwhile", type=ProblemCode.PAYMENT_NOT_ON_HOLD)
        return answer.answer is PartnerAnswer.PENDING

    def _holding(self) -> bool:
        return self.status is PaymentStatus.ON_HOLD or self.recording_hold

    async def _verify(self, partner: str, account: str) -> LinkAccountResult | None:
        try:
            return await workflow.execute_activity_method(
                PaymentActivities.verify_account,
                VerifyAccountInput(partner_client_code=partner, account_number=account, nik=self.input.nik),
                **kyc_options(partner),
            )
        except ActivityError:
            return None

    def _retry_result(self, outcome: RetryOutcome, reason: str | None = None) -> RetryPaymentResult:
        return RetryPaymentResult(payment_id=self.input.payment_id, outcome=outcome, reason=reason)

    @workflow.query
    def state(self) -> PaymentState:
        return PaymentState(
            payment_id=self.input.payment_id,
            status=self.status,
            attempts=self.attempts,
            partner_client_code=self.partner,
            reason=self.reason,
            cancel_requested=self.cancel_requested,
        )


def _from_callback(callback: AttemptStatusSignal) -> AttemptAnswer:
    return AttemptAnswer(
        answer=PartnerAnswer(callback.status.value),
        reason=callback.reason,
        partner_reference=callback.partner_reference,
    )
