"""Operators' waves: open one (one at a time), close it and start its draw on a recorded seed."""

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from core.contracts import WaveDrawInput, draw_id
from core.domain import WaveStatus
from core.problems import ProblemCode
from core.temporal import started
from db.models import Beneficiary, Wave
from db.session import rows_matched
from services import profiles
from services.errors import Refused
from workflows.draw import WaveDraw


@dataclass(frozen=True)
class OpenWave:
    name: str
    quota: int
    profile: str
    province_quotas: dict[str, int] | None = None


async def pool_size(session: AsyncSession, wave: Wave) -> int:
    """An open wave's pool is counted live; a closed one keeps the size its draw recorded."""
    if wave.status != WaveStatus.OPEN:
        return wave.pool_size
    return await session.scalar(select(func.count()).where(Beneficiary.in_pool.is_(True))) or 0


async def list_waves(session: AsyncSession, limit: int = 50) -> list[Wave]:
    return list(await session.scalars(select(Wave).order_by(Wave.created_at.desc()).limit(limit)))


async def get_wave(session: AsyncSession, wave_id: str) -> Wave:
    wave = await session.get(Wave, wave_id)
    if wave is None:
        raise Refused(404, ProblemCode.WAVE_NOT_FOUND, f"No wave {wave_id}.")
    return wave


async def open_wave(session: AsyncSession, cmd: OpenWave) -> Wave:
    """Only one wave is open (or drawing) at a time; the database enforces it against a concurrent open.
    Applicants who join its pool are judged by its profile's rules, and its awards pin its terms."""
    await profiles.resolve(session, cmd.profile)  # 422 UNKNOWN_PROFILE
    if await session.scalar(select(Wave.wave_id).where(Wave.status != WaveStatus.DRAWN).limit(1)):
        raise Refused(409, ProblemCode.WAVE_ALREADY_OPEN, "Another wave is open or drawing; draw it first.")
    wave = Wave(
        wave_id="WAVE-" + secrets.token_hex(4).upper(),
        name=cmd.name,
        status=WaveStatus.OPEN,
        quota=cmd.quota,
        province_quotas=cmd.province_quotas,
        profile=cmd.profile,
        pool_size=0,
        selected=0,
    )
    session.add(wave)
    try:
        await session.commit()
    except IntegrityError:
        raise Refused(409, ProblemCode.WAVE_ALREADY_OPEN, "Another wave was opened at the same time.") from None
    return wave


async def draw_wave(session: AsyncSession, client: Client, task_queue: str, wave_id: str, seed: str | None) -> Wave:
    """Close the wave and start its draw; the seed (given or random) is recorded so the draw can be re-derived."""
    seed = seed or secrets.token_hex(16)
    closed = await session.execute(
        update(Wave)
        .where(Wave.wave_id == wave_id, Wave.status == WaveStatus.OPEN)
        .values(status=WaveStatus.DRAWING, seed=seed)
    )
    if rows_matched(closed) != 1:
        wave = await get_wave(session, wave_id)
        raise Refused(409, ProblemCode.WAVE_NOT_OPEN, f"Wave {wave_id} is already {wave.status}.")
    await session.commit()
    try:
        await client.start_workflow(
            WaveDraw.run,
            WaveDrawInput(wave_id=wave_id, seed=seed),
            id=draw_id(wave_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Draw of wave {wave_id}",
        )
    except (RPCError, RuntimeError) as err:  # RuntimeError: the client could not (re)connect at all
        # Reopen the wave only if the draw really did not start: a lost answer leaves it running on this seed.
        if not await started(client, draw_id(wave_id)):
            await session.execute(update(Wave).where(Wave.wave_id == wave_id).values(status=WaveStatus.OPEN, seed=None))
            await session.commit()
            raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The draw could not be started; try again.") from err
    wave = await get_wave(session, wave_id)
    await session.refresh(wave)
    return wave
