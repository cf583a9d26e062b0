"""State every part of the beneficiary journey shares, and how it is shown (search attributes, details)."""

import asyncio
from datetime import datetime
from typing import Any, Unpack

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ChildWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        AwardResult,
        LinkAccountUpdate,
        RevokeSignal,
        StartJourneyInput,
    )
    from core.domain import JourneyStatus
    from core.payments import DisburseResult, payment_label
    from core.problems import ProblemCode
    from core.temporal import SA_ON_HOLD, SA_PAYMENT_PARTNER, SA_PROFILE, SA_PROVINCE, SA_STATUS, SA_WAVE
    from core.terms import ProgrammeTerms
    from workflows.options import ActivityMethod, ActivityOptions, ArgT, ResultT
    from workflows.surveys import SurveySchedule
    from workflows.training import TrainingLedger
    from workflows.versions import since_lean_journey, since_one_activity_payments

_SEARCH_ATTRIBUTES: dict[str, Any] = {
    key.name: key for key in (SA_STATUS, SA_PROVINCE, SA_WAVE, SA_PROFILE, SA_PAYMENT_PARTNER, SA_ON_HOLD)
}
SPENDING = (JourneyStatus.AWARDED, JourneyStatus.TRAINING, JourneyStatus.INCENTIVES, JourneyStatus.PAYMENT_ON_HOLD)
# A payment account can be linked in these statuses before any payment is due (the incentive phase comes after).
BEFORE_PAYMENTS = (JourneyStatus.AWARDED, JourneyStatus.TRAINING)


def refuse(code: ProblemCode, message: str) -> ApplicationError:
    """A business refusal of an update; `type` is the API's problem code."""
    return ApplicationError(message, type=code, non_retryable=True)


class JourneyBase:
    input: StartJourneyInput

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
        self.training = TrainingLedger()
        self.ignored_signals: list[str] = []
        self.money_lock = asyncio.Lock()  # balance moves and revocation never interleave
        self.surveys = SurveySchedule()
        self.account: LinkAccountUpdate | None = None
        self.on_hold: set[str] = set()
        self.payments: dict[str, ChildWorkflowHandle[Any, DisburseResult]] = {}
        self.paid: dict[str, str] = {}
        self.paying = 0  # one-activity payments in progress (a revocation lets them finish before it books)
        self.published: dict[str, Any] | None = None  # search attributes as last set (start or upsert)
        self.purchase_deadline: datetime | None = None  # pinned at the award (journeys since ONE_ACTIVITY_PAYMENTS)
        # The wave's calendar tells of the deadline and the close (journeys since LEAN_JOURNEY drawn with one).
        self.calendar = False
        self.deadline_told = False
        self.close_told = False
        self.closes_at: datetime | None = None  # pinned at the award, for journeys on a wave calendar
        self.drawn_award: AwardResult | None = None  # the card the draw wrote (journeys since WRITTEN_AHEAD)

    def _on_calendar(self) -> bool:
        """The deadline and the close come from the wave's calendar, not from timers of the journey's own."""
        return self.calendar and since_lean_journey()

    async def _step(
        self, activity: ActivityMethod[ArgT, ResultT], arg: ArgT, **options: Unpack[ActivityOptions]
    ) -> ResultT:
        """A database step of the journey's body. A revocation arriving meanwhile lets it finish, so its writes
        (an award's credit) land before the revocation books everything back; the `_stop_if_revoked()` after
        each step then lets the revocation win. (Partner checks are not waited for: an outage may last long.
        Their activities leave a revoked projection alone instead.)"""
        if not (since_one_activity_payments() or workflow.patched("steps-finish-before-revocation")):
            return await workflow.execute_activity_method(activity, arg, **options)
        step = asyncio.ensure_future(workflow.execute_activity_method(activity, arg, **options))
        try:
            return await asyncio.shield(step)
        except asyncio.CancelledError:
            return await step

    def _stop_if_revoked(self) -> None:
        """Call after any step whose result can arrive in the same task as a revocation: the step then
        finished despite `run()` cancelling the body, and the revocation must still win before the next."""
        if self.revocation is not None and not self.finishing:
            raise asyncio.CancelledError()

    def _set_status(self, status: JourneyStatus, province: str | None = None) -> None:
        self.status = status
        values: dict[str, Any] = {SA_STATUS.name: status.value}
        if province:
            values[SA_PROVINCE.name] = province
        if self.wave_id:
            values[SA_WAVE.name] = self.wave_id
        if self.terms:
            values[SA_PROFILE.name] = self.terms.profile
        if self.account and (status not in BEFORE_PAYMENTS or not since_lean_journey()):
            # Since LEAN_JOURNEY an account linked during training is published with the incentive phase's status,
            # not by an upsert of its own: the attribute is for finding the journeys a partner pays.
            values[SA_PAYMENT_PARTNER.name] = self.account.partner_client_code
        values[SA_ON_HOLD.name] = bool(self.on_hold)
        if since_one_activity_payments():
            # Each upsert is a billable action and a history event: send only what changed since the start's
            # attributes and the last upsert.
            if self.published is None:
                self.published = {pair.key.name: pair.value for pair in workflow.info().typed_search_attributes}
            values = {name: value for name, value in values.items() if self.published.get(name) != value}
            self.published.update(values)
        if values:
            workflow.upsert_search_attributes([_SEARCH_ATTRIBUTES[name].value_set(v) for name, v in values.items()])
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        lines = [f"**{self.status.value}**"]
        if self.reasons:
            lines.append("reasons: " + ", ".join(self.reasons))
        if self.wave_id:
            lines.append(f"wave: {self.wave_id}")
        if self.terms:  # details are query metadata, not history: no replay concern
            lines.append(f"profile: {self.terms.profile}")
        if self.prakerja_number:
            lines.append(f"training balance: Rp {self.balance:,}")
        if self.training.purchases:
            lines.append(f"purchases: {len(self.training.purchases)}, completed: {self.training.completed_count()}")
        if self.paid:
            lines.append("payments: " + ", ".join(f"{payment_label(p)} {s}" for p, s in self.paid.items()))
        if self.on_hold:
            lines.append(f"payments on hold: {len(self.on_hold)}")
        return "\n\n".join(lines)

    # --- draw and revocation -------------------------------------------------------------------------
