"""The beneficiary journey: one long-lived workflow per applicant, from registration to the last payment."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.eligibility import EligibilityActivities
    from activities.identity import IdentityActivities
    from activities.programme import ProgrammeActivities
    from core.contracts import (
        AwardInput,
        CheckEligibilityInput,
        DrawResultSignal,
        JourneyResult,
        RevokeInput,
        RevokeSignal,
        StartJourneyInput,
        VerifyIdentityInput,
    )
    from core.domain import JourneyStatus, Reason
    from core.temporal import SA_PROFILE, SA_PROVINCE, SA_STATUS, SA_WAVE
    from core.terms import ProgrammeTerms
    from workflows.options import DATABASE_CALL, PARTNER_CALL


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
        self.purchases: dict[str, int] = {}

    @workflow.run
    async def run(self, input: StartJourneyInput) -> JourneyResult:
        self.input = input
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
        await workflow.wait_condition(lambda: self.terms is not None or self.revocation is not None)
        if self.revocation is not None:
            return await self._revoke([Reason.REVOKED_BY_OPERATOR])
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
        assert self.terms is not None
        deadline = self.terms.days(self.terms.purchase_deadline_days)
        try:
            await workflow.wait_condition(
                lambda: bool(self.purchases) or self.revocation is not None,
                timeout=deadline,
                timeout_summary="first purchase deadline",
            )
        except TimeoutError:
            return await self._revoke([Reason.PURCHASE_DEADLINE_MISSED])
        if self.revocation is not None:
            return await self._revoke([Reason.REVOKED_BY_OPERATOR])
        # Training and payments (journey parts 2 and 3) continue from here.
        self._set_status(JourneyStatus.TRAINING)
        await workflow.wait_condition(lambda: self.revocation is not None)
        return await self._revoke([Reason.REVOKED_BY_OPERATOR])

    async def _revoke(self, reasons: list[str]) -> JourneyResult:
        await workflow.execute_activity_method(
            ProgrammeActivities.revoke,
            RevokeInput(
                registration_id=self.input.registration_id,
                nik_hash=self.input.nik_hash,
                reasons=reasons,
                prakerja_number=self.prakerja_number,
            ),
            **PARTNER_CALL,
        )
        self.balance = 0
        return await self._end(JourneyStatus.REVOKED, reasons)

    async def _end(self, status: JourneyStatus, reasons: list[str]) -> JourneyResult:
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
        return "\n\n".join(lines)

    @workflow.signal
    def draw_result(self, signal: DrawResultSignal) -> None:
        """A wave's draw result; applied once per wave, ignored once awarded or finished."""
        if signal.wave_id in self.draws_seen or self.terms is not None:
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

    @workflow.query
    def view(self) -> JourneyResult:
        return JourneyResult(registration_id=self.input.registration_id, status=self.status, reasons=self.reasons)
