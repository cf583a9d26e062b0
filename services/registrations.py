"""Registering an applicant and starting their journey: one NIK, one journey, ever."""

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from adapters.messaging import MessageGateway
from core.contracts import Applicant, StartJourneyInput, journey_id
from core.domain import JourneyStatus
from core.problems import ProblemCode
from core.security import kk_hash, new_token, nik_hash, token_hash
from core.temporal import journey_start_attributes, started
from core.terms import terms_for
from db import registrations
from services import life_events, verification
from services.errors import Refused
from workflows.journey import BeneficiaryJourney

log = logging.getLogger("prakerja.api.registration")


@dataclass(frozen=True)
class Enrolment:
    """How this process enrols applicants (from its settings)."""

    secret_key: str
    profile: str
    time_scale: float
    task_queue: str
    verify_contact: bool  # the journey waits until the code sent to the phone is confirmed


@dataclass(frozen=True)
class Register:
    applicant: Applicant
    phone: str
    selfie_b64: str


@dataclass(frozen=True)
class Registered:
    registration_id: str
    status: JourneyStatus
    beneficiary_token: str  # shown once; only its hash is stored


def new_registration_id() -> str:
    return "REG-" + secrets.token_hex(8).upper()


async def register(
    session: AsyncSession, client: Client, enrolment: Enrolment, cmd: Register, messages: MessageGateway | None
) -> Registered:
    """Record the registration and start its journey, or hold it for the phone's code; 409
    NIK_ALREADY_REGISTERED, 409 NIK_NOT_ELIGIBLE, 503 TEMPORAL_UNAVAILABLE (then nothing stays registered)."""
    registration_id, token = new_registration_id(), new_token("bnf")
    hashed_nik = nik_hash(enrolment.secret_key, cmd.applicant.nik)

    def stage() -> None:
        registrations.add(
            session,
            registration_id=registration_id,
            nik_hash=hashed_nik,
            kk_hash=kk_hash(enrolment.secret_key, cmd.applicant.kk_number),
            token_hash=token_hash(token),
            province=cmd.applicant.province,
            profile=enrolment.profile,
            selfie_b64=cmd.selfie_b64,
            secret_key=enrolment.secret_key,
        )

    stage()
    if not await _committed(session):
        # The NIK is taken; only an unconfirmed registration abandoned long enough gives it up to this one.
        if not await verification.release_if_abandoned(session, hashed_nik, datetime.now(UTC)):
            raise Refused(409, ProblemCode.NIK_ALREADY_REGISTERED, "This NIK already has a journey.")
        stage()
        if not await _committed(session):
            raise Refused(409, ProblemCode.NIK_ALREADY_REGISTERED, "This NIK already has a journey.")
    await life_events.admit_registration(session, registration_id, hashed_nik)  # 409 NIK_NOT_ELIGIBLE
    if enrolment.verify_contact:
        assert messages is not None
        await verification.hold(session, registration_id, cmd.applicant, cmd.phone, enrolment.secret_key, messages)
        return Registered(registration_id, JourneyStatus.PENDING_VERIFICATION, token)
    await start_or_withdraw(session, client, enrolment, registration_id, cmd.applicant, hashed_nik)
    return Registered(registration_id, JourneyStatus.REGISTERED, token)


async def confirm_contact(
    session: AsyncSession, client: Client, enrolment: Enrolment, registration_id: str, code: str, hashed_nik: str
) -> None:
    """Check the one-time code (services.verification's refusals) and start the journey."""
    applicant = await verification.confirm(session, registration_id, code, enrolment.secret_key)
    # A start that fails keeps the registration confirmed: calling again (any code) starts it then.
    await start_or_withdraw(session, client, enrolment, registration_id, applicant, hashed_nik, withdraw=False)
    await verification.started(session, registration_id)


async def _committed(session: AsyncSession) -> bool:
    """Commit the staged registration; False when the unique NIK hash says the NIK is taken (race-free)."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def start_or_withdraw(
    session: AsyncSession,
    client: Client,
    enrolment: Enrolment,
    registration_id: str,
    applicant: Applicant,
    hashed_nik: str,
    withdraw: bool = True,
) -> None:
    """Start the journey; when that fails, withdraw the registration (unless `withdraw` is False) and refuse
    503 TEMPORAL_UNAVAILABLE."""
    try:
        await _start_journey(client, enrolment, registration_id, applicant, hashed_nik)
    except Exception as err:  # Temporal unreachable or refusing: nothing may stay half-registered ...
        # ... unless the start reached the server and only its answer was lost: then the journey runs.
        if not await started(client, journey_id(registration_id)):
            log.warning("journey %s could not start: %s", registration_id, type(err).__name__)
            if withdraw:
                await registrations.withdraw(session, registration_id)
            raise Refused(
                503, ProblemCode.TEMPORAL_UNAVAILABLE, "The journey could not be started; try again."
            ) from err


async def _start_journey(
    client: Client, enrolment: Enrolment, registration_id: str, applicant: Applicant, hashed_nik: str
) -> None:
    await client.start_workflow(
        BeneficiaryJourney.run,
        StartJourneyInput(
            registration_id=registration_id,
            applicant=applicant,
            nik_hash=hashed_nik,
            kk_hash=kk_hash(enrolment.secret_key, applicant.kk_number),
            terms=terms_for(enrolment.profile, enrolment.time_scale),
        ),
        id=journey_id(registration_id),
        task_queue=enrolment.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=journey_start_attributes(applicant.province, enrolment.profile),
        static_summary=f"Beneficiary journey {registration_id}",
    )
