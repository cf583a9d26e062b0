"""The bare twin: a journey-shaped workflow with nothing in it (3 no-op activities, wait for a signal, 4 x [short
timer + no-op activity]), run N at once on one sandboxed worker: what one server + one worker can do at best.
A real journey's CPU is reported in these bare journeys, measured in the same run on the same server."""

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

from temporalio import activity, workflow

# The sandbox re-imports this module to validate BareJourney: everything else passes through.
with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client
    from temporalio.worker import Worker

    from benchmarks.cpu import Meter
    from benchmarks.history import HistoryCount, count_history


@activity.defn(name="bare_noop")
async def bare_noop(step: str) -> str:
    return step


@workflow.defn
class BareJourney:
    """The shape of a journey with nothing in it: what one server + one worker can do at best."""

    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, timer_ms: int) -> str:
        for step in ("verify", "eligibility", "award"):
            await workflow.execute_activity(bare_noop, step, start_to_close_timeout=timedelta(seconds=60))
        await workflow.wait_condition(lambda: self.go)
        for n in range(1, 5):
            await workflow.sleep(timedelta(milliseconds=timer_ms))
            await workflow.execute_activity(bare_noop, f"pay-{n}", start_to_close_timeout=timedelta(seconds=60))
        return "done"

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


async def run_ceiling(client: Client, server_pids: list[int], n: int, timer_ms: int) -> tuple[Meter, HistoryCount]:
    """N bare journeys started at once, each signalled once, all awaited: (its CPU meter, one's history)."""
    queue = f"bare-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue, workflows=[BareJourney], activities=[bare_noop]):
        meter = Meter(server_pids).start()
        handles = await asyncio.gather(
            *(
                client.start_workflow(BareJourney.run, timer_ms, id=f"bare-{queue}-{i}", task_queue=queue)
                for i in range(n)
            )
        )
        await asyncio.gather(*(h.signal(BareJourney.proceed) for h in handles))
        results = await asyncio.gather(*(h.result() for h in handles))
        meter.stop()
        await meter.measure_idle()
    assert results == ["done"] * n, Counter(results)
    return meter, await count_history(client, handles[0].id)
