"""Admins register the programme's partners and list courses directly in the catalogue."""

import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalogue import CourseStatus
from core.domain import PartnerKind
from core.problems import ProblemCode
from core.security import seal
from db.models import Course, Partner, utcnow
from services.errors import Refused


@dataclass(frozen=True)
class RegisterPartner:
    client_code: str
    kind: PartnerKind
    name: str


@dataclass(frozen=True)
class ListCourse:
    course_id: str
    title: str
    provider_client_code: str
    price: int


async def register_partner(session: AsyncSession, cmd: RegisterPartner, secret_key: str) -> str:
    """Register the partner and return its new signing key (stored sealed); 409 PARTNER_EXISTS on a repeat."""
    exists = Refused(409, ProblemCode.PARTNER_EXISTS, f"Partner {cmd.client_code} is already registered.")
    if await session.get(Partner, cmd.client_code) is not None:
        raise exists
    sign_key = secrets.token_hex(32)
    sealed = seal(secret_key, sign_key)
    session.add(Partner(client_code=cmd.client_code, kind=cmd.kind, name=cmd.name, sign_key_sealed=sealed))
    try:
        await session.commit()
    except IntegrityError:  # a concurrent registration of the same code won the race
        raise exists from None
    return sign_key


async def list_course(session: AsyncSession, cmd: ListCourse) -> None:
    """Add a course by a registered training provider (422 UNKNOWN_PROVIDER), approved at once; an unchanged
    repeat is harmless, a changed one is 409 COURSE_EXISTS."""
    provider = await session.get(Partner, cmd.provider_client_code)
    if provider is None or provider.kind != PartnerKind.TRAINING_PROVIDER:
        raise Refused(422, ProblemCode.UNKNOWN_PROVIDER, "provider_client_code is not a registered training provider.")
    existing = await session.get(Course, cmd.course_id)
    if existing is None:
        session.add(
            Course(
                course_id=cmd.course_id,
                title=cmd.title,
                provider_client_code=cmd.provider_client_code,
                price=cmd.price,
                status=CourseStatus.APPROVED,
                listed_at=utcnow(),
            )
        )
        try:
            await session.commit()
        except IntegrityError:  # a concurrent insert; compare with what it stored
            await session.rollback()
            existing = await session.get(Course, cmd.course_id)
    if (
        existing is not None
        and ListCourse(existing.course_id, existing.title, existing.provider_client_code, existing.price) != cmd
    ):
        raise Refused(409, ProblemCode.COURSE_EXISTS, f"Course {cmd.course_id} exists with different data.")
