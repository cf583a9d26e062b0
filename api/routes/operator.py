"""Operator endpoints: waves and their draws, journey lookup and revocation."""

import secrets

from fastapi import APIRouter, Depends, status
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from api import journeys
from api.auth import require_role
from api.deps import OperatorDep, SessionDep, SettingsDep, SnapshotDep, TemporalDep
from api.errors import ProblemError
from api.schemas import DrawRequest, JourneyView, RevokeRequest, RevokeResponse, WaveRequest, WaveView
from api.views import journey_view
from core.contracts import RevokeSignal, WaveDrawInput, draw_id, journey_id
from core.domain import FINAL_STATUSES, Role, WaveStatus
from db.models import Beneficiary, Wave

router = APIRouter(prefix="/v1", tags=["operator"])
operator = [Depends(require_role(Role.OPERATOR))]
staff = [Depends(require_role(Role.OPERATOR, Role.SUPPORT))]


async def _wave_view(session: SessionDep, wave: Wave) -> WaveView:
    pool_size = wave.pool_size
    if wave.status == WaveStatus.OPEN:
        pool_size = await session.scalar(select(func.count()).where(Beneficiary.in_pool.is_(True))) or 0
    return WaveView(
        wave_id=wave.wave_id,
        name=wave.name,
        status=wave.status,
        quota=wave.quota,
        province_quotas=wave.province_quotas,
        profile=wave.profile,
        pool_size=pool_size,
        selected=wave.selected,
        seed=wave.seed,
    )


@router.post("/waves", status_code=status.HTTP_201_CREATED, response_model=WaveView, dependencies=operator)
async def open_wave(body: WaveRequest, session: SessionDep, settings: SettingsDep) -> WaveView:
    """Open a wave with a quota (optionally per province). Only one wave is open at a time."""
    if await session.scalar(select(Wave.wave_id).where(Wave.status != WaveStatus.DRAWN).limit(1)):
        raise ProblemError(409, "WAVE_ALREADY_OPEN", "Another wave is open or drawing; draw it first.")
    wave = Wave(
        wave_id="WAVE-" + secrets.token_hex(4).upper(),
        name=body.name,
        status=WaveStatus.OPEN,
        quota=body.quota,
        province_quotas=body.province_quotas,
        profile=settings.profile,
        pool_size=0,
        selected=0,
    )
    session.add(wave)
    try:
        await session.commit()
    except IntegrityError:
        raise ProblemError(409, "WAVE_ALREADY_OPEN", "Another wave was opened at the same time.") from None
    return await _wave_view(session, wave)


@router.get("/waves/{wave_id}", response_model=WaveView, dependencies=staff)
async def get_wave(wave_id: str, session: SessionDep) -> WaveView:
    """A wave's status, quota, pool size, number selected and the recorded seed of its draw."""
    wave = await session.get(Wave, wave_id)
    if wave is None:
        raise ProblemError(404, "WAVE_NOT_FOUND", f"No wave {wave_id}.")
    return await _wave_view(session, wave)


@router.post(
    "/waves/{wave_id}/draw",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WaveView,
    dependencies=operator,
)
async def draw_wave(
    wave_id: str,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    body: DrawRequest | None = None,
) -> WaveView:
    """Close the wave and start its draw; the seed (given or random) is recorded so the draw can be re-derived."""
    seed = (body.seed if body else None) or secrets.token_hex(16)
    closed = await session.execute(
        update(Wave)
        .where(Wave.wave_id == wave_id, Wave.status == WaveStatus.OPEN)
        .values(status=WaveStatus.DRAWING, seed=seed)
    )
    if closed.rowcount != 1:
        wave = await session.get(Wave, wave_id)
        if wave is None:
            raise ProblemError(404, "WAVE_NOT_FOUND", f"No wave {wave_id}.")
        raise ProblemError(409, "WAVE_NOT_OPEN", f"Wave {wave_id} is already {wave.status}.")
    await session.commit()
    try:
        await client.start_workflow(
            "WaveDraw",
            WaveDrawInput(wave_id=wave_id, seed=seed),
            id=draw_id(wave_id),
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Draw of wave {wave_id}",
        )
    except RPCError as err:
        # Reopen the wave only if the draw really did not start: a lost answer leaves it running on this seed.
        if not await journeys.started(client, draw_id(wave_id)):
            await session.execute(update(Wave).where(Wave.wave_id == wave_id).values(status=WaveStatus.OPEN, seed=None))
            await session.commit()
            raise ProblemError(503, "TEMPORAL_UNAVAILABLE", "The draw could not be started; try again.") from err
    wave = await session.get(Wave, wave_id)
    assert wave is not None
    return await _wave_view(session, wave)


async def _beneficiary(session: SessionDep, registration_id: str) -> Beneficiary:
    beneficiary = await session.get(Beneficiary, registration_id)
    if beneficiary is None:
        raise ProblemError(404, "REGISTRATION_NOT_FOUND", f"No registration {registration_id}.")
    return beneficiary


@router.get("/beneficiaries/{registration_id}", response_model=JourneyView, dependencies=staff)
async def get_beneficiary(registration_id: str, snapshot: SnapshotDep) -> JourneyView:
    """Any journey's view, for support staff and operators."""
    view = await journey_view(snapshot, registration_id)
    if view is None:
        raise ProblemError(404, "REGISTRATION_NOT_FOUND", f"No registration {registration_id}.")
    return view


@router.post("/beneficiaries/{registration_id}/revoke", response_model=RevokeResponse)
async def revoke(
    registration_id: str, body: RevokeRequest, session: SessionDep, client: TemporalDep, who: OperatorDep
) -> RevokeResponse:
    """Revoke a beneficiary: future purchases and payments stop; what was paid becomes a clawback claim."""
    beneficiary = await _beneficiary(session, registration_id)
    if beneficiary.status in FINAL_STATUSES:
        raise ProblemError(409, "JOURNEY_FINISHED", f"The journey is already {beneficiary.status}.")
    try:
        await client.get_workflow_handle(journey_id(registration_id)).signal(
            "revoke", RevokeSignal(reason=body.reason, requested_by=who.staff_id)
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ProblemError(409, "JOURNEY_FINISHED", "The journey is no longer running.") from err
        raise ProblemError(503, "TEMPORAL_UNAVAILABLE", "The revocation could not be sent; try again.") from err
    return RevokeResponse(registration_id=registration_id)
