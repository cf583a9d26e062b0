"""The journey's incentive phase: monthly incentives and survey payments on durable timers, each payment one activity
on the partner's queue (a `Disbursement` child workflow only when its answer is not definitive), and the payment
account and holds they go by. A plain object the journey holds (`BeneficiaryJourney.money`), with its own state."""

import asyncio
from datetime import timedelta
from typing import Any, Protocol

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError, FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ChildWorkflowCancellationType, ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from core.contracts import (
        LinkAccountResult,
        LinkAccountUpdate,
        RevokeSignal,
        StartJourneyInput,
        SurveyWindow,
        UnsettledPayment,
    )
    from core.domain import JourneyStatus, PaymentKind, PaymentStatus
    from core.payments import (
        DisburseInput,
        DisburseResult,
        PaymentHoldSignal,
        PaymentReason,
        PayResult,
        VerifyAccountInput,
        payment_id_for,
        payment_task_queue,
        payment_workflow_id,
    )
    from core.problems import ProblemCode
    from core.terms import ProgrammeTerms
    from workflows.disbursement import DIRECT_PAY, ONE_ACTIVITY_PAY, Disbursement, kyc_options
    from workflows.journey_status import refuse
    from workflows.surveys import SurveySchedule
    from workflows.training import TrainingLedger
    from workflows.versions import since_local_payments, since_one_activity_payments

# How late a submission accepted inside its window may reach the journey. Delivery takes real time, so a
# compressed programme clock shortens the wait only down to a floor.
SURVEY_DELIVERY_GRACE = timedelta(minutes=5)
MIN_SURVEY_DELIVERY_GRACE = timedelta(seconds=2)


class Journey(Protocol):
    """What the incentive phase reads of its journey, and the two things it asks of it."""

    input: StartJourneyInput
    status: JourneyStatus
    revocation: RevokeSignal | None
    training: TrainingLedger
    surveys: SurveySchedule

    def set_status(self, status: JourneyStatus) -> None: ...

    def stop_if_revoked(self) -> None: ...


class IncentivePhase:
    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.account: LinkAccountUpdate | None = None
        self.on_hold: set[str] = set()
        self.payments: dict[str, ChildWorkflowHandle[Any, DisburseResult]] = {}
        self.paid: dict[str, str] = {}
        self.paying = 0  # one-activity payments in progress (a revocation lets them finish before it books)

    async def run(self, terms: ProgrammeTerms) -> None:
        """Monthly incentives and the survey windows run side by side; both end before COMPLETED."""
        if since_one_activity_payments():
            # No timer per window: an answered survey is paid when its answers arrive, and the incentives' monthly
            # ticks (then one last timer, if a window is still open after the last incentive) close the others.
            await asyncio.gather(
                self._incentives(terms, ticks_close_surveys=True),
                *(self._survey_answered(terms, w) for w in self.journey.surveys.windows),
            )
            return
        await asyncio.gather(self._incentives(terms), *(self._survey(terms, w) for w in self.journey.surveys.windows))

    async def _incentives(self, terms: ProgrammeTerms, ticks_close_surveys: bool = False) -> None:
        first = self.journey.training.completed[0]
        # Incentive 1 needs the certificate (we have it), a review and a verified account: wait, never skip.
        await workflow.wait_condition(lambda: first in self.journey.training.reviewed)
        for number in range(1, terms.incentive_count + 1):
            if number > 1:
                await workflow.sleep(terms.days(terms.incentive_interval_days), summary=f"incentive {number}")
                if ticks_close_surveys:
                    self._close_survey_windows(terms)
            await self._pay(terms, PaymentKind.INCENTIVE, number, terms.incentive_amount)
        if ticks_close_surveys:
            await self._close_last_survey_windows(terms)

    def _survey_grace(self, terms: ProgrammeTerms) -> timedelta:
        # The API accepted answers up to the close by its clock; their signal may land just after it.
        return max(SURVEY_DELIVERY_GRACE / terms.time_scale, MIN_SURVEY_DELIVERY_GRACE)

    def _close_survey_windows(self, terms: ProgrammeTerms) -> None:
        self.journey.surveys.close_due(workflow.now(), self._survey_grace(terms))

    async def _close_last_survey_windows(self, terms: ProgrammeTerms) -> None:
        """After the last incentive: one timer until the last open window's close, then those still open expire."""
        self._close_survey_windows(terms)
        last = self.journey.surveys.last_close(self._survey_grace(terms))
        if last is None:
            return
        try:
            await workflow.wait_condition(
                lambda: not self.journey.surveys.still_open(),
                timeout=max((last - workflow.now()).total_seconds(), 0),
                timeout_summary="last survey windows",
            )
        except TimeoutError:
            self._close_survey_windows(terms)

    async def _survey_answered(self, terms: ProgrammeTerms, window: SurveyWindow) -> None:
        """Pay survey `window` once answered; return without paying once a tick closed it unanswered."""
        no = window.survey_no
        await workflow.wait_condition(lambda: self.journey.surveys.settled(no))
        if no in self.journey.surveys.submitted:
            await self._pay(terms, PaymentKind.SURVEY, no, terms.survey_amount)

    async def _survey(self, terms: ProgrammeTerms, window: SurveyWindow) -> None:
        left = max((window.closes_at - workflow.now()).total_seconds(), 0)
        answered = lambda: window.survey_no in self.journey.surveys.submitted  # noqa: E731
        try:
            await workflow.wait_condition(answered, timeout=left, timeout_summary=f"survey {window.survey_no} window")
        except TimeoutError:
            if not workflow.patched("survey-late-delivery"):
                return
            # The API accepted answers up to the close by its clock; their signal may land just after it.
            grace = max(SURVEY_DELIVERY_GRACE / terms.time_scale, MIN_SURVEY_DELIVERY_GRACE)
            try:
                await workflow.wait_condition(answered, timeout=grace, timeout_summary="late answers")
            except TimeoutError:
                return  # expired unanswered: nothing to pay
        await self._pay(terms, PaymentKind.SURVEY, window.survey_no, terms.survey_amount)

    async def _pay(self, terms: ProgrammeTerms, kind: PaymentKind, number: int, amount: int) -> None:
        """One payment. The common path is one activity (ledger row, attempt 1, the partner's definitive success,
        PAID), run in the journey's worker within the partner's budget, else on the partner's queue; any other
        answer goes to a `Disbursement` child workflow, whose id is the ledger key (it can run only once) and which
        resumes from the ledger row and that answer."""
        await workflow.wait_condition(lambda: self.account is not None)
        assert self.account is not None
        payment_id = payment_id_for(self.journey.input.registration_id, kind, number)
        disburse = DisburseInput(
            payment_id=payment_id,
            registration_id=self.journey.input.registration_id,
            kind=kind,
            number=number,
            amount=amount,
            partner_client_code=self.account.partner_client_code,
            account_number=self.account.account_number,
            nik=self.journey.input.applicant.nik,
            time_scale=terms.time_scale,
            notify_parent=True,
        )
        one_activity = since_one_activity_payments()
        if one_activity:
            self.paying += 1
            try:
                await self._pay_once(disburse)
            finally:
                self.paying -= 1
            return
        await self._pay_by_child(disburse, one_activity=False, revoked=False)

    async def _pay_once(self, disburse: DisburseInput) -> None:
        """The one-activity payment; any answer but a definitive one goes on in a `Disbursement` child."""
        payment_id = disburse.payment_id
        first, revoked = await self._pay_in_one_activity(disburse)
        if first is not None and first.status in (PaymentStatus.PAID, PaymentStatus.CANCELLED):
            self.paid[payment_id] = first.status.value
            self.journey.set_status(self.journey.status)
            self.journey.stop_if_revoked()
            return
        disburse.first_answer = first.answer if first is not None else None
        await self._pay_by_child(disburse, one_activity=True, revoked=revoked)

    async def _pay_by_child(self, disburse: DisburseInput, *, one_activity: bool, revoked: bool) -> None:
        payment_id = disburse.payment_id
        handle = await self._start_payment_workflow(disburse, one_activity=one_activity)
        if revoked:  # a revocation interrupted the one-activity payment: resolve what was sent, start nothing new
            handle.cancel()
            raise asyncio.CancelledError()
        try:
            result = await handle
        except ChildWorkflowError:
            if not one_activity or self.journey.revocation is not None:
                raise  # a revocation settles its payments itself (`_settle_payments`)
            # Terminated by an operator, or failed: the journey goes on; the ledger row shows where it stopped.
            workflow.logger.warning("payment %s: its workflow failed; the journey goes on", payment_id)
            self.paid[payment_id] = PaymentReason.WORKFLOW_FAILED
            self.on_hold.discard(payment_id)
            self._show_holds()
            self.journey.stop_if_revoked()
            return
        self.paid[payment_id] = result.status.value
        self.journey.set_status(self.journey.status)
        self.journey.stop_if_revoked()  # a cancelled payment still returns its (PAID or CANCELLED) result

    async def _start_payment_workflow(
        self, disburse: DisburseInput, *, one_activity: bool
    ) -> ChildWorkflowHandle[Any, DisburseResult]:
        handle = await workflow.start_child_workflow(
            Disbursement.run,
            disburse,
            id=payment_workflow_id(disburse.payment_id),
            # Closing the journey never cancels money: a payment in flight or on hold outlives it (support can
            # still retry it). Before the one-activity path, payments were cancelled with the journey.
            parent_close_policy=ParentClosePolicy.ABANDON if one_activity else ParentClosePolicy.REQUEST_CANCEL,
            # A revocation asks the payment to stop and goes on: the payment settles in its own workflow.
            cancellation_type=(
                ChildWorkflowCancellationType.TRY_CANCEL
                if one_activity
                else ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED
            ),
            static_summary=f"{disburse.kind.value.lower()} {disburse.number} of {disburse.registration_id}",
        )
        self.payments[disburse.payment_id] = handle
        return handle

    async def resolve_unrecorded(self, unsettled: list[UnsettledPayment], time_scale: float) -> None:
        """After a revocation: payments the ledger shows in flight that this journey has no record of. A direct
        payment (`pay_in_worker`, a local activity) runs inside a workflow task; if that task was lost (its worker
        died, or the server refused the task because a revocation came meanwhile), the payment's call may have
        happened while the history never says so, and the revocation then never asks for it again. Each gets its
        `Disbursement` workflow, stopped from its start (`stop`: a cancellation requested as the journey ends could
        be lost with it): it resolves what the partner holds and sends nothing new (a payment that did go through is
        PAID and joins the clawback)."""
        for payment in unsettled:
            if payment.payment_id in self.payments or payment.payment_id in self.paid:
                continue
            disburse = DisburseInput(
                **payment.model_dump(exclude={"payment_id"}),
                payment_id=payment.payment_id,
                registration_id=self.journey.input.registration_id,
                nik=self.journey.input.applicant.nik,
                time_scale=time_scale,
                stop=True,
            )
            try:
                await self._start_payment_workflow(disburse, one_activity=True)
            except WorkflowAlreadyStartedError:  # one runs already (started by hand, or before a reset): it resolves it
                workflow.logger.warning("payment %s: its workflow runs already", payment.payment_id)

    async def _pay_in_one_activity(self, disburse: DisburseInput) -> tuple[PayResult | None, bool]:
        """(the activity's result, or None when the partner kept failing; whether a revocation arrived meanwhile).
        A revocation lets the call finish: money the partner accepted is then known before anything is booked."""
        call = asyncio.ensure_future(self._pay_call(disburse))
        revoked = False
        while True:
            try:
                return await asyncio.shield(call), revoked
            except asyncio.CancelledError:
                revoked = True
            except ActivityError:
                return None, revoked

    @staticmethod
    async def _pay_call(disburse: DisburseInput) -> PayResult:
        """In the journey's worker while the partner's budget allows (since LOCAL_PAYMENTS), else on its queue."""
        if since_local_payments():
            try:
                direct = await workflow.execute_local_activity_method(
                    PaymentActivities.pay_in_worker,
                    disburse,
                    start_to_close_timeout=DIRECT_PAY["start_to_close_timeout"],
                    retry_policy=DIRECT_PAY["retry_policy"],
                )
                if not direct.queued:
                    return direct
            except FailureError:  # a local activity's failure comes unwrapped (no ActivityError): its own error
                pass  # failed once (a partner's 5xx, a timeout): the queue's backed-off retries take over, as before
        return await workflow.execute_activity_method(
            PaymentActivities.pay,
            disburse,
            task_queue=payment_task_queue(disburse.partner_client_code),
            **ONE_ACTIVITY_PAY,
        )

    async def settle(self) -> None:
        """After a revocation cancelled them, wait for payments to resolve what is already in flight."""
        for payment_id, handle in self.payments.items():
            if payment_id in self.paid:
                continue
            try:
                self.paid[payment_id] = (await handle).status.value
            except ChildWorkflowError:
                self.paid[payment_id] = "CANCELLED"

    async def link(self, update: LinkAccountUpdate) -> LinkAccountResult:
        """e-KYC the account at its payment partner (same NIK); unpaid instalments then go to it."""
        try:
            kyc = await workflow.execute_activity_method(
                PaymentActivities.verify_account,
                VerifyAccountInput(
                    partner_client_code=update.partner_client_code,
                    account_number=update.account_number,
                    nik=self.journey.input.applicant.nik,
                ),
                **kyc_options(update.partner_client_code),
            )
        except ActivityError:
            raise refuse(
                ProblemCode.PARTNER_UNAVAILABLE, "the payment partner did not answer; try again later"
            ) from None
        if kyc.verified:
            self.account = update
            self.journey.set_status(self.journey.status)
        return LinkAccountResult(verified=kyc.verified, reason=kyc.reason)

    def hold(self, signal: PaymentHoldSignal) -> None:
        """A payment went on hold (or left it): the journey shows PAYMENT_ON_HOLD while any is."""
        if signal.on_hold:
            self.on_hold.add(signal.payment_id)
        else:
            self.on_hold.discard(signal.payment_id)
        if signal.moved_to is not None and self.account is not None and signal.moved_from is not None:
            linked = (self.account.partner_client_code, self.account.account_number)
            if linked == (signal.moved_from.partner_client_code, signal.moved_from.account_number):
                self.account = signal.moved_to
        self._show_holds()

    def _show_holds(self) -> None:
        if self.journey.status in (JourneyStatus.INCENTIVES, JourneyStatus.PAYMENT_ON_HOLD):
            self.journey.set_status(JourneyStatus.PAYMENT_ON_HOLD if self.on_hold else JourneyStatus.INCENTIVES)
