"""Eligibility: programme rules of the pinned profile, cross-programme exclusion, family-card cap, blacklist."""

from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from adapters.social_affairs import SocialAffairs
from core.contracts import CheckEligibilityInput, EligibilityResult
from core.domain import JourneyStatus, Reason, WaveStatus
from core.terms import ProgrammeTerms
from db import projection
from db.models import KkSlot, NikBlacklist, Wave
from services import profiles


def age_on(day: date, born: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def rule_reasons(input: CheckEligibilityInput, today: date) -> list[str]:
    terms: ProgrammeTerms = input.terms
    a = input.applicant
    age = age_on(today, a.date_of_birth)
    occupations = {a.occupation.upper(), (input.registered_occupation or "").upper()}
    checks = [
        (age < terms.min_age, Reason.UNDER_AGE),
        (terms.max_age is not None and age > terms.max_age, Reason.OVER_AGE),
        (bool(occupations & set(terms.excluded_occupations)), Reason.EXCLUDED_OCCUPATION),
        (terms.exclude_students and a.is_student, Reason.STUDENT),
    ]
    return [reason for failed, reason in checks if failed]


async def _open_wave_terms(session: AsyncSession, registered: ProgrammeTerms) -> ProgrammeTerms:
    """The rules of the wave whose pool the applicant would join: the open wave's profile, else the terms the
    journey started with (no wave open yet)."""
    profile = await session.scalar(select(Wave.profile).where(Wave.status == WaveStatus.OPEN).limit(1))
    if profile is None or profile == registered.profile:
        return registered
    terms = await profiles.get(session, profile)
    return registered if terms is None else terms.model_copy(update={"time_scale": registered.time_scale})


def _today() -> date:
    return datetime.now(UTC).date()


class EligibilityActivities:
    def __init__(
        self,
        social_affairs: SocialAffairs,
        sessions: async_sessionmaker[AsyncSession],
        today: Callable[[], date] = _today,
    ) -> None:
        self.social_affairs = social_affairs
        self.sessions = sessions
        self.today = today

    @activity.defn
    async def check_eligibility(self, input: CheckEligibilityInput) -> EligibilityResult:
        """Apply every rule and report every failing one; an eligible applicant joins the open wave's pool."""
        async with self.sessions() as session:
            beneficiary = await projection.get(session, input.registration_id)
            if beneficiary is not None and "eligibility" in beneficiary.detail:
                return EligibilityResult.model_validate(beneficiary.detail["eligibility"])
            input = input.model_copy(update={"terms": await _open_wave_terms(session, input.terms)})
        reasons = rule_reasons(input, self.today())
        if input.terms.cross_programme_exclusion:
            if (await self.social_affairs.check(input.applicant.nik)).receives_assistance:
                reasons.append(Reason.RECEIVES_OTHER_ASSISTANCE)
        async with self.sessions.begin() as session:
            if await session.get(NikBlacklist, input.nik_hash) is not None:
                reasons.append(Reason.PREVIOUSLY_REVOKED)
        # Only an otherwise eligible applicant takes one of the family card's slots.
        if not reasons and not await self._claim_kk_slot(input):
            reasons.append(Reason.KK_LIMIT_REACHED)
        return await self._record(input.registration_id, reasons)

    async def _claim_kk_slot(self, input: CheckEligibilityInput) -> bool:
        """Race-safe: each slot is a primary key, so two applicants can never hold the same one."""
        for slot in range(1, input.terms.max_per_kk + 1):
            try:
                async with self.sessions.begin() as session:
                    held = await session.scalar(select(KkSlot).where(KkSlot.registration_id == input.registration_id))
                    if held is not None:
                        return True
                    session.add(KkSlot(kk_hash=input.kk_hash, slot=slot, registration_id=input.registration_id))
                return True
            except IntegrityError:
                continue
        return False

    async def _record(self, registration_id: str, reasons: list[str]) -> EligibilityResult:
        async with self.sessions.begin() as session:
            wave_id = None
            if not reasons:
                wave_id = await session.scalar(select(Wave.wave_id).where(Wave.status == WaveStatus.OPEN).limit(1))
            result = EligibilityResult(reasons=reasons, wave_id=wave_id)
            beneficiary = await projection.update_unless_revoked(
                session,
                registration_id,
                status=JourneyStatus.INELIGIBLE if reasons else JourneyStatus.WAITING_FOR_WAVE,
                reasons=list(reasons),
                in_pool=not reasons,
                wave_id=wave_id,
            )
            if beneficiary is not None:
                # "at" dates the check on the journey's timeline; EligibilityResult ignores it when read back.
                checked = {**result.model_dump(mode="json"), "at": datetime.now(UTC).isoformat()}
                await projection.remember(session, beneficiary, "eligibility", checked)
            return result
