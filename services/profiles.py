"""Programme terms as data: the built-in profiles, and those admins define (immutable once defined)."""

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.problems import ProblemCode
from core.terms import PROFILES, ProgrammeTerms
from db.models import ProgrammeProfile
from services.errors import Refused

MAX_PROGRAMME_DAYS = 3 * 365
MIN_AGE, MAX_AGE = 15, 100


def problems(terms: ProgrammeTerms) -> list[str]:
    """What makes a profile unusable, as codes (empty when it is sound)."""
    checks = [
        (len(terms.survey_offsets_days) != terms.survey_count, "SURVEY_OFFSETS_COUNT"),
        (any(d < 0 or d >= terms.programme_close_days for d in terms.survey_offsets_days), "SURVEY_OFFSET_OUTSIDE"),
        (terms.survey_offsets_days != sorted(terms.survey_offsets_days), "SURVEY_OFFSETS_ORDER"),
        (terms.survey_window_days <= 0, "SURVEY_WINDOW"),
        (terms.incentive_interval_days <= 0, "INCENTIVE_INTERVAL"),
        (
            terms.incentive_interval_days * max(terms.incentive_count - 1, 0) >= terms.programme_close_days,
            "INCENTIVES_OUTSIDE",
        ),  # fmt: skip
        (not 0 < terms.purchase_deadline_days < terms.programme_close_days, "PURCHASE_DEADLINE"),
        (not 0 < terms.programme_close_days <= MAX_PROGRAMME_DAYS, "PROGRAMME_CLOSE"),
        (not MIN_AGE <= terms.min_age <= MAX_AGE, "MIN_AGE"),
        (terms.max_age is not None and not terms.min_age <= terms.max_age <= MAX_AGE, "MAX_AGE"),
        (terms.max_per_kk < 1, "MAX_PER_KK"),
        (terms.time_scale != 1.0, "TIME_SCALE"),
    ]
    return [code for failed, code in checks if failed]


async def define(session: AsyncSession, terms: ProgrammeTerms, created_by: str) -> ProgrammeTerms:
    """Write a new profile. The same body again is accepted (a retried request); another under that name is not."""
    if found := problems(terms):
        raise Refused(
            422, ProblemCode.INVALID_PROFILE, "The terms are not usable: " + ", ".join(found), extra={"reasons": found}
        )
    existing = await get(session, terms.profile)
    if existing is not None:
        if existing == terms:
            return existing
        raise Refused(
            409, ProblemCode.PROFILE_EXISTS, f"Profile {terms.profile} exists with other terms; it never changes."
        )
    session.add(ProgrammeProfile(profile=terms.profile, terms=terms.model_dump(mode="json"), created_by=created_by))
    try:
        await session.commit()
    except IntegrityError:  # defined concurrently: equal terms are the same definition
        await session.rollback()
        return await define(session, terms, created_by)
    return terms


async def get(session: AsyncSession, name: str) -> ProgrammeTerms | None:
    if name in PROFILES:
        return PROFILES[name]
    row = await session.get(ProgrammeProfile, name)
    return ProgrammeTerms.model_validate(row.terms) if row else None


async def resolve(session: AsyncSession, name: str, time_scale: float = 1.0) -> ProgrammeTerms:
    """The named profile with this deployment's time scale; 422 UNKNOWN_PROFILE when there is none."""
    terms = await get(session, name)
    if terms is None:
        raise Refused(422, ProblemCode.UNKNOWN_PROFILE, f"No programme profile {name}.")
    return terms.model_copy(update={"time_scale": time_scale})


async def all_profiles(session: AsyncSession) -> list[ProgrammeTerms]:
    defined = await session.scalars(select(ProgrammeProfile).order_by(ProgrammeProfile.created_at))
    return [*PROFILES.values(), *(ProgrammeTerms.model_validate(r.terms) for r in defined)]


def resolver(
    sessions: async_sessionmaker[AsyncSession], time_scale: float
) -> Callable[[str], Awaitable[ProgrammeTerms]]:
    """For activities: a profile's scaled terms by name (built in, or defined in the database)."""

    async def terms_of(name: str) -> ProgrammeTerms:
        async with sessions() as session:
            return await resolve(session, name, time_scale)

    return terms_of
