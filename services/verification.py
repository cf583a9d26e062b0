"""Contact verification before a journey starts (PRAKERJA_VERIFY_CONTACT): an anonymous registration costs a
database row and one SMS until the applicant proves the phone is theirs; only then do the workflow and its
partner calls (civil registry, biometrics) start. Codes are stored as keyed digests, with an expiry and a
bounded number of attempts; the applicant's data waits sealed with the secret key."""

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.errors import PartnerError
from adapters.messaging import MessageGateway
from core.contracts import Applicant
from core.domain import JourneyStatus
from core.problems import ProblemCode
from core.security import seal, unseal
from db import registrations
from db.models import Beneficiary
from services.errors import Refused

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_SENDS = 3
# How long an unconfirmed registration holds its NIK: after that a new registration of the NIK replaces it, so
# nobody can keep someone else's NIK from registering by never confirming.
PENDING_TTL = timedelta(hours=1)
KEY = "verification"


def _digest(secret_key: str, registration_id: str, code: str) -> str:
    return hmac.new(secret_key.encode(), f"otp:{registration_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


async def release_if_abandoned(session: AsyncSession, nik_hash: str, now: datetime) -> bool:
    """Withdraw an unconfirmed registration of this NIK older than PENDING_TTL; True if there was one."""
    held = await session.scalar(select(Beneficiary).where(Beneficiary.nik_hash == nik_hash))
    if held is None or held.status != JourneyStatus.PENDING_VERIFICATION:
        return False
    created = held.created_at if held.created_at.tzinfo else held.created_at.replace(tzinfo=UTC)
    if now - created < PENDING_TTL:
        return False
    await registrations.withdraw(session, held.registration_id)
    return True


async def hold(
    session: AsyncSession,
    registration_id: str,
    applicant: Applicant,
    phone: str,
    secret_key: str,
    gateway: MessageGateway,
) -> None:
    """Park the committed registration until its phone confirms a code, and send that code."""
    b = await session.get(Beneficiary, registration_id)
    assert b is not None
    waiting = {"applicant": applicant.model_dump(mode="json"), "phone": phone}
    b.status = JourneyStatus.PENDING_VERIFICATION
    b.detail = {**(b.detail or {}), KEY: {"sealed": seal(secret_key, json.dumps(waiting)), "sends": 0}}
    await session.commit()
    await send_code(session, registration_id, secret_key, gateway)


async def send_code(session: AsyncSession, registration_id: str, secret_key: str, gateway: MessageGateway) -> None:
    """A fresh code (the previous one stops working), at most MAX_SENDS per registration."""
    b, state = await _pending(session, registration_id)
    if state["sends"] >= MAX_SENDS:
        raise Refused(409, ProblemCode.VERIFICATION_SEND_LIMIT, "No more codes can be sent for this registration.")
    code = _new_code()
    expires = datetime.now(UTC) + CODE_TTL
    state = state | {"digest": _digest(secret_key, registration_id, code), "attempts": 0}
    state |= {"expires_at": expires.isoformat(), "sends": state["sends"] + 1}
    b.detail = {**b.detail, KEY: state}
    await session.commit()
    phone = json.loads(unseal(secret_key, state["sealed"]))["phone"]
    try:
        await gateway.send_code(phone, code)
    except PartnerError as err:
        raise Refused(503, ProblemCode.MESSAGING_UNAVAILABLE, "The code could not be sent; ask for another.") from err


async def confirm(session: AsyncSession, registration_id: str, code: str, secret_key: str) -> Applicant:
    """The applicant's data once the code matches (again after a confirmed code whose journey did not start)."""
    b, state = await _pending(session, registration_id)
    if not state.get("verified"):
        if state.get("attempts", 0) >= MAX_ATTEMPTS:
            raise Refused(409, ProblemCode.VERIFICATION_LOCKED, "Too many wrong codes: ask for a new one.")
        if datetime.now(UTC) >= datetime.fromisoformat(state["expires_at"]):
            raise Refused(409, ProblemCode.VERIFICATION_EXPIRED, "The code has expired: ask for a new one.")
        if not hmac.compare_digest(state["digest"], _digest(secret_key, registration_id, code)):
            attempts = state.get("attempts", 0) + 1
            b.detail = {**b.detail, KEY: state | {"attempts": attempts}}
            await session.commit()
            left = MAX_ATTEMPTS - attempts
            raise Refused(
                422, ProblemCode.VERIFICATION_FAILED, "That code is not right.", extra={"attempts_left": left}
            )
        b.detail = {**b.detail, KEY: state | {"verified": True}}
        await session.commit()
    return Applicant.model_validate(json.loads(unseal(secret_key, state["sealed"]))["applicant"])


async def started(session: AsyncSession, registration_id: str) -> None:
    """The journey runs: the registration is an ordinary one, and the parked data is gone."""
    b = await session.get(Beneficiary, registration_id, populate_existing=True)
    if b is not None and b.status == JourneyStatus.PENDING_VERIFICATION:
        b.status = JourneyStatus.REGISTERED
        b.detail = {k: v for k, v in b.detail.items() if k != KEY}
        await session.commit()


async def _pending(session: AsyncSession, registration_id: str) -> tuple[Beneficiary, dict]:
    b = await session.get(Beneficiary, registration_id, populate_existing=True)
    if b is None or b.status != JourneyStatus.PENDING_VERIFICATION or KEY not in (b.detail or {}):
        raise Refused(409, ProblemCode.VERIFICATION_NOT_PENDING, "This registration is not waiting for a code.")
    return b, dict(b.detail[KEY])
