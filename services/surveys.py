"""A beneficiary's survey answers: accepted once, inside the survey's window, and then paid by the journey."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from core.contracts import SurveySignal
from core.problems import ProblemCode
from core.terms import PROFILES
from db.models import Beneficiary, SurveyResponse
from services import journey_calls
from services.errors import Refused
from workflows.journey import BeneficiaryJourney


@dataclass(frozen=True)
class SubmitSurvey:
    survey_no: int
    answers: dict[str, Any]


def survey_count(beneficiary: Beneficiary) -> int:
    """Surveys in the beneficiary's programme: the award's pinned terms (a custom profile's too), else the
    built-in profile the registration started under."""
    pinned = (beneficiary.detail or {}).get("terms")
    if pinned:
        return int(pinned.get("survey_count", 0))
    return PROFILES[beneficiary.profile].survey_count if beneficiary.profile in PROFILES else 0


async def submit_survey(session: AsyncSession, client: Client, beneficiary: Beneficiary, cmd: SubmitSurvey) -> None:
    """Keep the answers (404 SURVEY_NOT_FOUND, 409 SURVEY_NOT_OPEN, 409 SURVEY_ALREADY_SUBMITTED) and tell the
    journey, which pays the survey's incentive once."""
    survey_no, registration_id = cmd.survey_no, beneficiary.registration_id
    window = next((w for w in (beneficiary.detail or {}).get("surveys", []) if w["survey_no"] == survey_no), None)
    if window is None:
        if 1 <= survey_no <= survey_count(beneficiary):  # it exists, but has not opened yet
            raise Refused(409, ProblemCode.SURVEY_NOT_OPEN, f"Survey {survey_no} is not open yet.")
        raise Refused(404, ProblemCode.SURVEY_NOT_FOUND, f"There is no survey {survey_no} in your programme.")
    now = datetime.now(UTC)
    if not datetime.fromisoformat(window["opens_at"]) <= now < datetime.fromisoformat(window["closes_at"]):
        raise Refused(409, ProblemCode.SURVEY_NOT_OPEN, f"Survey {survey_no} is not open now.")
    session.add(
        SurveyResponse(registration_id=registration_id, survey_no=survey_no, answers=cmd.answers, submitted_at=now)
    )
    try:
        await session.commit()  # the (registration, survey) key admits one submission, even under a race
    except IntegrityError:
        raise Refused(409, ProblemCode.SURVEY_ALREADY_SUBMITTED, f"Survey {survey_no} was already submitted.") from None
    try:
        await journey_calls.signal(
            client,
            registration_id,
            BeneficiaryJourney.survey_submitted,
            SurveySignal(survey_no=survey_no, submitted_at=now),
        )
    except Exception:
        # The journey never heard of it (Temporal unreachable, journey over): take the answer back, or the
        # beneficiary's next try would be refused as already submitted and the survey never paid.
        await session.execute(
            delete(SurveyResponse).where(
                SurveyResponse.registration_id == registration_id, SurveyResponse.survey_no == survey_no
            )
        )
        await session.commit()
        raise
