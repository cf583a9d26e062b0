"""Benchmark: the WaveDraw workflow over a pool of 10 000 eligible applicants seeded straight into the database.

    .venv/bin/python -m benchmarks.draw_10k                 # fresh SQLite file
    .venv/bin/python -m benchmarks.draw_10k --postgres      # also PostgreSQL (TEST_POSTGRES_URL, own database)

Runs against a started Temporal dev server with the real DrawActivities. No journeys exist, so every
draw-result signal answers NOT_FOUND and counts as missing: the cost measured is the draw itself
(snapshot, selection, projection updates) and one signal RPC per applicant. Prints seconds for the
selection, for the notifications and in total, as Temporal recorded them in the draw's history.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.draw import DrawActivities
from benchmarks.databases import add_postgres_option, postgres_bench_url, postgres_server
from benchmarks.pool import PROVINCE_QUOTAS, seed_drawing_wave, seed_pool
from core.contracts import DrawSummary, WaveDrawInput, draw_id, wave_calendar_id
from core.settings import Settings
from core.temporal import data_converter
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from services import profiles
from workflows.calendar import WaveCalendar
from workflows.draw import WaveDraw

BIN = Path(sys.executable).parent
BENCH_DATABASE = "prakerja_bench"


def activity_spans(history: WorkflowHistory) -> dict[str, tuple[float, float]]:
    """(first scheduled, last closed) per activity type, in epoch seconds, from the history's event times."""
    scheduled: dict[int, tuple[str, float]] = {}
    spans: dict[str, tuple[float, float]] = {}
    for event in history.events:
        at = event.event_time.ToDatetime().timestamp()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = (name, at)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            name, began = scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]
            first, _ = spans.get(name, (began, at))
            spans[name] = (min(first, began), at)
    return spans


async def run_once(client: Client, database_url: str, size: int, quota: int) -> dict[str, float]:
    engine = make_engine(database_url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    tag, wave_id = uuid.uuid4().hex[:6], f"WAVE-BENCH-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    await seed_pool(sessions, size, tag)
    seeded = time.perf_counter() - started
    await seed_drawing_wave(sessions, wave_id, quota, seed=tag, province_quotas=PROVINCE_QUOTAS)
    draw = DrawActivities(sessions, profiles.resolver(sessions, 1.0))
    task_queue = f"bench-{tag}"
    # The draw starts the wave's calendar (it sleeps until the wave's deadline): run it, and end it once measured.
    workflows = [WaveDraw, WaveCalendar]
    async with Worker(
        client, task_queue=task_queue, workflows=workflows, activities=[draw.select_winners, draw.notify_batch]
    ):
        began = time.perf_counter()
        handle = await client.start_workflow(
            WaveDraw.run, WaveDrawInput(wave_id=wave_id, seed=tag), id=draw_id(wave_id), task_queue=task_queue
        )
        summary = await handle.result()
        total = time.perf_counter() - began
        await client.get_workflow_handle(wave_calendar_id(wave_id)).terminate("benchmark over")
    assert isinstance(summary, DrawSummary) and summary.pool_size == size, summary
    # One run holds the whole 10k wave (20 batches of 500); continue-as-new would split the history.
    spans = activity_spans(await handle.fetch_history())
    await engine.dispose()
    return {
        "seed_rows": seeded,
        "select": spans["select_winners"][1] - spans["select_winners"][0],
        "notify": spans["notify_batch"][1] - spans["notify_batch"][0],
        "total": total,
        "selected": summary.selected,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--quota", type=int, default=3_000)
    add_postgres_option(parser)
    args = parser.parse_args()
    targets = {"sqlite": f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='draw-bench-')}/bench.db"}
    if postgres := postgres_server(parser, args):
        targets["postgres"] = await postgres_bench_url(postgres, BENCH_DATABASE)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), data_converter=data_converter(Settings().codec_keys)
    ) as env:
        for name, url in targets.items():
            r = await run_once(env.client, url, args.size, args.quota)
            print(
                f"{name:8} pool={args.size} selected={r['selected']:.0f}  select={r['select']:.2f}s  "
                f"notify={r['notify']:.2f}s  total={r['total']:.2f}s  (seeding rows {r['seed_rows']:.2f}s)"
            )


if __name__ == "__main__":
    asyncio.run(main())
    # The results are printed; leave without interpreter finalisation, during which the Temporal SDK's native
    # threads sometimes still call into Python and abort the process (exit 134 after a good run).
    sys.stdout.flush()
    os._exit(0)
