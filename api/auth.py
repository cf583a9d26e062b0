"""Who is calling: staff and beneficiary bearer tokens, HMAC-signed partner requests."""

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import ActorKind, set_actor
from api.context import get_session, get_settings, get_snapshot
from api.errors import ProblemError
from api.ratelimit import Caller, enforce
from core.domain import PartnerKind, Role
from core.problems import ProblemCode
from core.security import sign, signature_matches, token_hash, unseal
from core.settings import Settings
from db.models import Beneficiary, Partner, StaffToken

STAFF_COOKIE = "prakerja_staff"
ADMIN_STAFF_ID = "admin"

_Session = Annotated[AsyncSession, Depends(get_session)]
_Snapshot = Annotated[AsyncSession, Depends(get_snapshot)]
_Settings = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Staff:
    staff_id: str
    role: Role


@dataclass(frozen=True)
class AuthenticatedPartner:
    client_code: str
    kind: PartnerKind
    name: str


def unauthenticated(detail: str, code: str = ProblemCode.UNAUTHENTICATED, scheme: str = "Bearer") -> ProblemError:
    return ProblemError(401, code, detail, headers={"WWW-Authenticate": scheme})


def bad_signature(detail: str, code: ProblemCode) -> ProblemError:
    return unauthenticated(detail, code, scheme='HMAC-SHA256 realm="partners"')


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def find_staff(session: AsyncSession, settings: Settings, token: str) -> Staff | None:
    if hmac.compare_digest(token.encode(), settings.admin_token.encode()):
        return Staff(ADMIN_STAFF_ID, Role.ADMIN)
    row = await session.get(StaffToken, token_hash(token))
    return Staff(row.staff_id, Role(row.role)) if row else None


async def _staff(request: Request, session: AsyncSession, settings: Settings, allow_cookie: bool) -> Staff:
    token = bearer_token(request) or (request.cookies.get(STAFF_COOKIE) if allow_cookie else None)
    staff = await find_staff(session, settings, token) if token else None
    await release(session)
    if staff is None or token is None:
        raise unauthenticated("A valid staff bearer token is required.")
    await enforce(request, Caller.STAFF, token)  # keyed by a hash of the token
    set_actor(request, ActorKind.STAFF, staff.staff_id)
    return staff


async def current_staff(request: Request, session: _Session, settings: _Settings) -> Staff:
    """Any staff member, by `Authorization: Bearer`."""
    return await _staff(request, session, settings, allow_cookie=False)


async def current_staff_or_cookie(request: Request, session: _Session, settings: _Settings) -> Staff:
    """Any staff member, by bearer token or the console's `prakerja_staff` cookie (browser tools)."""
    return await _staff(request, session, settings, allow_cookie=True)


def require_role(*roles: Role) -> Callable[[Staff], Awaitable[Staff]]:
    """Dependency admitting staff with one of `roles`; admin is admitted everywhere."""

    async def check(staff: Annotated[Staff, Depends(current_staff)]) -> Staff:
        if staff.role is not Role.ADMIN and staff.role not in roles:
            raise ProblemError(403, ProblemCode.FORBIDDEN_ROLE, f"This action needs role {' or '.join(roles)}.")
        return staff

    return check


async def current_beneficiary(request: Request, session: _Session) -> Beneficiary:
    """The beneficiary whose registration token is presented as `Authorization: Bearer`."""
    found = await _beneficiary(request, session)
    await release(session)
    return found


async def current_beneficiary_in_snapshot(request: Request, snapshot: _Snapshot) -> Beneficiary:
    """The same, looked up in the request's read snapshot, for a view that reads in it anyway: one connection
    per request instead of two, and the view finds the beneficiary's row in the snapshot's identity map."""
    return await _beneficiary(request, snapshot)


async def _beneficiary(request: Request, session: AsyncSession) -> Beneficiary:
    token = bearer_token(request)
    query = select(Beneficiary).where(Beneficiary.token_hash == token_hash(token or ""))
    found = await session.scalar(query) if token else None
    if found is None:
        raise unauthenticated("A valid beneficiary token is required.")
    set_actor(request, ActorKind.BENEFICIARY, found.registration_id)
    return found


async def release(session: AsyncSession) -> None:
    """End the credential lookup's read transaction, which gives its connection back to the pool. A route that
    then opens a read snapshot takes a second connection: holding the first meanwhile, enough such requests at
    once would each wait for a connection none of them gives back, until the pool's 30 s timeout (seen at 20
    concurrent `GET /v1/me`: every one a 500). Nothing is written before authentication, and the session does
    not expire its objects on commit, so the caller's rows stay loaded."""
    await session.commit()


def path_with_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def current_partner(request: Request, session: _Session, settings: _Settings) -> AuthenticatedPartner:
    """The partner whose HMAC signature (X-Client-Code, X-Timestamp, X-Signature) verifies."""
    client_code = request.headers.get("X-Client-Code", "")
    timestamp, signature = request.headers.get("X-Timestamp", ""), request.headers.get("X-Signature", "")
    partner = await session.get(Partner, client_code) if client_code else None
    if partner is not None:
        set_actor(request, ActorKind.PARTNER, partner.client_code)  # refused calls are audited too
    if not (client_code and timestamp and signature):
        raise bad_signature("X-Client-Code, X-Timestamp and X-Signature are required.", ProblemCode.SIGNATURE_MISSING)
    if partner is None:
        raise bad_signature("Unknown client code.", ProblemCode.UNKNOWN_PARTNER)
    key = unseal(settings.secret_key, partner.sign_key_sealed)
    body = await request.body()
    expected = sign(key, client_code, timestamp, request.method, path_with_query(request), body)
    if not signature_matches(expected, signature):
        raise bad_signature("The request signature does not verify.", ProblemCode.SIGNATURE_INVALID)
    window = settings.signature_window_s
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(time.time() - int(timestamp)) > window:
        raise bad_signature("X-Timestamp is outside the accepted window.", ProblemCode.SIGNATURE_EXPIRED)
    await enforce(request, Caller.PARTNER, partner.client_code)
    return AuthenticatedPartner(partner.client_code, PartnerKind(partner.kind), partner.name)


def require_partner(*kinds: PartnerKind) -> Callable[[AuthenticatedPartner], Awaitable[AuthenticatedPartner]]:
    """Dependency admitting signed partners of one of `kinds` only."""

    async def check(
        partner: Annotated[AuthenticatedPartner, Depends(current_partner)],
    ) -> AuthenticatedPartner:
        if partner.kind not in kinds:
            raise ProblemError(
                403, ProblemCode.FORBIDDEN_PARTNER_KIND, f"This endpoint is for {' or '.join(kinds)} partners."
            )
        return partner

    return check
