"""Beneficiary endpoints: registration (no auth) and the beneficiary's own journey view."""

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.deps import (
    BeneficiaryDep,
    ContextDep,
    SessionDep,
    SettingsDep,
    SnapshotBeneficiaryDep,
    SnapshotDep,
    TemporalDep,
)
from api.errors import ProblemError, problem_responses
from api.schemas import JourneyView, RegistrationRequest, RegistrationResponse
from api.views import journey_view
from core.contracts import Applicant
from core.domain import JourneyStatus, SurveyStatus
from core.problems import ProblemCode
from core.settings import Settings
from services import accounts, registrations, reviews, surveys, verification

router = APIRouter(prefix="/v1", tags=["beneficiary"])


def _enrolment(settings: Settings) -> registrations.Enrolment:
    return registrations.Enrolment(
        settings.secret_key, settings.profile, settings.time_scale, settings.task_queue, settings.verify_contact
    )


@router.post(
    "/registrations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegistrationResponse,
    responses=problem_responses(409, 503),
)
async def register(
    body: RegistrationRequest, session: SessionDep, settings: SettingsDep, client: TemporalDep, ctx: ContextDep
) -> RegistrationResponse:
    """Register an applicant and start their journey. One NIK, one journey, ever: a repeat is 409.
    With PRAKERJA_VERIFY_CONTACT the journey waits (`PENDING_VERIFICATION`) until the code sent to `phone` is
    confirmed at `POST /v1/me/verification`."""
    cmd = registrations.Register(_applicant(body), body.phone, body.selfie_b64)
    done = await registrations.register(session, client, _enrolment(settings), cmd, ctx.messages)
    return RegistrationResponse(
        registration_id=done.registration_id, status=done.status, beneficiary_token=done.beneficiary_token
    )


def _applicant(body: RegistrationRequest) -> Applicant:
    return Applicant(
        nik=body.nik,
        kk_number=body.kk_number,
        full_name=body.full_name,
        date_of_birth=body.date_of_birth,
        province=body.province,
        occupation=body.occupation,
        is_student=body.is_student,
    )


class VerificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^\d{6}$")


class VerificationResult(BaseModel):
    registration_id: str
    status: JourneyStatus


@router.post("/me/verification", response_model=VerificationResult, responses=problem_responses(401, 409))
async def verify_contact(
    body: VerificationRequest,
    beneficiary: BeneficiaryDep,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> VerificationResult:
    """Confirm the one-time code sent to the registration's phone: the journey starts. A wrong code is 422
    `VERIFICATION_FAILED` (with `attempts_left`); after five, or once expired, ask for a new code."""
    rid = beneficiary.registration_id
    await registrations.confirm_contact(session, client, _enrolment(settings), rid, body.code, beneficiary.nik_hash)
    return VerificationResult(registration_id=rid, status=JourneyStatus.REGISTERED)


@router.post("/me/verification/code", status_code=status.HTTP_202_ACCEPTED, responses=problem_responses(401, 409, 503))
async def resend_code(
    beneficiary: BeneficiaryDep, session: SessionDep, settings: SettingsDep, ctx: ContextDep
) -> VerificationResult:
    """Send a new code to the registration's phone (the previous one stops working); at most three per
    registration."""
    assert ctx.messages is not None
    await verification.send_code(session, beneficiary.registration_id, settings.secret_key, ctx.messages)
    return VerificationResult(registration_id=beneficiary.registration_id, status=JourneyStatus.PENDING_VERIFICATION)


@router.get("/me", response_model=JourneyView, responses=problem_responses(401, 404))
async def me(beneficiary: SnapshotBeneficiaryDep, snapshot: SnapshotDep) -> JourneyView:
    """The signed-in beneficiary's journey: status, reasons, card, balance, purchases, payments, surveys."""
    view = await journey_view(snapshot, beneficiary.registration_id)
    if view is None:  # withdrawn between the token check and this read
        raise ProblemError(404, ProblemCode.REGISTRATION_NOT_FOUND, "No such registration.")
    return view


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: StrictInt = Field(ge=1, le=5)
    text: str = Field("", max_length=2000)


class ReviewResponse(BaseModel):
    purchase_ref: str
    rating: int


@router.post("/me/trainings/{purchase_ref}/review", responses=problem_responses(401, 404, 409, 503))
async def review(
    purchase_ref: str, body: ReviewRequest, beneficiary: BeneficiaryDep, session: SessionDep, client: TemporalDep
) -> ReviewResponse:
    """Review a completed training of one's own (required before the first incentive); the course's rating in
    the catalogue counts it at once."""
    cmd = reviews.ReviewTraining(purchase_ref, body.rating, body.text)
    await reviews.review_training(session, client, beneficiary, cmd)
    return ReviewResponse(purchase_ref=purchase_ref, rating=body.rating)


class PaymentAccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    partner_client_code: str = Field(min_length=1, max_length=64)
    account_number: str = Field(pattern=r"^[0-9+]{6,32}$")


class PaymentAccountResponse(BaseModel):
    status: str
    partner_client_code: str


@router.put("/me/payment-account", responses=problem_responses(401, 409, 503))
async def link_payment_account(
    body: PaymentAccountRequest, beneficiary: BeneficiaryDep, session: SessionDep, client: TemporalDep
) -> PaymentAccountResponse:
    """Link (or switch to) an account at a payment partner; it must pass that partner's e-KYC for your NIK."""
    cmd = accounts.LinkAccount(beneficiary.registration_id, body.partner_client_code, body.account_number)
    await accounts.link_payment_account(session, client, cmd)
    return PaymentAccountResponse(status="VERIFIED", partner_client_code=body.partner_client_code)


class SurveyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Any] = Field(max_length=200)


class SurveyResponseBody(BaseModel):
    survey_no: int
    status: SurveyStatus


@router.post("/me/surveys/{survey_no}", responses=problem_responses(401, 404, 409, 503))
async def submit_survey(
    survey_no: int, body: SurveyRequest, beneficiary: BeneficiaryDep, session: SessionDep, client: TemporalDep
) -> SurveyResponseBody:
    """Answer survey `survey_no` inside its window; it pays its incentive once."""
    await surveys.submit_survey(session, client, beneficiary, surveys.SubmitSurvey(survey_no, body.answers))
    return SurveyResponseBody(survey_no=survey_no, status=SurveyStatus.SUBMITTED)
