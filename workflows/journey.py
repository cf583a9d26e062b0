"""The beneficiary journey: one long-lived workflow per applicant, from registration to the last payment.

Checks → pool → award → training (purchases, completions, reviews) → incentives and surveys → COMPLETED.
An operator's revocation interrupts whatever phase is running; money moved so far is settled first.
"""

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.eligibility import EligibilityActivities
    from activities.identity import IdentityActivities
    from activities.payments import PaymentActivities
    from activities.programme import ProgrammeActivities
    from activities.training import SurveyActivities, TrainingActivities
    from core.contracts import (
        AwardInput,
        CancelPurchaseResult,
        CancelPurchaseUpdate,
        CheckEligibilityInput,
        CompletionSignal,
        DrawResultSignal,
        JourneyResult,
        JourneyState,
        LinkAccountResult,
        LinkAccountUpdate,
        PurchaseResult,
        PurchaseUpdate,
        RecordPurchaseInput,
        ReturnBalanceInput,
        ReviewSignal,
        RevokeInput,
        RevokeSignal,
        ScheduleSurveysInput,
        StartJourneyInput,
        SurveySignal,
        SurveyWindow,
        VerifyIdentityInput,
    )
    from core.domain import JourneyStatus, PaymentKind, PurchaseStatus, Reason
    from core.payments import (
        DisburseInput,
        DisburseResult,
        PaymentHoldSignal,
        VerifyAccountInput,
        payment_id_for,
        payment_workflow_id,
    )
    from core.temporal import SA_ON_HOLD, SA_PAYMENT_PARTNER, SA_PROFILE, SA_PROVINCE, SA_STATUS, SA_WAVE
    from core.terms import ProgrammeTerms
    from workflows.disbursement import Disbursement, kyc_options
    from workflows.options import DATABASE_CALL, PARTNER_CALL

SPENDING = (JourneyStatus.AWARDED, JourneyStatus.TRAINING, JourneyStatus.INCENTIVES, JourneyStatus.PAYMENT_ON_HOLD)


def refuse(code: str, message: str) -> ApplicationError:
    """A business refusal of an update; `type` is the API's problem code."""
    return ApplicationError(message, type=code, non_retryable=True)


@workflow.defn
class BeneficiaryJourney:
    def __init__(self) -> None:
        self.status = JourneyStatus.REGISTERED
        self.reasons: list[str] = []
        self.wave_id: str | None = None
        self.prakerja_number: str | None = None
        self.balance = 0
        self.terms: ProgrammeTerms | None = None
        self.draws_seen: list[str] = []
        self.revocation: RevokeSignal | None = None
        self.finishing = False  # past this point a revocation no longer interrupts (the journey is ending)
        self.closed = False  # the programme's close date has passed: the balance went back to the treasury
        self.purchases: dict[str, PurchaseUpdate] = {}
        self.purchase_status: dict[str, PurchaseStatus] = {}
        self.purchase_results: dict[str, PurchaseResult] = {}
        self.completed: list[str] = []
        self.first_completion_at: datetime | None = None
        self.reviewed: set[str] = set()
        self.ignored_signals: list[str] = []
        self.money_lock = asyncio.Lock()  # balance moves and revocation never interleave
        self.survey_windows: list[SurveyWindow] = []
        self.surveys_submitted: set[int] = set()
        self.account: LinkAccountUpdate | None = None
        self.on_hold: set[str] = set()
        self.payments: dict[str, ChildWorkflowHandle[Disbursement, DisburseResult]] = {}
        self.paid: dict[str, str] = {}

    @workflow.run
    async def run(self, input: StartJourneyInput) -> JourneyResult:
        self.input = input
        body = asyncio.create_task(self._journey())
        await workflow.wait_condition(lambda: body.done() or (self.revocation is not None and not self.finishing))
        if body.done():
            return body.result()
        body.cancel()
        try:
            await body
        except (asyncio.CancelledError, ActivityError, ChildWorkflowError):
            pass  # the interrupted step surfaces its cancellation in one of these forms
        await self._settle_payments()
        return await self._revoke([Reason.REVOKED_BY_OPERATOR])

    async def _journey(self) -> JourneyResult:
        input = self.input
        self._set_status(JourneyStatus.VERIFYING, province=input.applicant.province)
        identity = await workflow.execute_activity_method(
            IdentityActivities.verify_identity,
            VerifyIdentityInput(registration_id=input.registration_id, applicant=input.applicant),
            **PARTNER_CALL,
        )
        if identity.reasons:
            return await self._end(JourneyStatus.REJECTED, identity.reasons)
        eligibility = await workflow.execute_activity_method(
            EligibilityActivities.check_eligibility,
            CheckEligibilityInput(
                registration_id=input.registration_id,
                applicant=input.applicant,
                nik_hash=input.nik_hash,
                kk_hash=input.kk_hash,
                registered_occupation=identity.registered_occupation,
                terms=input.terms,
            ),
            **PARTNER_CALL,
        )
        if eligibility.reasons:
            return await self._end(JourneyStatus.INELIGIBLE, eligibility.reasons)
        self.wave_id = eligibility.wave_id
        self._set_status(JourneyStatus.WAITING_FOR_WAVE)
        await workflow.wait_condition(lambda: self.terms is not None)
        await self._award()
        return await self._training()

    async def _award(self) -> None:
        assert self.terms is not None and self.wave_id is not None
        award = await workflow.execute_activity_method(
            ProgrammeActivities.award,
            AwardInput(registration_id=self.input.registration_id, wave_id=self.wave_id, terms=self.terms),
            **DATABASE_CALL,
        )
        self.prakerja_number = award.prakerja_number
        self.balance = award.balance
        self._set_status(JourneyStatus.AWARDED)

    async def _training(self) -> JourneyResult:
        terms = self.terms
        assert terms is not None
        closing = asyncio.create_task(self._close_programme(terms))
        try:
            await workflow.wait_condition(
                lambda: bool(self.purchases),
                timeout=terms.days(terms.purchase_deadline_days),
                timeout_summary="first purchase deadline",
            )
        except TimeoutError:
            self.finishing = True
            return await self._revoke([Reason.PURCHASE_DEADLINE_MISSED])
        self._set_status(JourneyStatus.TRAINING)
        await workflow.wait_condition(lambda: bool(self.completed) or self.closed)
        if not self.completed:
            self.finishing = True
            return await self._end(JourneyStatus.COMPLETED, ["NO_TRAINING_COMPLETED"])
        await self._start_incentive_phase(terms)
        await self._money(terms)
        self.finishing = True
        closing.cancel()
        await workflow.execute_activity_method(
            TrainingActivities.return_balance,
            ReturnBalanceInput(
                registration_id=self.input.registration_id,
                reference="journey-completed",
                status=JourneyStatus.COMPLETED,
            ),
            **DATABASE_CALL,
        )
        self.balance = 0
        return await self._end(JourneyStatus.COMPLETED, [])

    async def _close_programme(self, terms: ProgrammeTerms) -> None:
        """At the programme's close, whatever balance is left goes back to the treasury."""
        await workflow.sleep(terms.days(terms.programme_close_days), summary="programme close")
        async with self.money_lock:
            self.closed = True
            await workflow.execute_activity_method(
                TrainingActivities.return_balance,
                ReturnBalanceInput(registration_id=self.input.registration_id, reference="programme-close"),
                **DATABASE_CALL,
            )
            self.balance = 0

    async def _start_incentive_phase(self, terms: ProgrammeTerms) -> None:
        assert self.first_completion_at is not None
        windows = []
        for k, offset in enumerate(terms.survey_offsets_days[: terms.survey_count], start=1):
            opens = self.first_completion_at + terms.days(offset)
            windows.append(
                SurveyWindow(survey_no=k, opens_at=opens, closes_at=opens + terms.days(terms.survey_window_days))
            )
        self.survey_windows = windows
        await workflow.execute_activity_method(
            SurveyActivities.schedule_surveys,
            ScheduleSurveysInput(registration_id=self.input.registration_id, surveys=windows),
            **DATABASE_CALL,
        )
        self._set_status(JourneyStatus.INCENTIVES)

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
        try:
            await workflow.wait_condition(
                lambda: window.survey_no in self.surveys_submitted,
                timeout=left,
                timeout_summary=f"survey {window.survey_no} window",
            )
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

    async def _settle_payments(self) -> None:
        """After a revocation cancelled them, wait for payments to resolve what is already in flight."""
        for payment_id, handle in self.payments.items():
            if payment_id in self.paid:
                continue
            try:
                self.paid[payment_id] = (await handle).status.value
            except ChildWorkflowError:
                self.paid[payment_id] = "CANCELLED"

    async def _revoke(self, reasons: list[str]) -> JourneyResult:
        async with self.money_lock:
            self.finishing = True
            await workflow.execute_activity_method(
                ProgrammeActivities.revoke,
                RevokeInput(
                    registration_id=self.input.registration_id,
                    nik_hash=self.input.nik_hash,
                    reasons=reasons,
                    prakerja_number=self.prakerja_number,
                    open_purchases=[ref for ref, s in self.purchase_status.items() if s == PurchaseStatus.PURCHASED],
                ),
                **PARTNER_CALL,
            )
            self.balance = 0
        return await self._end(JourneyStatus.REVOKED, reasons)

    async def _end(self, status: JourneyStatus, reasons: list[str]) -> JourneyResult:
        self.finishing = True
        self.reasons = list(reasons)
        self._set_status(status)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return JourneyResult(registration_id=self.input.registration_id, status=status, reasons=self.reasons)

    def _set_status(self, status: JourneyStatus, province: str | None = None) -> None:
        self.status = status
        updates = [SA_STATUS.value_set(status.value)]
        if province:
            updates.append(SA_PROVINCE.value_set(province))
        if self.wave_id:
            updates.append(SA_WAVE.value_set(self.wave_id))
        if self.terms:
            updates.append(SA_PROFILE.value_set(self.terms.profile))
        if self.account:
            updates.append(SA_PAYMENT_PARTNER.value_set(self.account.partner_client_code))
        updates.append(SA_ON_HOLD.value_set(bool(self.on_hold)))
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        lines = [f"**{self.status.value}**"]
        if self.reasons:
            lines.append("reasons: " + ", ".join(self.reasons))
        if self.wave_id:
            lines.append(f"wave: {self.wave_id}")
        if self.prakerja_number:
            lines.append(f"training balance: Rp {self.balance:,}")
        if self.purchases:
            done = sum(1 for s in self.purchase_status.values() if s == PurchaseStatus.COMPLETED)
            lines.append(f"purchases: {len(self.purchases)}, completed: {done}")
        if self.paid:
            lines.append("payments: " + ", ".join(f"{p.rsplit('-', 1)[-1]} {s}" for p, s in self.paid.items()))
        if self.on_hold:
            lines.append(f"payments on hold: {len(self.on_hold)}")
        return "\n\n".join(lines)

    # --- draw and revocation -------------------------------------------------------------------------

    @workflow.signal
    def draw_result(self, signal: DrawResultSignal) -> None:
        """A wave's draw result; applied once per wave, ignored once awarded or finished."""
        if signal.wave_id in self.draws_seen or self.terms is not None or self.finishing:
            return
        self.draws_seen.append(signal.wave_id)
        self.wave_id = signal.wave_id
        if signal.selected and signal.terms is not None:
            self.terms = signal.terms
        elif self.status in (JourneyStatus.WAITING_FOR_WAVE, JourneyStatus.NOT_SELECTED):
            self._set_status(JourneyStatus.NOT_SELECTED)

    @workflow.signal
    def revoke(self, signal: RevokeSignal) -> None:
        """Operator revocation: stops purchases and payments; the first one wins."""
        if self.revocation is None:
            self.revocation = signal

    # --- training: purchases (updates), completions and reviews (signals) ---------------------------

    @workflow.update
    async def purchase(self, update: PurchaseUpdate) -> PurchaseResult:
        """Debit the training balance for a course; the same purchase_ref again returns the same result."""
        async with self.money_lock:
            if update.purchase_ref not in self.purchases:
                self._check_purchase(update)  # again under the lock: a concurrent purchase may have spent it
                self.purchases[update.purchase_ref] = update
                self.purchase_status[update.purchase_ref] = PurchaseStatus.PURCHASED
                self.balance -= update.price
                self.purchase_results[update.purchase_ref] = PurchaseResult(
                    purchase_ref=update.purchase_ref, price=update.price, balance_remaining=self.balance
                )
                await workflow.execute_activity_method(
                    TrainingActivities.record_purchase,
                    RecordPurchaseInput(registration_id=self.input.registration_id, purchase=update),
                    **DATABASE_CALL,
                )
                self._set_status(self.status)
            return self.purchase_results[update.purchase_ref]

    @purchase.validator
    def _check_purchase(self, update: PurchaseUpdate) -> None:
        known = self.purchases.get(update.purchase_ref)
        if known is not None:
            if (known.course_id, known.marketplace_client_code) != (update.course_id, update.marketplace_client_code):
                raise refuse("PURCHASE_REF_CONFLICT", "purchase_ref already used for another purchase")
            return
        if self.revocation is not None or self.status == JourneyStatus.REVOKED:
            raise refuse("REVOKED", "the card is revoked")
        if self.prakerja_number is None or self.status not in SPENDING or self.finishing:
            raise refuse("NOT_AWARDED", "the card cannot buy training now")
        if self.closed:
            raise refuse("PROGRAMME_CLOSED", "the programme has closed")
        if update.price > self.balance:
            raise refuse("INSUFFICIENT_BALANCE", f"price {update.price} exceeds the remaining balance {self.balance}")

    @workflow.update
    async def cancel_purchase(self, update: CancelPurchaseUpdate) -> CancelPurchaseResult:
        """Cancel a purchase that was not completed and refund its price (once)."""
        async with self.money_lock:
            self._check_cancel(update)
            if self.purchase_status[update.purchase_ref] == PurchaseStatus.PURCHASED:
                self.purchase_status[update.purchase_ref] = PurchaseStatus.CANCELLED
                if not self.closed and not self.finishing:
                    self.balance += self.purchases[update.purchase_ref].price
                await workflow.execute_activity_method(TrainingActivities.cancel_purchase, update, **DATABASE_CALL)
            return CancelPurchaseResult(purchase_ref=update.purchase_ref, balance_remaining=self.balance)

    @cancel_purchase.validator
    def _check_cancel(self, update: CancelPurchaseUpdate) -> None:
        status = self.purchase_status.get(update.purchase_ref)
        if status is None:
            raise refuse("PURCHASE_NOT_FOUND", "no such purchase on this card")
        if status == PurchaseStatus.COMPLETED:
            raise refuse("PURCHASE_COMPLETED", "a completed training cannot be cancelled")
        if status == PurchaseStatus.PURCHASED and (self.finishing or self.revocation is not None):
            raise refuse("REVOKED", "the card is revoked")

    @workflow.signal
    def completion(self, signal: CompletionSignal) -> None:
        """A partner reports a completed training; only the first completion unlocks incentives."""
        status = self.purchase_status.get(signal.purchase_ref)
        if status != PurchaseStatus.PURCHASED:
            if status != PurchaseStatus.COMPLETED:
                self.ignored_signals.append(f"completion:{signal.purchase_ref}:{status}")
            return
        self.purchase_status[signal.purchase_ref] = PurchaseStatus.COMPLETED
        self.completed.append(signal.purchase_ref)
        if self.first_completion_at is None:
            self.first_completion_at = workflow.now()

    @workflow.signal
    def review(self, signal: ReviewSignal) -> None:
        """The beneficiary reviewed a completed training (required before the first incentive)."""
        if self.purchase_status.get(signal.purchase_ref) == PurchaseStatus.COMPLETED:
            self.reviewed.add(signal.purchase_ref)
        else:
            self.ignored_signals.append(f"review:{signal.purchase_ref}")

    # --- money: account linking (update), survey submissions and payment holds (signals) ------------

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
            raise refuse("PARTNER_UNAVAILABLE", "the payment partner did not answer; try again later") from None
        if kyc.verified:
            self.account = update
            self._set_status(self.status)
        return LinkAccountResult(verified=kyc.verified, reason=kyc.reason)

    @link_payment_account.validator
    def _check_link(self, update: LinkAccountUpdate) -> None:
        if self.revocation is not None or self.finishing or self.prakerja_number is None:
            raise refuse("NOT_AWARDED", "only an awarded, running journey can link a payment account")

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
        if self.status in (JourneyStatus.INCENTIVES, JourneyStatus.PAYMENT_ON_HOLD):
            self._set_status(JourneyStatus.PAYMENT_ON_HOLD if self.on_hold else JourneyStatus.INCENTIVES)

    @workflow.query
    def view(self) -> JourneyState:
        return JourneyState(
            registration_id=self.input.registration_id,
            status=self.status,
            reasons=self.reasons,
            balance=self.balance,
            purchases={ref: status.value for ref, status in self.purchase_status.items()},
            completed=self.completed,
            reviewed=sorted(self.reviewed),
            ignored_signals=self.ignored_signals,
            payment_partner=self.account.partner_client_code if self.account else None,
            payments=self.paid,
            surveys_submitted=sorted(self.surveys_submitted),
        )
