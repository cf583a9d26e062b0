"""Screening: the identity check, then the eligibility check, as one activity (one billable action, one workflow
task, where journeys before the `lean-journey` patch ran two). Each check records its result on the beneficiary
row and returns a recorded result on a retry, so a retry after an eligibility failure does not ask the civil
registry and the face check again."""

from temporalio import activity

from activities.eligibility import EligibilityActivities
from activities.identity import IdentityActivities
from core.contracts import CheckEligibilityInput, ScreenApplicantInput, ScreeningResult, VerifyIdentityInput


class ScreeningActivities:
    def __init__(self, identity: IdentityActivities, eligibility: EligibilityActivities) -> None:
        self.identity = identity
        self.eligibility = eligibility

    @activity.defn
    async def screen_applicant(self, input: ScreenApplicantInput) -> ScreeningResult:
        """Identity first; eligibility only for an applicant whose identity passed (as two steps would)."""
        identity = await self.identity.verify_identity(
            VerifyIdentityInput(registration_id=input.registration_id, applicant=input.applicant)
        )
        if identity.reasons:
            return ScreeningResult(identity=identity)
        eligibility = await self.eligibility.check_eligibility(
            CheckEligibilityInput(**dict(input), registered_occupation=identity.registered_occupation)
        )
        return ScreeningResult(identity=identity, eligibility=eligibility)
