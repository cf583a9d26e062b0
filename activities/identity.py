"""Identity verification: civil registry record and face check (liveness, 1:1 match, 1:N uniqueness)."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from adapters.biometrics import Biometrics, FaceCheck
from adapters.civil_registry import CitizenCheck, CivilRegistry
from core.contracts import IdentityResult, VerifyIdentityInput
from core.domain import JourneyStatus, Reason
from core.security import unseal
from db import projection
from db.models import PendingSelfie


def citizen_reasons(citizen: CitizenCheck) -> list[str]:
    if not citizen.found:
        return [Reason.NIK_NOT_FOUND]
    checks = [
        (not citizen.name_dob_match, Reason.NAME_DOB_MISMATCH),
        (not citizen.kk_match, Reason.KK_MISMATCH),
        (citizen.deceased, Reason.DECEASED),
    ]
    return [reason for failed, reason in checks if failed]


def face_reasons(face: FaceCheck, threshold: float) -> list[str]:
    checks = [
        (not face.liveness, Reason.LIVENESS_FAILED),
        (face.liveness and face.match_score < threshold, Reason.FACE_MISMATCH),
        (face.duplicate, Reason.DUPLICATE_FACE),
    ]
    return [reason for failed, reason in checks if failed]


class IdentityActivities:
    def __init__(
        self,
        civil_registry: CivilRegistry,
        biometrics: Biometrics,
        sessions: async_sessionmaker[AsyncSession],
        face_match_threshold: float,
        secret_key: str,
    ) -> None:
        self.civil_registry = civil_registry
        self.biometrics = biometrics
        self.sessions = sessions
        self.threshold = face_match_threshold
        self.secret_key = secret_key  # unseals the pending selfie

    @activity.defn
    async def verify_identity(self, input: VerifyIdentityInput) -> IdentityResult:
        """Check the civil registry, then the face; the selfie is deleted once the partner has answered."""
        async with self.sessions() as session:
            beneficiary = await projection.get(session, input.registration_id)
            if beneficiary is not None and "identity" in beneficiary.detail:
                return IdentityResult.model_validate(beneficiary.detail["identity"])
            selfie = await session.get(PendingSelfie, input.registration_id)
        a = input.applicant
        citizen = await self.civil_registry.verify(a.nik, a.kk_number, a.full_name, a.date_of_birth)
        reasons = citizen_reasons(citizen)
        if citizen.found:
            if selfie is None:
                reasons.append(Reason.LIVENESS_FAILED)  # no face was ever captured for this registration
            else:
                face = unseal(self.secret_key, selfie.selfie_sealed)
                reasons += face_reasons(await self.biometrics.check(a.nik, face), self.threshold)
        result = IdentityResult(reasons=reasons, registered_occupation=citizen.occupation)
        await self._record(input.registration_id, result)
        return result

    async def _record(self, registration_id: str, result: IdentityResult) -> None:
        async with self.sessions.begin() as session:
            selfie = await session.get(PendingSelfie, registration_id)
            if selfie is not None:
                await session.delete(selfie)  # the partner has answered: the face goes, whatever happens next
            beneficiary = await projection.update_unless_revoked(
                session,
                registration_id,
                status=JourneyStatus.REJECTED if result.reasons else JourneyStatus.VERIFYING,
                reasons=list(result.reasons),
            )
            if beneficiary is None:
                return
            # "at" dates the check on the journey's timeline; IdentityResult ignores it when read back.
            checked = {**result.model_dump(mode="json"), "at": datetime.now(UTC).isoformat()}
            await projection.remember(session, beneficiary, "identity", checked)
