"""The journey's money part: account linking (update), incentives and surveys on durable timers,
payments as exactly-once child workflows, holds reported by those payments (signals)."""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from core.contracts import LinkAccountResult, LinkAccountUpdate, SurveySignal, SurveyWindow
    from core.domain import JourneyStatus, PaymentKind
    from core.payments import DisburseInput, PaymentHoldSignal, VerifyAccountInput, payment_id_for, payment_workflow_id
    from core.problems import ProblemCode
    from core.terms import ProgrammeTerms
    from workflows.disbursement import Disbursement, kyc_options
    from workflows.journey_base import JourneyBase, refuse

# How late a submission accepted inside its window may reach the journey. Delivery takes real time, so a
# compressed programme clock shortens the wait only down to a floor.
SURVEY_DELIVERY_GRACE = timedelta(minutes=5)
MIN_SURVEY_DELIVERY_GRACE = timedelta(seconds=2)


class MoneyHandlers(JourneyBase):
    async def _money(self, terms: ProgrammeTerms) -> None:
        """Monthly incentives and the survey windows run side by side; both end before COMPLETED."""
        await asyncio.gather(self._incentives(terms), *(self._survey(terms, w) for w in self.survey_windows))

    async def _incentives(self, terms: ProgrammeTerms) -> None:
        first = self.completed[0]
        # Incentive 1 needs the certificate (we have it), a review and a verified account: wait, never skip.
        await workflow.wait_condition(lambda: first in self.reviewed)
        for number in range(1, terms.incentive_count + 1):
            if number > 1:
                await workflow.sleep(terms.days(terms.incentive_interval_days), summary=f"incentive {number}")
            await self._pay(terms, PaymentKind.INCENTIVE, number, terms.incentive_amount)

    async def _survey(self, terms: ProgrammeTerms, window: SurveyWindow) -> None:
        left = max((window.closes_at - workflow.now()).total_seconds(), 0)
        answered = lambda: window.survey_no in self.surveys_submitted  # noqa: E731
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
        """One payment as a child workflow whose id is the ledger key: it can run only once."""
        await workflow.wait_condition(lambda: self.account is not None)
        assert self.account is not None
        payment_id = payment_id_for(self.input.registration_id, kind, number)
        handle = await workflow.start_child_workflow(
            Disbursement.run,
            DisburseInput(
                payment_id=payment_id,
                registration_id=self.input.registration_id,
                kind=kind,
                number=number,
                amount=amount,
                partner_client_code=self.account.partner_client_code,
                account_number=self.account.account_number,
                nik=self.input.applicant.nik,
                time_scale=terms.time_scale,
                notify_parent=True,
            ),
            id=payment_workflow_id(payment_id),
            # A payment in flight must finish resolving even if the journey is terminated.
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            static_summary=f"{kind.value.lower()} {number} of {self.input.registration_id}",
        )
        self.payments[payment_id] = handle
        result = await handle
        self.paid[payment_id] = result.status.value
        self._set_status(self.status)
        self._stop_if_revoked()  # a cancelled payment still returns its (PAID or CANCELLED) result

    async def _settle_payments(self) -> None:
        """After a revocation cancelled them, wait for payments to resolve what is already in flight."""
        for payment_id, handle in self.payments.items():
            if payment_id in self.paid:
                continue
            try:
                self.paid[payment_id] = (await handle).status.value
            except ChildWorkflowError:
                self.paid[payment_id] = "CANCELLED"

    @workflow.update
    async def link_payment_account(self, update: LinkAccountUpdate) -> LinkAccountResult:
        """e-KYC the account at its payment partner (same NIK); unpaid instalments then go to it."""
        try:
            kyc = await workflow.execute_activity_method(
                PaymentActivities.verify_account,
                VerifyAccountInput(
                    partner_client_code=update.partner_client_code,
                    account_number=update.account_number,
                    nik=self.input.applicant.nik,
                ),
                **kyc_options(update.partner_client_code),
            )
        except ActivityError:
            raise refuse(
                ProblemCode.PARTNER_UNAVAILABLE, "the payment partner did not answer; try again later"
            ) from None
        if kyc.verified:
            self.account = update
            self._set_status(self.status)
        return LinkAccountResult(verified=kyc.verified, reason=kyc.reason)

    @link_payment_account.validator
    def _check_link(self, update: LinkAccountUpdate) -> None:
        if self.revocation is not None or self.finishing or self.prakerja_number is None:
            raise refuse(ProblemCode.NOT_AWARDED, "only an awarded, running journey can link a payment account")

    @workflow.signal
    def survey_submitted(self, signal: SurveySignal) -> None:
        """A survey answered inside its window (the API checked it); each survey counts once."""
        window = next((w for w in self.survey_windows if w.survey_no == signal.survey_no), None)
        if window is None or not (window.opens_at <= signal.submitted_at < window.closes_at):
            self.ignored_signals.append(f"survey:{signal.survey_no}")
            return
        self.surveys_submitted.add(signal.survey_no)

    @workflow.signal
    def payment_hold(self, signal: PaymentHoldSignal) -> None:
        """A payment went on hold (or left it): the journey shows PAYMENT_ON_HOLD while any is."""
        if signal.on_hold:
            self.on_hold.add(signal.payment_id)
        else:
            self.on_hold.discard(signal.payment_id)
        if signal.moved_to is not None and self.account is not None and signal.moved_from is not None:
            linked = (self.account.partner_client_code, self.account.account_number)
            if linked == (signal.moved_from.partner_client_code, signal.moved_from.account_number):
                self.account = LinkAccountUpdate(**signal.moved_to.model_dump())
        if self.status in (JourneyStatus.INCENTIVES, JourneyStatus.PAYMENT_ON_HOLD):
            self._set_status(JourneyStatus.PAYMENT_ON_HOLD if self.on_hold else JourneyStatus.INCENTIVES)
