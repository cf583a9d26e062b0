"""The beneficiary journey: one long-lived workflow per applicant, from registration to the last payment.

Checks → pool → award → training (purchases, completions, reviews) → incentives and surveys → COMPLETED.
An operator's revocation interrupts whatever phase is running; money moved so far is settled first.

One workflow class holds every handler; its state lives in plain objects by idea, each with its own rules:
`TrainingLedger` (workflows/training.py: purchases, completions, reviews, the deadline's rule, what a purchase or a
cancellation is refused for), `SurveySchedule` (workflows/surveys.py), `IncentivePhase` (workflows/journey_money.py:
the payment account, the payments and their holds), `SearchAttributes` (workflows/journey_status.py).
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any, Unpack

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.eligibility import EligibilityActivities
    from activities.identity import IdentityActivities
    from activities.programme import ProgrammeActivities
    from activities.screening import ScreeningActivities
    from activities.training import SurveyActivities, TrainingActivities
    from core.contracts import (
        AwardInput,
        AwardResult,
        CancelPurchaseResult,
        CancelPurchaseUpdate,
        CheckEligibilityInput,
        CompletionSignal,
        DrawResultSignal,
        EligibilityResult,
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
        ScreenApplicantInput,
        StartJourneyInput,
        SurveySignal,
        SurveyWindow,
        VerifyIdentityInput,
        survey_windows,
    )
    from core.domain import JourneyStatus, PurchaseStatus, Reason
    from core.payments import PaymentHoldSignal
    from core.problems import ProblemCode
    from core.temporal import SA_ON_HOLD, SA_PAYMENT_PARTNER, SA_PROFILE, SA_PROVINCE, SA_STATUS, SA_WAVE
    from core.terms import ProgrammeTerms
    from workflows.journey_money import IncentivePhase
    from workflows.journey_status import BEFORE_PAYMENTS, SPENDING, SearchAttributes, details, refuse
    from workflows.options import (
        DATABASE_CALL,
        PARTNER_CALL,
        SCREENING_CALL,
        ActivityMethod,
        ActivityOptions,
        ArgT,
        ResultT,
    )
    from workflows.surveys import SurveySchedule
    from workflows.training import Card, TrainingLedger
    from workflows.versions import (
        since_lean_journey,
        since_local_payments,
        since_one_activity_payments,
        since_written_ahead,
    )

# How long a purchase waits inside the journey for an award being written (its card is already in the ledger).
AWARD_WAIT = timedelta(seconds=30)


@workflow.defn
class BeneficiaryJourney:
    """Phases in order, then the handlers: the draw, the calendar and revocation (signals), purchases and
    cancellations (updates), completions and reviews (signals), account linking (update), surveys and holds."""

    input: StartJourneyInput

    def __init__(self) -> None:
        self.status = JourneyStatus.REGISTERED
        self.reasons: list[str] = []
        self.revocation: RevokeSignal | None = None
        self.finishing = False  # past this point a revocation no longer interrupts (the journey is ending)
        self.closed = False  # the programme's close date has passed: the balance went back to the treasury
        self.ignored_signals: list[str] = []
        self.money_lock = asyncio.Lock()  # balance moves and revocation never interleave
        # The draw and the award.
        self.wave_id: str | None = None
        self.draws_seen: list[str] = []
        self.terms: ProgrammeTerms | None = None
        self.drawn_award: AwardResult | None = None  # the card the draw wrote (journeys since WRITTEN_AHEAD)
        self.prakerja_number: str | None = None
        self.balance = 0
        # Dates pinned at the award: the deadline (journeys since ONE_ACTIVITY_PAYMENTS), the close (on a wave's
        # calendar, which tells of both: journeys since LEAN_JOURNEY drawn with one).
        self.purchase_deadline: datetime | None = None
        self.closes_at: datetime | None = None
        self.calendar = False
        self.deadline_told = False
        self.close_told = False
        # The parts with rules of their own.
        self.training = TrainingLedger()
        self.surveys = SurveySchedule()
        self.money = IncentivePhase(self)
        self.attributes = SearchAttributes()

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
        if since_one_activity_payments():
            # The body's parts are tasks (gather): one may still be finishing a payment call it started.
            await workflow.wait_condition(lambda: self.money.paying == 0)
        else:
            await self.money.settle()
        # Since ONE_ACTIVITY_PAYMENTS the revocation is booked at once, even while a partner is down: payments in
        # flight were asked to stop (nothing new is sent), settle in their own workflows, and one that still ends
        # PAID joins the clawback when the ledger records it (`PaymentActivities.mark_paid`).
        return await self._revoke(self._revocation_reasons())

    def _revocation_reasons(self) -> list[str]:
        """An operator's revocation ends with REVOKED_BY_OPERATOR; a civil registry's life event with its own code
        (DECEASED, NIK_DEACTIVATED). Journeys revoked before the code existed never carry one."""
        assert self.revocation is not None
        if self.revocation.reason_code and (
            since_one_activity_payments() or workflow.patched("life-event-revocation-reason")
        ):
            return [self.revocation.reason_code]
        return [Reason.REVOKED_BY_OPERATOR]

    async def _journey(self) -> JourneyResult:
        input = self.input
        self.set_status(JourneyStatus.VERIFYING, province=input.applicant.province)
        if since_lean_journey():
            return await self._screened()
        identity = await workflow.execute_activity_method(
            IdentityActivities.verify_identity,
            VerifyIdentityInput(registration_id=input.registration_id, applicant=input.applicant),
            **PARTNER_CALL,
        )
        self.stop_if_revoked()
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
        self.stop_if_revoked()
        return await self._after_checks(eligibility)

    async def _screened(self) -> JourneyResult:
        """Both checks in one activity (journeys since LEAN_JOURNEY): the same outcomes as the two steps."""
        screening = await workflow.execute_activity_method(
            ScreeningActivities.screen_applicant,
            ScreenApplicantInput.model_validate(self.input, from_attributes=True),  # its applicant, hashes, terms
            **SCREENING_CALL,
        )
        self.stop_if_revoked()
        if screening.identity.reasons or screening.eligibility is None:
            return await self._end(JourneyStatus.REJECTED, screening.identity.reasons)
        return await self._after_checks(screening.eligibility)

    async def _after_checks(self, eligibility: EligibilityResult) -> JourneyResult:
        if eligibility.reasons:
            return await self._end(JourneyStatus.INELIGIBLE, eligibility.reasons)
        self.wave_id = eligibility.wave_id
        self.set_status(JourneyStatus.WAITING_FOR_WAVE)
        await workflow.wait_condition(lambda: self.terms is not None)
        await self._award()
        return await self._training()

    async def _award(self) -> None:
        assert self.terms is not None and self.wave_id is not None
        award = self.drawn_award  # written by the draw (journeys since WRITTEN_AHEAD), or by an activity of ours
        if award is None:
            award = await self._step(
                ProgrammeActivities.award,
                AwardInput(registration_id=self.input.registration_id, wave_id=self.wave_id, terms=self.terms),
                **DATABASE_CALL,
            )
        self.prakerja_number = award.prakerja_number
        self.balance = award.balance
        self.set_status(JourneyStatus.AWARDED)
        self.stop_if_revoked()

    async def _training(self) -> JourneyResult:
        terms = self.terms
        assert terms is not None
        if self._on_calendar():
            self.closes_at = workflow.now() + terms.days(terms.programme_close_days)
        closing = asyncio.create_task(self._close_programme(terms))
        deadline = workflow.now() + terms.days(terms.purchase_deadline_days)
        if since_one_activity_payments():
            if not await self._deadline_met(deadline):
                self.finishing = True
                return await self._revoke([Reason.PURCHASE_DEADLINE_MISSED])
        else:
            try:
                await workflow.wait_condition(
                    lambda: self.training.recorded > 0,
                    timeout=terms.days(terms.purchase_deadline_days),
                    timeout_summary="first purchase deadline",
                )
                if workflow.patched("deadline-needs-a-purchase-kept"):
                    await self._keep_a_purchase_until(deadline)
            except TimeoutError:
                self.finishing = True
                return await self._revoke([Reason.PURCHASE_DEADLINE_MISSED])
        if self.status != JourneyStatus.TRAINING:
            self.set_status(JourneyStatus.TRAINING)
        await workflow.wait_condition(lambda: bool(self.training.completed) or self.closed)
        if not self.training.completed:
            self.finishing = True
            if since_one_activity_payments() or workflow.patched("close-settles-before-ending"):
                # The close is booking the balance back: let it finish, then record the end in the projection.
                await closing
                await self._return_balance("programme-close", JourneyStatus.COMPLETED, [Reason.NO_TRAINING_COMPLETED])
            return await self._end(JourneyStatus.COMPLETED, [Reason.NO_TRAINING_COMPLETED])
        await self._start_incentive_phase(terms)
        await self.money.run(terms)
        self.finishing = True
        closing.cancel()
        await self._return_balance("journey-completed", JourneyStatus.COMPLETED)
        return await self._end(JourneyStatus.COMPLETED, [])

    async def _deadline_met(self, deadline: datetime) -> bool:
        """One timer for the first-purchase deadline: met by a training completed before it, or by a purchase kept
        (not cancelled) through it. Purchases at or after it are refused by the update's validator, judged by the
        workflow's clock, so none is accepted between the deadline and this timer's callback."""
        self.purchase_deadline = deadline
        if self._on_calendar():
            return await self._deadline_met_by_calendar(deadline)
        passed = asyncio.ensure_future(workflow.sleep(deadline - workflow.now(), summary="first purchase deadline"))
        await workflow.wait_condition(lambda: self.training.recorded > 0 or passed.done())
        if self.training.recorded > 0 and self.status != JourneyStatus.TRAINING:
            self.set_status(JourneyStatus.TRAINING)
        await workflow.wait_condition(lambda: bool(self.training.completed) or passed.done())
        if not passed.done():
            passed.cancel()
        return self.training.deadline_met()

    async def _deadline_met_by_calendar(self, deadline: datetime) -> bool:
        """As `_deadline_met`, with no timer: a training completed before the deadline meets it (the common path:
        the calendar then tells this journey nothing); otherwise the wave's calendar tells it the deadline came.
        Told before its own deadline (its award came later than the others'), it waits out the rest."""
        await workflow.wait_condition(lambda: self.training.recorded > 0 or self.deadline_told)
        if self.training.recorded > 0 and self.status != JourneyStatus.TRAINING:
            self.set_status(JourneyStatus.TRAINING)
        await workflow.wait_condition(lambda: bool(self.training.completed) or self.deadline_told)
        if not self.training.completed and (left := deadline - workflow.now()) > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: bool(self.training.completed), timeout=left, timeout_summary="first purchase deadline"
                )
            except TimeoutError:
                pass
        return self.training.deadline_met()

    async def _keep_a_purchase_until(self, deadline: datetime) -> None:
        """A purchase cancelled before the deadline does not meet it: if every one is cancelled in time, wait
        for a new one; TimeoutError when the deadline passes without one kept. A completed training (it cannot
        be cancelled) meets it at once."""

        def kept() -> bool:
            return self.training.kept() > 0

        while (left := (deadline - workflow.now()).total_seconds()) > 0:
            if self.status != JourneyStatus.TRAINING:
                self.set_status(JourneyStatus.TRAINING)
            try:
                await workflow.wait_condition(
                    lambda: not kept() or bool(self.training.completed), timeout=left, timeout_summary="deadline"
                )
            except TimeoutError:
                return  # a purchase was kept through the deadline
            if self.training.completed:
                return
            left = (deadline - workflow.now()).total_seconds()
            if left <= 0:
                raise TimeoutError()
            await workflow.wait_condition(kept, timeout=left, timeout_summary="first purchase deadline")

    async def _close_programme(self, terms: ProgrammeTerms) -> None:
        """At the programme's close, whatever balance is left goes back to the treasury."""
        if self.closes_at is not None:  # on a wave calendar: told by it, then the rest of its own time, if any
            await workflow.wait_condition(lambda: self.close_told)
            if (left := self.closes_at - workflow.now()) > timedelta(0):
                await workflow.sleep(left, summary="programme close")
        else:
            await workflow.sleep(terms.days(terms.programme_close_days), summary="programme close")
        async with self.money_lock:
            self.closed = True
            await self._return_balance("programme-close")

    async def _return_balance(
        self, reference: str, status: JourneyStatus | None = None, reasons: list[str] | None = None
    ) -> None:
        """What is left of the training balance goes back to the treasury (once per reference)."""
        await workflow.execute_activity_method(
            TrainingActivities.return_balance,
            ReturnBalanceInput(
                registration_id=self.input.registration_id, reference=reference, status=status, reasons=reasons or []
            ),
            **DATABASE_CALL,
        )
        self.balance = 0

    async def _start_incentive_phase(self, terms: ProgrammeTerms) -> None:
        anchor = self.training.surveys_from
        if anchor is not None and since_written_ahead():
            # The API recorded these windows with the first completion, counted from `anchor`: nothing to publish.
            self._open_surveys(survey_windows(terms, anchor))
        else:
            first_completion_at = self.training.first_completion_at
            assert first_completion_at is not None
            windows = survey_windows(terms, first_completion_at)
            self._open_surveys(windows)
            await self._step(
                SurveyActivities.schedule_surveys,
                ScheduleSurveysInput(registration_id=self.input.registration_id, surveys=windows),
                **DATABASE_CALL,
            )
        self.set_status(JourneyStatus.INCENTIVES)
        self.stop_if_revoked()

    def _open_surveys(self, windows: list[SurveyWindow]) -> None:
        for survey_no in self.surveys.open(windows):  # answers that came before the windows and do not fit them
            self.ignored_signals.append(f"survey:{survey_no}")

    async def _revoke(self, reasons: list[str]) -> JourneyResult:
        async with self.money_lock:
            self.finishing = True
            revoked = await workflow.execute_activity_method(
                ProgrammeActivities.revoke,
                RevokeInput(
                    registration_id=self.input.registration_id,
                    nik_hash=self.input.nik_hash,
                    reasons=reasons,
                    prakerja_number=self.prakerja_number,
                    open_purchases=self.training.open_refs(),
                ),
                **PARTNER_CALL,
            )
            self.balance = 0
            if since_local_payments():
                await self.money.resolve_unrecorded(revoked.unsettled, (self.terms or self.input.terms).time_scale)
        return await self._end(JourneyStatus.REVOKED, reasons)

    async def _end(self, status: JourneyStatus, reasons: list[str]) -> JourneyResult:
        self.finishing = True
        self.reasons = list(reasons)
        self.set_status(status)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return JourneyResult(registration_id=self.input.registration_id, status=status, reasons=self.reasons)

    # --- how a step runs, and how the journey shows itself ----------------------------------------------

    def _on_calendar(self) -> bool:
        """The deadline and the close come from the wave's calendar, not from timers of the journey's own."""
        return self.calendar and since_lean_journey()

    async def _step(
        self, activity: ActivityMethod[ArgT, ResultT], arg: ArgT, **options: Unpack[ActivityOptions]
    ) -> ResultT:
        """A database step of the journey's body. A revocation arriving meanwhile lets it finish, so its writes
        (an award's credit) land before the revocation books everything back; the `stop_if_revoked()` after
        each step then lets the revocation win. (Partner checks are not waited for: an outage may last long.
        Their activities leave a revoked projection alone instead.)"""
        if not (since_one_activity_payments() or workflow.patched("steps-finish-before-revocation")):
            return await workflow.execute_activity_method(activity, arg, **options)
        step = asyncio.ensure_future(workflow.execute_activity_method(activity, arg, **options))
        try:
            return await asyncio.shield(step)
        except asyncio.CancelledError:
            return await step

    def stop_if_revoked(self) -> None:
        """Call after any step whose result can arrive in the same task as a revocation: the step then
        finished despite `run()` cancelling the body, and the revocation must still win before the next."""
        if self.revocation is not None and not self.finishing:
            raise asyncio.CancelledError()

    def set_status(self, status: JourneyStatus, province: str | None = None) -> None:
        """Move to `status` and show it: search attributes (what changed) and the current details."""
        self.status = status
        account, on_hold = self.money.account, self.money.on_hold
        values: dict[str, Any] = {SA_STATUS.name: status.value}
        if province:
            values[SA_PROVINCE.name] = province
        if self.wave_id:
            values[SA_WAVE.name] = self.wave_id
        if self.terms:
            values[SA_PROFILE.name] = self.terms.profile
        if account and (status not in BEFORE_PAYMENTS or not since_lean_journey()):
            # Since LEAN_JOURNEY an account linked during training is published with the incentive phase's status,
            # not by an upsert of its own: the attribute is for finding the journeys a partner pays.
            values[SA_PAYMENT_PARTNER.name] = account.partner_client_code
        values[SA_ON_HOLD.name] = bool(on_hold)
        self.attributes.publish(values, only_changes=since_one_activity_payments())
        workflow.set_current_details(
            details(
                status,
                self.reasons,
                self.wave_id,
                self.terms.profile if self.terms else None,
                self.balance if self.prakerja_number else None,
                self.training,
                self.money.paid,
                len(on_hold),
            )
        )

    # --- the draw, the wave's calendar, revocation (signals) ------------------------------------------

    @workflow.signal
    def draw_result(self, signal: DrawResultSignal) -> None:
        """A wave's draw result; applied once per wave, ignored once awarded or finished."""
        if signal.wave_id in self.draws_seen or self.terms is not None or self.finishing:
            return
        self.draws_seen.append(signal.wave_id)
        self.wave_id = signal.wave_id
        if signal.selected and signal.terms is not None:
            self.terms = signal.terms
            self.calendar = signal.calendar
            if signal.award is not None and since_written_ahead():
                self.drawn_award = signal.award
        elif self.status in (JourneyStatus.WAITING_FOR_WAVE, JourneyStatus.NOT_SELECTED):
            self.set_status(JourneyStatus.NOT_SELECTED)

    @workflow.signal
    def purchase_deadline_reached(self) -> None:
        """The wave's calendar: the first-purchase deadline has come (sent to journeys not past their training)."""
        self.deadline_told = True

    @workflow.signal
    def programme_closed(self) -> None:
        """The wave's calendar: the programme has closed (sent to journeys still running)."""
        self.close_told = True

    @workflow.signal
    def revoke(self, signal: RevokeSignal) -> None:
        """Operator revocation or a civil registry's life event: stops purchases and payments; the first one wins."""
        if self.revocation is None:
            self.revocation = signal

    # --- training: purchases and cancellations (updates), completions and reviews (signals) -----------

    @workflow.update
    async def purchase(self, update: PurchaseUpdate) -> PurchaseResult:
        """Debit the training balance for a course; the same purchase_ref again returns the same result."""
        if not self._awarded():
            # Drawn, and the award is being written: the card already exists in the ledger (the marketplace found
            # it), so wait for the award here, briefly, instead of refusing NOT_AWARDED and making clients poll.
            try:
                await workflow.wait_condition(
                    lambda: self._awarded() or self.revocation is not None or self.finishing,
                    timeout=AWARD_WAIT,
                    timeout_summary="award being written",
                )
            except TimeoutError:
                pass  # the check below refuses it
        async with self.money_lock:
            # Again under the lock: a concurrent purchase may have spent the balance or taken the purchase_ref.
            self._check_purchase(update)
            if update.purchase_ref not in self.training.purchases:
                self.balance -= update.price
                self.training.add(update, balance_remaining=self.balance)
                try:
                    await workflow.execute_activity_method(
                        TrainingActivities.record_purchase,
                        RecordPurchaseInput(
                            registration_id=self.input.registration_id,
                            purchase=update,
                            surveys_at_completion=since_written_ahead(),
                        ),
                        **DATABASE_CALL,
                    )
                except ActivityError:
                    # The ledger refused it: the same purchase_ref won the race on another card. Undo.
                    self.training.undo(update.purchase_ref)
                    self.balance += update.price
                    raise refuse(ProblemCode.PURCHASE_REF_CONFLICT, "purchase_ref was used for another card") from None
                self.training.record()
                self.set_status(self.status)
            return self.training.results[update.purchase_ref]

    @purchase.validator
    def _validate_purchase(self, update: PurchaseUpdate) -> None:
        if update.purchase_ref in self.training.purchases or not self._award_in_progress():
            self._check_purchase(update)
        # else: the handler waits for the award being written, then checks

    def _check_purchase(self, update: PurchaseUpdate) -> None:
        now = workflow.now()  # the deadline and, on a wave calendar, the close: judged by the workflow's clock, not
        # by whether a timer's callback or the calendar's word has arrived yet
        card = Card(
            revoked=self.revocation is not None or self.status == JourneyStatus.REVOKED,
            spending=self.prakerja_number is not None and self.status in SPENDING and not self.finishing,
            closed=self.closed or (self.closes_at is not None and now >= self.closes_at),
            deadline_passed=self.purchase_deadline is not None and now >= self.purchase_deadline,
            balance=self.balance,
        )
        if (refusal := self.training.purchase_refusal(update, card)) is not None:
            raise refuse(*refusal)

    def _awarded(self) -> bool:
        return self.prakerja_number is not None

    def _award_in_progress(self) -> bool:
        """Selected in a draw (the award activity writes the card) but the award's result has not landed yet. (A card
        the draw wrote before its signal reached this journey is refused NOT_AWARDED until the signal lands: the API
        retries that gap for a moment, `services.purchases.AWARD_GAP_RETRIES`.)"""
        return (
            self.terms is not None and self.prakerja_number is None and self.revocation is None and not self.finishing
        )

    @workflow.update
    async def cancel_purchase(self, update: CancelPurchaseUpdate) -> CancelPurchaseResult:
        """Cancel a purchase that was not completed and refund its price (once)."""
        async with self.money_lock:
            self._check_cancel(update)
            if self.training.status[update.purchase_ref] == PurchaseStatus.PURCHASED:
                returned = self.closed or self.finishing
                # The ledger decides a race with a completion: the API records a completion there before it
                # signals us, and the activity cancels only a row still PURCHASED.
                try:
                    await workflow.execute_activity_method(
                        TrainingActivities.cancel_purchase,
                        update.model_copy(update={"balance_returned": returned}),
                        **DATABASE_CALL,
                    )
                except ActivityError:
                    raise refuse(ProblemCode.PURCHASE_COMPLETED, "the training was completed meanwhile") from None
                self.training.cancel(update.purchase_ref)
                if not returned:
                    self.balance += self.training.purchases[update.purchase_ref].price
            return CancelPurchaseResult(purchase_ref=update.purchase_ref, balance_remaining=self.balance)

    @cancel_purchase.validator
    def _check_cancel(self, update: CancelPurchaseUpdate) -> None:
        stopping = self.finishing or self.revocation is not None
        if (refusal := self.training.cancel_refusal(update.purchase_ref, stopping)) is not None:
            raise refuse(*refusal)

    @workflow.signal
    def completion(self, signal: CompletionSignal) -> None:
        """A partner reports a completed training; only the first completion unlocks incentives."""
        ignored = self.training.complete(signal.purchase_ref, workflow.now(), signal.surveys_from)
        if ignored is not None:
            self.ignored_signals.append(ignored)

    @workflow.signal
    def review(self, signal: ReviewSignal) -> None:
        """The beneficiary reviewed a completed training (required before the first incentive)."""
        if not self.training.review(signal.purchase_ref):
            self.ignored_signals.append(f"review:{signal.purchase_ref}")

    # --- money: account linking (update), survey submissions and payment holds (signals) ------------

    @workflow.update
    async def link_payment_account(self, update: LinkAccountUpdate) -> LinkAccountResult:
        """e-KYC the account at its payment partner (same NIK); unpaid instalments then go to it."""
        return await self.money.link(update)

    @link_payment_account.validator
    def _check_link(self, update: LinkAccountUpdate) -> None:
        if self.revocation is not None or self.finishing or self.prakerja_number is None:
            raise refuse(ProblemCode.NOT_AWARDED, "only an awarded, running journey can link a payment account")

    @workflow.signal
    def survey_submitted(self, signal: SurveySignal) -> None:
        """A survey answered inside its window (the API checked it); each survey counts once."""
        if not self.surveys.submit(signal.survey_no, signal.submitted_at):
            self.ignored_signals.append(f"survey:{signal.survey_no}")

    @workflow.signal(name="payment_hold")  # declared for the payments in workflows/payment_hold.py
    def payment_hold(self, signal: PaymentHoldSignal) -> None:
        """A payment went on hold (or left it): the journey shows PAYMENT_ON_HOLD while any is."""
        self.money.hold(signal)

    @workflow.query
    def view(self) -> JourneyState:
        return JourneyState(
            registration_id=self.input.registration_id,
            status=self.status,
            reasons=self.reasons,
            balance=self.balance,
            purchases={ref: status.value for ref, status in self.training.status.items()},
            completed=self.training.completed,
            reviewed=sorted(self.training.reviewed),
            ignored_signals=self.ignored_signals,
            payment_partner=self.money.account.partner_client_code if self.money.account else None,
            payments=self.money.paid,
            surveys_submitted=sorted(self.surveys.submitted),
        )
