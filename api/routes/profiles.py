"""Programme terms as data: admins define named profiles; operators open waves under them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.audit import add_audit_detail
from api.auth import require_role
from api.deps import AdminDep, SessionDep
from api.errors import problem_responses
from core.domain import Role
from core.terms import ProgrammeTerms
from services import profiles

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=problem_responses(401, 403, 422))

Rupiah = Annotated[StrictInt, Field(gt=0, le=1_000_000_000_000, description="Integer rupiah.")]
Days = Annotated[StrictInt, Field(gt=0, le=profiles.MAX_PROGRAMME_DAYS)]
Count = Annotated[StrictInt, Field(ge=0, le=120)]


class ProfileDefinition(BaseModel):
    """One programme's terms. Durations are programme days; survey k opens survey_offsets_days[k-1] days after
    the first completed training."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")
    training_balance: Rupiah
    incentive_amount: Rupiah
    incentive_count: Count
    incentive_interval_days: Days
    survey_amount: Rupiah
    survey_count: Count
    survey_offsets_days: list[Annotated[StrictInt, Field(ge=0, le=profiles.MAX_PROGRAMME_DAYS)]] = Field(max_length=120)
    survey_window_days: Days
    purchase_deadline_days: Days
    min_age: Annotated[StrictInt, Field(ge=profiles.MIN_AGE, le=profiles.MAX_AGE)]
    max_age: Annotated[StrictInt, Field(ge=profiles.MIN_AGE, le=profiles.MAX_AGE)] | None = None
    excluded_occupations: list[Annotated[str, Field(pattern=r"^[A-Z_]{2,64}$")]] = Field(max_length=100)
    exclude_students: StrictBool
    cross_programme_exclusion: StrictBool
    max_per_kk: Annotated[StrictInt, Field(ge=1, le=20)]
    programme_close_days: Days

    def terms(self) -> ProgrammeTerms:
        return ProgrammeTerms(**self.model_dump())


class ProfileList(BaseModel):
    items: list[ProgrammeTerms]


@router.post("/profiles", status_code=201, response_model=ProgrammeTerms, responses=problem_responses(409))
async def define_profile(
    body: ProfileDefinition, admin: AdminDep, session: SessionDep, request: Request
) -> ProgrammeTerms:
    """Define a programme profile. It never changes once defined (journeys pin it): the same body again is
    201, different terms under an existing name are 409 `PROFILE_EXISTS`; unusable terms are 422 `INVALID_PROFILE`."""
    add_audit_detail(request, profile=body.profile)
    return await profiles.define(session, body.terms(), admin.staff_id)


@router.get("/profiles", response_model=ProfileList, dependencies=[Depends(require_role(Role.OPERATOR))])
async def list_profiles(session: SessionDep) -> ProfileList:
    """The built-in profiles and those admins defined (admins and operators)."""
    return ProfileList(items=await profiles.all_profiles(session))
