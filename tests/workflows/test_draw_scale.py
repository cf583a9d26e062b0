"""A wave draw over 10 000 eligible applicants seeded straight into the database (no journeys behind them).

Every draw-result signal answers NOT_FOUND and is counted as missing: that must not fail the draw. Timing
is the benchmark's business (`benchmarks/draw_10k.py`), not this test's.
"""

import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.calendar import CalendarActivities
from activities.draw import DrawActivities
from benchmarks.pool import PROVINCE_QUOTAS, PROVINCES, seed_drawing_wave, seed_pool
from core.contracts import DrawSummary, WaveDrawInput, draw_id, wave_calendar_id
from core.domain import JourneyStatus, WaveStatus
from core.selection import draw
from db.models import Beneficiary, Wave, WaveEntry
from services import profiles
from workflows.calendar import WaveCalendar
from workflows.draw import WaveDraw

POOL, QUOTA = 10_000, 3_000


async def run_draw(client, sessions, wave_id: str, seed: str, **options: int) -> DrawSummary:
    activities = DrawActivities(sessions, profiles.resolver(sessions, 1.0))
    task_queue = f"draw-scale-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[WaveDraw, WaveCalendar],  # the draw starts the wave's calendar on its own queue
        activities=[activities.select_winners, activities.notify_batch, CalendarActivities(sessions).tell_journeys],
    ):
        summary = await client.execute_workflow(
            WaveDraw.run,
            WaveDrawInput(wave_id=wave_id, seed=seed, **options),
            id=draw_id(wave_id),
            task_queue=task_queue,
            result_type=DrawSummary,
            # A failing activity retries forever, and the time-skipping server skips its backoff: bound the
            # run in workflow time so a broken draw fails this test instead of spinning.
            execution_timeout=timedelta(hours=1),
        )
        # The calendar sleeps for a programme year, unless awaiting the draw skipped the server's clock past it:
        # on the time-skipping server a workflow left behind without its worker would stop time from skipping for
        # every later test.
        try:
            await client.get_workflow_handle(wave_calendar_id(wave_id)).terminate("test finished")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it has completed
                raise
    return summary


async def test_draw_of_ten_thousand_respects_quotas_and_is_rederivable(ts_env, sessions):
    wave_id, seed = f"WAVE-{uuid.uuid4().hex[:8].upper()}", uuid.uuid4().hex
    await seed_pool(sessions, POOL, tag="scale")
    await seed_drawing_wave(sessions, wave_id, QUOTA, seed, province_quotas=PROVINCE_QUOTAS)

    summary = await run_draw(ts_env.client, sessions, wave_id, seed)

    assert (summary.pool_size, summary.selected) == (POOL, QUOTA)
    async with sessions() as s:
        wave = await s.get(Wave, wave_id)
        entries = (await s.execute(select(WaveEntry).where(WaveEntry.wave_id == wave_id))).scalars().all()
        rows = {b.registration_id: b for b in (await s.scalars(select(Beneficiary))).all()}
    assert (wave.status, wave.pool_size, wave.selected, wave.seed) == (WaveStatus.DRAWN, POOL, QUOTA, seed)
    assert wave.drawn_at is not None
    assert len(entries) == POOL and all(e.notified for e in entries)

    winners = {e.registration_id for e in entries if e.selected}
    per_province = Counter(e.province for e in entries if e.selected)
    assert len(winners) == QUOTA
    assert (per_province["Aceh"], per_province["Bali"]) == (PROVINCE_QUOTAS["Aceh"], PROVINCE_QUOTAS["Bali"])
    assert set(per_province) == set(PROVINCES)

    # Winners left the pool for their award; everyone else stays in it for the next wave.
    assert all(not rows[r].in_pool and rows[r].wave_id == wave_id for r in winners)
    losers = [b for r, b in rows.items() if r not in winners]
    assert len(losers) == POOL - QUOTA
    assert all(b.in_pool and b.status == JourneyStatus.NOT_SELECTED and b.wave_id == wave_id for b in losers)

    # Anyone holding the seed and the recorded pool re-derives the same selection.
    recorded_pool = [(e.registration_id, e.province) for e in entries]
    assert draw(seed, recorded_pool, QUOTA, PROVINCE_QUOTAS) == winners
    assert draw(seed, reversed(recorded_pool), QUOTA, PROVINCE_QUOTAS) == winners
    assert draw("another seed", recorded_pool, QUOTA, PROVINCE_QUOTAS) != winners


async def test_a_draw_longer_than_one_run_continues_as_new_and_notifies_everyone(ts_env, sessions):
    wave_id, seed = f"WAVE-{uuid.uuid4().hex[:8].upper()}", uuid.uuid4().hex
    await seed_pool(sessions, 95, tag="chain")
    await seed_drawing_wave(sessions, wave_id, 40, seed)

    # 10 per batch, 3 batches per run: 95 applicants need 10 batches, so four runs.
    summary = await run_draw(ts_env.client, sessions, wave_id, seed, batch_size=10, batches_per_run=3)

    assert (summary.pool_size, summary.selected) == (95, 40)
    runs, run_id = 0, ""
    while True:  # walk the chain of runs back from the last one
        history = await ts_env.client.get_workflow_handle(draw_id(wave_id), run_id=run_id or None).fetch_history()
        runs += 1
        run_id = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        if not run_id:
            break
    assert runs == 4
    async with sessions() as s:
        wave = await s.get(Wave, wave_id)
        entries = (await s.execute(select(WaveEntry).where(WaveEntry.wave_id == wave_id))).scalars().all()
    assert (wave.status, wave.selected, len(entries)) == (WaveStatus.DRAWN, 40, 95)
    assert all(e.notified for e in entries)
    assert {e.registration_id for e in entries if e.selected} == draw(
        seed, [(e.registration_id, e.province) for e in entries], 40, None
    )
