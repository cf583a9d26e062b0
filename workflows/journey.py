"""The beneficiary journey: one long-lived workflow per applicant, from registration to the last payment.

Checks → pool → award → training (purchases, completions, reviews) → incentives and surveys → COMPLETED.
An operator's revocation interrupts whatever phase is running; money moved so far is settled first.
"""

import asyncio
from datetime import datetime, timedelta

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
        CheckEligibilityInput,
        DrawResultSignal,
        EligibilityResult,
        JourneyResult,
        JourneyState,
        ReturnBalanceInput,
        RevokeInput,
        RevokeSignal,
        ScheduleSurveysInput,
        ScreenApplicantInput,
        StartJourneyInput,
        SurveyWindow,
        VerifyIdentityInput,
        survey_windows,
    )
    from core.domain import JourneyStatus, Reason
    from core.terms import ProgrammeTerms
    from workflows.journey_money import MoneyHandlers
    from workflows.journey_training import TrainingHandlers
    from workflows.options import DATABASE_CALL, PARTNER_CALL, SCREENING_CALL
    from workflows.versions import (
        since_lean_journey,
        since_one_activity_payments,
        since_written_ahead,
    )


@workflow.defn
class BeneficiaryJourney(TrainingHandlers, MoneyHandlers):
    """Phases in order; the handlers of each part live in journey_training.py and journey_money.py."""

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
            await workflow.wait_condition(lambda: self.paying == 0)
        else:
            await self._settle_payments()
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
        self._set_status(JourneyStatus.VERIFYING, province=input.applicant.province)
        if since_lean_journey():
            return await self._screened()
        identity = await workflow.execute_activity_method(
            IdentityActivities.verify_identity,
            VerifyIdentityInput(registration_id=input.registration_id, applicant=input.applicant),
            **PARTNER_CALL,
        )
        self._stop_if_revoked()
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
        self._stop_if_revoked()
        return await self._after_checks(eligibility)

    async def _screened(self) -> JourneyResult:
        """Both checks in one activity (journeys since LEAN_JOURNEY): the same outcomes as the two steps."""
        screening = await workflow.execute_activity_method(
            ScreeningActivities.screen_applicant,
            ScreenApplicantInput.model_validate(self.input, from_attributes=True),  # its applicant, hashes, terms
            **SCREENING_CALL,
        )
        self._stop_if_revoked()
        if screening.identity.reasons or screening.eligibility is None:
            return await self._end(JourneyStatus.REJECTED, screening.identity.reasons)
        return await self._after_checks(screening.eligibility)

    async def _after_checks(self, eligibility: EligibilityResult) -> JourneyResult:
        if eligibility.reasons:
            return await self._end(JourneyStatus.INELIGIBLE, eligibility.reasons)
        self.wave_id = eligibility.wave_id
        self._set_status(JourneyStatus.WAITING_FOR_WAVE)
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
        self._set_status(JourneyStatus.AWARDED)
        self._stop_if_revoked()

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
            self._set_status(JourneyStatus.TRAINING)
        await workflow.wait_condition(lambda: bool(self.training.completed) or self.closed)
        if not self.training.completed:
            self.finishing = True
            if since_one_activity_payments() or workflow.patched("close-settles-before-ending"):
                # The close is booking the balance back: let it finish, then record the end in the projection.
                await closing
                await self._return_balance("programme-close", JourneyStatus.COMPLETED, [Reason.NO_TRAINING_COMPLETED])
            return await self._end(JourneyStatus.COMPLETED, [Reason.NO_TRAINING_COMPLETED])
        await self._start_incentive_phase(terms)
        await self._money(terms)
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
            self._set_status(JourneyStatus.TRAINING)
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
            self._set_status(JourneyStatus.TRAINING)
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
                self._set_status(JourneyStatus.TRAINING)
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
        self._set_status(JourneyStatus.INCENTIVES)
        self._stop_if_revoked()

    def _open_surveys(self, windows: list[SurveyWindow]) -> None:
        for survey_no in self.surveys.open(windows):  # answers that came before the windows and do not fit them
            self.ignored_signals.append(f"survey:{survey_no}")

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
                    open_purchases=self.training.open_refs(),
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
            self._set_status(JourneyStatus.NOT_SELECTED)

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

    # --- training: purchases (updates), completions and reviews (signals) ---------------------------

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
            payment_partner=self.account.partner_client_code if self.account else None,
            payments=self.paid,
            surveys_submitted=sorted(self.surveys.submitted),
        )
