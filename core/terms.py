"""Programme terms: data, not code. A journey copies its terms when awarded, so later changes never reach it."""

from datetime import timedelta

from pydantic import BaseModel, Field

EXCLUDED_OCCUPATIONS = frozenset(
    {
        "CIVIL_SERVANT",
        "MILITARY",
        "POLICE",
        "VILLAGE_HEAD",
        "VILLAGE_OFFICIAL",
        "LEGISLATOR",
        "STATE_COMPANY_DIRECTOR",
        "REGIONAL_COMPANY_DIRECTOR",
    }
)


class ProgrammeTerms(BaseModel):
    """One cohort's terms. Durations are programme days; `time_scale` divides them for demos."""

    profile: str
    training_balance: int = Field(gt=0)
    incentive_amount: int = Field(gt=0)
    incentive_count: int = Field(ge=0)
    incentive_interval_days: int = 30
    survey_amount: int = Field(gt=0)
    survey_count: int = Field(ge=0)
    # Survey k opens survey_offsets_days[k-1] days after the first completion.
    survey_offsets_days: list[int]
    survey_window_days: int = 30
    purchase_deadline_days: int
    min_age: int = 18
    max_age: int | None = None
    excluded_occupations: list[str] = Field(default_factory=lambda: sorted(EXCLUDED_OCCUPATIONS))
    exclude_students: bool = True
    cross_programme_exclusion: bool
    max_per_kk: int = 2
    # Days after award at which any unused balance returns to the treasury (programme close).
    programme_close_days: int = 365
    time_scale: float = 1.0

    def days(self, n: float) -> timedelta:
        """A programme duration of `n` days, scaled for this deployment."""
        return timedelta(days=n) / self.time_scale


PROFILES: dict[str, ProgrammeTerms] = {
    "prakerja-2020": ProgrammeTerms(
        profile="prakerja-2020",
        training_balance=1_000_000,
        incentive_amount=600_000,
        incentive_count=4,
        survey_amount=50_000,
        survey_count=3,
        survey_offsets_days=[0, 30, 90],
        purchase_deadline_days=30,
        cross_programme_exclusion=True,
    ),
    "prakerja-2023": ProgrammeTerms(
        profile="prakerja-2023",
        training_balance=3_500_000,
        incentive_amount=600_000,
        incentive_count=1,
        survey_amount=50_000,
        survey_count=2,
        survey_offsets_days=[0, 30],
        purchase_deadline_days=15,
        max_age=64,
        cross_programme_exclusion=False,
    ),
}


def terms_for(profile: str, time_scale: float = 1.0) -> ProgrammeTerms:
    """The named profile's terms with this deployment's time scale applied; KeyError if unknown."""
    return PROFILES[profile].model_copy(update={"time_scale": time_scale})
