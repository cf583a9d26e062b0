"""Operator endpoints: waves and their draws, journey lookup and revocation."""

from fastapi import APIRouter, Depends, status

from api.auth import require_role
from api.deps import OperatorDep, SessionDep, SettingsDep, SnapshotDep, TemporalDep
from api.errors import ProblemError, problem_responses
from api.schemas import DrawRequest, JourneyView, RevokeRequest, RevokeResponse, WaveRequest, WaveView
from api.views import journey_view
from core.domain import Role, WaveStatus
from core.problems import ProblemCode
from db.models import Wave
from services import journeys, waves

router = APIRouter(prefix="/v1", tags=["operator"], responses=problem_responses(401, 403))
operator = [Depends(require_role(Role.OPERATOR))]
staff = [Depends(require_role(Role.OPERATOR, Role.SUPPORT))]


async def _wave_view(session: SessionDep, wave: Wave) -> WaveView:
    return WaveView(
        wave_id=wave.wave_id,
        name=wave.name,
        status=WaveStatus(wave.status),
        quota=wave.quota,
        province_quotas=wave.province_quotas,
        profile=wave.profile,
        pool_size=await waves.pool_size(session, wave),
        selected=wave.selected,
        seed=wave.seed,
    )


@router.post(
    "/waves",
    status_code=status.HTTP_201_CREATED,
    response_model=WaveView,
    dependencies=operator,
    responses=problem_responses(409),
)
async def open_wave(body: WaveRequest, session: SessionDep, settings: SettingsDep) -> WaveView:
    """Open a wave with a quota (optionally per province) under a programme profile (default PRAKERJA_PROFILE;
    unknown → 422 `UNKNOWN_PROFILE`). Only one wave is open at a time."""
    cmd = waves.OpenWave(body.name, body.quota, body.profile or settings.profile, body.province_quotas)
    return await _wave_view(session, await waves.open_wave(session, cmd))


@router.get("/waves/{wave_id}", response_model=WaveView, dependencies=staff, responses=problem_responses(404))
async def get_wave(wave_id: str, session: SessionDep) -> WaveView:
    """A wave's status, quota, pool size, number selected and the recorded seed of its draw."""
    return await _wave_view(session, await waves.get_wave(session, wave_id))


@router.post(
    "/waves/{wave_id}/draw",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WaveView,
    dependencies=operator,
    responses=problem_responses(404, 409, 503),
)
async def draw_wave(
    wave_id: str,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    body: DrawRequest | None = None,
) -> WaveView:
    """Close the wave and start its draw; the seed (given or random) is recorded so the draw can be re-derived."""
    seed = body.seed if body else None
    return await _wave_view(session, await waves.draw_wave(session, client, settings.task_queue, wave_id, seed))


@router.get(
    "/beneficiaries/{registration_id}", response_model=JourneyView, dependencies=staff, responses=problem_responses(404)
)
async def get_beneficiary(registration_id: str, snapshot: SnapshotDep) -> JourneyView:
    """Any journey's view, for support staff and operators."""
    view = await journey_view(snapshot, registration_id)
    if view is None:
        raise ProblemError(404, ProblemCode.REGISTRATION_NOT_FOUND, f"No registration {registration_id}.")
    return view


@router.post(
    "/beneficiaries/{registration_id}/revoke", response_model=RevokeResponse, responses=problem_responses(404, 409, 503)
)
async def revoke(
    registration_id: str, body: RevokeRequest, session: SessionDep, client: TemporalDep, who: OperatorDep
) -> RevokeResponse:
    """Revoke a beneficiary: future purchases and payments stop; what was paid becomes a clawback claim."""
    await journeys.revoke(session, client, journeys.Revoke(registration_id, body.reason, who.staff_id))
    return RevokeResponse(registration_id=registration_id)
