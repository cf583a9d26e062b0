"""Creating and withdrawing a registration row (the projection's first write)."""

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import JourneyStatus
from core.security import seal
from db.models import Beneficiary, PendingSelfie


def add(
    session: AsyncSession,
    *,
    registration_id: str,
    nik_hash: str,
    kk_hash: str,
    token_hash: str,
    province: str,
    profile: str,
    selfie_b64: str,
    secret_key: str,
) -> None:
    """Stage a registration; committing raises IntegrityError when the NIK hash already has a journey."""
    session.add(
        Beneficiary(
            registration_id=registration_id,
            nik_hash=nik_hash,
            kk_hash=kk_hash,
            token_hash=token_hash,
            status=JourneyStatus.REGISTERED,
            reasons=[],
            province=province,
            profile=profile,
            detail={},
        )
    )
    session.add(PendingSelfie(registration_id=registration_id, selfie_sealed=seal(secret_key, selfie_b64)))


async def withdraw(session: AsyncSession, registration_id: str) -> None:
    """Remove a registration whose journey never started, so the applicant can try again."""
    await session.execute(delete(PendingSelfie).where(PendingSelfie.registration_id == registration_id))
    await session.execute(delete(Beneficiary).where(Beneficiary.registration_id == registration_id))
    await session.commit()
