"""Beneficiary endpoints: registration (no auth) and the beneficiary's own journey view."""

import logging
import secrets
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from api.deps import BeneficiaryDep, ContextDep, SessionDep, SettingsDep, SnapshotDep, TemporalDep
from api.errors import ProblemError, problem_responses
from api.schemas import JourneyView, RegistrationRequest, RegistrationResponse
from api.views import journey_view
from core.contracts import (
    Applicant,
    LinkAccountUpdate,
    ReviewSignal,
    StartJourneyInput,
    SurveySignal,
    journey_id,
)
from core.domain import FINAL_STATUSES, JourneyStatus, PartnerKind, PurchaseStatus, SurveyStatus
from core.problems import ProblemCode
from core.security import kk_hash, new_token, nik_hash, token_hash
from core.settings import Settings
from core.temporal import SA_PROFILE, SA_PROVINCE, SA_STATUS, started
from core.terms import PROFILES, terms_for
from db import registrations
from db.models import Beneficiary, Partner, Purchase, SurveyResponse
from services import catalogue, journey_calls, life_events, verification
from workflows.journey import BeneficiaryJourney

log = logging.getLogger("prakerja.api.registration")
router = APIRouter(prefix="/v1", tags=["beneficiary"])


def new_registration_id() -> str:
    return "REG-" + secrets.token_hex(8).upper()


@router.post("/registrations", status_code=status.HTTP_202_ACCEPTED, response_model=RegistrationResponse)
async def register(
    body: RegistrationRequest, session: SessionDep, settings: SettingsDep, client: TemporalDep, ctx: ContextDep
) -> RegistrationResponse:
    """Register an applicant and start their journey. One NIK, one journey, ever: a repeat is 409.
    With PRAKERJA_VERIFY_CONTACT the journey waits (`PENDING_VERIFICATION`) until the code sent to `phone` is
    confirmed at `POST /v1/me/verification`."""
    registration_id, token = new_registration_id(), new_token("bnf")
    hashed_nik = nik_hash(settings.secret_key, body.nik)
    stage = partial(
        registrations.add,
        session,
        registration_id=registration_id,
        nik_hash=hashed_nik,
        kk_hash=kk_hash(settings.secret_key, body.kk_number),
        token_hash=token_hash(token),
        province=body.province,
        profile=settings.profile,
        selfie_b64=body.selfie_b64,
        secret_key=settings.secret_key,
    )
    stage()
    if not await _committed(session):
        # The NIK is taken; only an unconfirmed registration abandoned long enough gives it up to this one.
        if not await verification.release_if_abandoned(session, hashed_nik, datetime.now(UTC)):
            raise ProblemError(409, ProblemCode.NIK_ALREADY_REGISTERED, "This NIK already has a journey.")
        stage()
        if not await _committed(session):
            raise ProblemError(409, ProblemCode.NIK_ALREADY_REGISTERED, "This NIK already has a journey.")
    await life_events.admit_registration(session, registration_id, hashed_nik)  # 409 NIK_NOT_ELIGIBLE
    applicant = _applicant(body)
    if settings.verify_contact:
        assert ctx.messages is not None
        await verification.hold(session, registration_id, applicant, body.phone, settings.secret_key, ctx.messages)
        status_ = JourneyStatus.PENDING_VERIFICATION
    else:
        await _start_or_withdraw(client, settings, session, registration_id, applicant, hashed_nik)
        status_ = JourneyStatus.REGISTERED
    return RegistrationResponse(registration_id=registration_id, status=status_, beneficiary_token=token)


async def _committed(session: SessionDep) -> bool:
    """Commit the staged registration; False when the unique NIK hash says the NIK is taken (race-free)."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


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


async def _start_or_withdraw(
    client: Client,
    settings: Settings,
    session: SessionDep,
    registration_id: str,
    applicant: Applicant,
    hashed_nik: str,
    withdraw: bool = True,
) -> None:
    try:
        await _start_journey(client, settings, registration_id, applicant, hashed_nik)
    except Exception as err:  # Temporal unreachable or refusing: nothing may stay half-registered ...
        # ... unless the start reached the server and only its answer was lost: then the journey runs.
        if not await started(client, journey_id(registration_id)):
            log.warning("journey %s could not start: %s", registration_id, type(err).__name__)
            if withdraw:
                await registrations.withdraw(session, registration_id)
            raise ProblemError(
                503, ProblemCode.TEMPORAL_UNAVAILABLE, "The journey could not be started; try again."
            ) from err


async def _start_journey(
    client: Client, settings: Settings, registration_id: str, applicant: Applicant, hashed_nik: str
) -> None:
    await client.start_workflow(
        BeneficiaryJourney.run,
        StartJourneyInput(
            registration_id=registration_id,
            applicant=applicant,
            nik_hash=hashed_nik,
            kk_hash=kk_hash(settings.secret_key, applicant.kk_number),
            terms=terms_for(settings.profile, settings.time_scale),
        ),
        id=journey_id(registration_id),
        task_queue=settings.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(SA_STATUS, JourneyStatus.REGISTERED.value),
                SearchAttributePair(SA_PROVINCE, applicant.province),
                SearchAttributePair(SA_PROFILE, settings.profile),
            ]
        ),
        static_summary=f"Beneficiary journey {registration_id}",
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
    applicant = await verification.confirm(session, rid, body.code, settings.secret_key)
    hashed_nik = beneficiary.nik_hash
    # A start that fails keeps the registration confirmed: calling again (any code) starts it then.
    await _start_or_withdraw(client, settings, session, rid, applicant, hashed_nik, withdraw=False)
    await verification.started(session, rid)
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
async def me(beneficiary: BeneficiaryDep, snapshot: SnapshotDep) -> JourneyView:
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
    purchase = await session.get(Purchase, purchase_ref)
    if purchase is None or purchase.registration_id != beneficiary.registration_id:
        raise ProblemError(404, ProblemCode.PURCHASE_NOT_FOUND, f"No training {purchase_ref} of yours.")
    if purchase.status != PurchaseStatus.COMPLETED:
        raise ProblemError(409, ProblemCode.TRAINING_NOT_COMPLETED, "Only a completed training can be reviewed.")
    # A journey that has reached its end may still run for a moment (settling, returning the balance) and would
    # take the signal: refuse on what the projection already says.
    if beneficiary.status in FINAL_STATUSES:
        raise ProblemError(409, ProblemCode.JOURNEY_FINISHED, f"The journey is already {beneficiary.status}.")
    # The journey first: a review it refuses (it has ended) must not show as recorded either.
    await journey_calls.signal(
        client,
        beneficiary.registration_id,
        BeneficiaryJourney.review,
        ReviewSignal(purchase_ref=purchase_ref, rating=body.rating),
    )
    # The review and its course's rating sum/count in one transaction: the catalogue never recounts.
    await catalogue.record_review(session, purchase, body.rating, body.text, datetime.now(UTC))
    await session.commit()
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
    partner = await session.get(Partner, body.partner_client_code)
    if partner is None or partner.kind != PartnerKind.PAYMENT:
        raise ProblemError(
            422, ProblemCode.UNKNOWN_PAYMENT_PARTNER, f"{body.partner_client_code} is not a payment partner."
        )
    result = await journey_calls.update(
        client,
        beneficiary.registration_id,
        BeneficiaryJourney.link_payment_account,
        LinkAccountUpdate(partner_client_code=body.partner_client_code, account_number=body.account_number),
        f"link-{uuid.uuid4().hex}",
    )
    if not result.verified:
        raise ProblemError(
            422,
            ProblemCode.EKYC_FAILED,
            f"The payment partner refused the account: {result.reason}.",
            extra={"reason": result.reason},
        )
    row = await session.get(Beneficiary, beneficiary.registration_id)
    assert row is not None
    row.payment_partner, row.payment_account = body.partner_client_code, body.account_number
    await session.commit()
    return PaymentAccountResponse(status="VERIFIED", partner_client_code=body.partner_client_code)


class SurveyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Any] = Field(max_length=200)


class SurveyResponseBody(BaseModel):
    survey_no: int
    status: SurveyStatus


def _survey_count(beneficiary: Beneficiary) -> int:
    """Surveys in the beneficiary's programme: the award's pinned terms (a custom profile's too), else the
    built-in profile the registration started under."""
    pinned = (beneficiary.detail or {}).get("terms")
    if pinned:
        return int(pinned.get("survey_count", 0))
    return PROFILES[beneficiary.profile].survey_count if beneficiary.profile in PROFILES else 0


@router.post("/me/surveys/{survey_no}", responses=problem_responses(401, 404, 409, 503))
async def submit_survey(
    survey_no: int, body: SurveyRequest, beneficiary: BeneficiaryDep, session: SessionDep, client: TemporalDep
) -> SurveyResponseBody:
    """Answer survey `survey_no` inside its window; it pays its incentive once."""
    window = next((w for w in (beneficiary.detail or {}).get("surveys", []) if w["survey_no"] == survey_no), None)
    if window is None:
        if 1 <= survey_no <= _survey_count(beneficiary):  # it exists, but has not opened yet
            raise ProblemError(409, ProblemCode.SURVEY_NOT_OPEN, f"Survey {survey_no} is not open yet.")
        raise ProblemError(404, ProblemCode.SURVEY_NOT_FOUND, f"There is no survey {survey_no} in your programme.")
    now = datetime.now(UTC)
    if not datetime.fromisoformat(window["opens_at"]) <= now < datetime.fromisoformat(window["closes_at"]):
        raise ProblemError(409, ProblemCode.SURVEY_NOT_OPEN, f"Survey {survey_no} is not open now.")
    session.add(
        SurveyResponse(
            registration_id=beneficiary.registration_id, survey_no=survey_no, answers=body.answers, submitted_at=now
        )
    )
    try:
        await session.commit()  # the (registration, survey) key admits one submission, even under a race
    except IntegrityError:
        raise ProblemError(
            409, ProblemCode.SURVEY_ALREADY_SUBMITTED, f"Survey {survey_no} was already submitted."
        ) from None
    try:
        await journey_calls.signal(
            client,
            beneficiary.registration_id,
            BeneficiaryJourney.survey_submitted,
            SurveySignal(survey_no=survey_no, submitted_at=now),
        )
    except Exception:
        # The journey never heard of it (Temporal unreachable, journey over): take the answer back, or the
        # beneficiary's next try would be refused as already submitted and the survey never paid.
        await session.execute(
            delete(SurveyResponse).where(
                SurveyResponse.registration_id == beneficiary.registration_id, SurveyResponse.survey_no == survey_no
            )
        )
        await session.commit()
        raise
    return SurveyResponseBody(survey_no=survey_no, status=SurveyStatus.SUBMITTED)
