"""The journey timeline ("why was I not paid?"): for support and operators, and for the beneficiary."""

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import require_role
from api.deps import SnapshotBeneficiaryDep, SnapshotDep
from api.errors import ProblemError, problem_responses
from core.domain import Role
from core.problems import ProblemCode
from services.timeline import TimelineItem, journey_timeline

router = APIRouter(prefix="/v1", tags=["timeline"], responses=problem_responses(401, 404))


class Timeline(BaseModel):
    items: list[TimelineItem]


async def _timeline(snapshot: SnapshotDep, registration_id: str) -> Timeline:
    items = await journey_timeline(snapshot, registration_id)
    if items is None:
        raise ProblemError(404, ProblemCode.REGISTRATION_NOT_FOUND, f"No registration {registration_id}.")
    return Timeline(items=items)


@router.get(
    "/beneficiaries/{registration_id}/timeline",
    response_model=Timeline,
    dependencies=[Depends(require_role(Role.SUPPORT, Role.OPERATOR))],
    responses=problem_responses(403),
)
async def beneficiary_timeline(registration_id: str, snapshot: SnapshotDep) -> Timeline:
    """Everything that happened in a journey, oldest first, each with a stable `kind` code: checks and their
    reasons, the draw, purchases, payment attempts with the partner's answers, staff retries and revocations.
    Amounts in rupiah; account numbers masked; no personal data."""
    return await _timeline(snapshot, registration_id)


@router.get("/me/timeline", response_model=Timeline)
async def my_timeline(beneficiary: SnapshotBeneficiaryDep, snapshot: SnapshotDep) -> Timeline:
    """The signed-in beneficiary's own journey timeline (as support sees it): why a step was refused or a
    payment held, and what was done about it."""
    return await _timeline(snapshot, beneficiary.registration_id)
