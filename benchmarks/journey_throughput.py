"""Benchmark: journeys/s of the real BeneficiaryJourney against the machine's ceiling, in one run on one server.

    .venv/bin/python -m benchmarks.journey_throughput                    # N=100, SQLite, ~2.5 min
    .venv/bin/python -m benchmarks.journey_throughput --journeys 50      # ~1.5 min
    .venv/bin/python -m benchmarks.journey_throughput --postgres [URL]   # also PostgreSQL (default TEST_POSTGRES_URL)
    .venv/bin/python -m benchmarks.journey_throughput --journeys 30 --month-seconds 10 --profile
                                         # + where the worker's CPU goes (cProfile slows it: keep N small)
    .venv/bin/python -m benchmarks.journey_throughput --no-codec         # what-if: payloads without the AES codec
    .venv/bin/python -m benchmarks.journey_throughput --telemetry        # (b) again with worker metrics + tracing

One freshly started dev server (as tests/conftest.py starts it: in-memory, the project's search attributes
and data converter), then:

(a) the ceiling: `BareJourney` below — 3 no-op activities, wait for a signal, 4 x [short timer + no-op
    activity] — N started at once, each signalled, all awaited, on one sandboxed worker;
(b) the real `BeneficiaryJourney` for a full `prakerja-2020` schedule with the real workers and activities,
    simulated partners (a SimWorld) and a fresh migrated database, programme time compressed: N registered
    (row + start), pooled, one wave drawn for all, then for each journey a purchase (update), a completion
    and a review (signals), an e-wallet linked (update) and the 3 surveys answered as each window opens
    (signals), until COMPLETED. Every journey must end COMPLETED with its 7 payments at the partner.

Each reports wall-clock journeys/s and a CPU-bound rate: N / (CPU seconds of the server and worker processes
/ cores), what the cores could do if nothing ever waited for a timer. A journey's wall time is bounded below
by programme time (3 months from the first completion to the last incentive and survey), and one wave moves
all journeys in step (bursts, then idle), so the CPU-bound rate is the fair comparison with the ceiling.

Programme months must be long enough for one burst (N awards, purchases, links, surveys published) to fit
in one month, or purchase deadlines and survey windows expire under load: `--month-seconds` defaults to
0.3 s per journey (at least 4 s). The run checks this and says so when a month was too short.
Finally the histories of a sample of journeys and their payment child workflows are counted against
DESIGN.md section 4.
"""

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow

# The sandbox re-imports this module to validate BareJourney: everything else passes through.
with workflow.unsafe.imports_passed_through():
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from sqlalchemy import select
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from adapters.factory import build_adapters
    from benchmarks.databases import add_postgres_option, postgres_bench_url, postgres_server
    from core.contracts import JourneyResult, LinkAccountResult, PurchaseResult
    from core.settings import AdapterMode, Settings
    from core.temporal import data_converter, search_attribute_flags
    from core.tracing import RedactingExporter, temporal_interceptors
    from db.migrate import upgrade
    from db.models import Beneficiary, Partner, Payment
    from db.session import make_engine, make_sessionmaker
    from simulators.world import SimWorld
    from tests.workflows.harness import Harness, order
    from workers.main import build_workers
    from workers.payments import build_payment_workers
    from workers.telemetry import worker_runtime

BIN = Path(sys.executable).parent
ROOT = os.path.dirname(os.path.dirname(__file__))  # (Path.resolve is off limits in the sandbox)
BENCH_DATABASE = "prakerja_journey_bench"
TELEMETRY = "sqlite + worker metrics + tracing"
CORES = os.cpu_count() or 1
PAYMENT_PARTNERS = ("EWALLET", "BANK")
PAYMENTS_PER_JOURNEY = 7  # prakerja-2020: 4 incentives + 3 surveys
# The last incentive is paid and the last survey opens 90 programme days after the first completion.
FLOOR_MONTHS = 3
# DESIGN.md section 4: 5 checks + 1 award + a few purchases/completions + 7 payments + 7 timers.
BUDGET = {"checks": 5, "award": 1, "purchase/completion/review": 3, "payments": 7, "timers": 7}


# --- (a) the ceiling -------------------------------------------------------------------------------------------


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


# --- CPU accounting ------------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """utime + stime of a process, seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _children() -> list[int]:
    """Our child processes: the dev server that WorkflowEnvironment.start_local spawned."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == me:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / TICK, total / TICK


@dataclass
class Sample:
    at: float
    server: float
    worker: float
    busy: float
    total: float


def _sample(server_pids: list[int]) -> Sample:
    busy, total = _machine()
    return Sample(time.perf_counter(), sum(map(_proc_cpu, server_pids)), time.process_time(), busy, total)


@dataclass
class Meter:
    """Wall time and CPU of this process (worker + driver) and of the dev server, sampled every second."""

    server_pids: list[int]
    samples: list[Sample] = field(default_factory=list)
    idle_per_s: float = 0.0  # our CPU seconds per wall second with nothing to do (pollers, server housekeeping)
    _task: asyncio.Task[None] | None = None

    def start(self) -> "Meter":
        self.samples = [_sample(self.server_pids)]
        self._task = asyncio.create_task(self._every_second())
        return self

    async def _every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.samples.append(_sample(self.server_pids))

    def stop(self) -> "Meter":
        assert self._task is not None
        self._task.cancel()
        self.samples.append(_sample(self.server_pids))
        return self

    async def measure_idle(self, seconds: float = 3.0) -> None:
        before = _sample(self.server_pids)
        await asyncio.sleep(seconds)
        after = _sample(self.server_pids)
        self.idle_per_s = (after.server - before.server + after.worker - before.worker) / (after.at - before.at)

    def _span(self, a: Sample, b: Sample) -> tuple[float, float, float, float]:
        return b.at - a.at, b.server - a.server, b.worker - a.worker, (b.busy - a.busy) / max(b.total - a.total, 1e-9)

    @property
    def wall(self) -> float:
        return self._span(self.samples[0], self.samples[-1])[0]

    @property
    def server_cpu(self) -> float:
        return self._span(self.samples[0], self.samples[-1])[1]

    @property
    def worker_cpu(self) -> float:
        return self._span(self.samples[0], self.samples[-1])[2]

    @property
    def machine_busy(self) -> float:
        return self._span(self.samples[0], self.samples[-1])[3]

    @property
    def cpu(self) -> float:
        return self.server_cpu + self.worker_cpu

    @property
    def net_cpu(self) -> float:
        """CPU the journeys caused: minus what the processes burn idle over the same wall time."""
        return max(self.cpu - self.idle_per_s * self.wall, 0.0)

    def cpu_between(self, t0: float, t1: float) -> tuple[float, float]:
        """(net CPU seconds, wall seconds) over the whole samples inside [t0, t1] (perf_counter times)."""
        inside = [s for s in self.samples if t0 <= s.at <= t1]
        if len(inside) < 2:
            return 0.0, 0.0
        wall = inside[-1].at - inside[0].at
        cpu = inside[-1].server - inside[0].server + inside[-1].worker - inside[0].worker
        return max(cpu - self.idle_per_s * wall, 0.0), wall

    def seconds(self) -> list[tuple[float, float, float]]:
        """Per sampled second: (server, worker, machine) as fractions of one core, of one core, of all cores."""
        out = []
        for a, b in zip(self.samples, self.samples[1:], strict=False):
            wall, server, worker, machine = self._span(a, b)
            if wall > 0.2:
                out.append((server / wall, worker / wall, machine))
        return out

    def report(self, n: int) -> list[str]:
        secs = self.seconds()
        full = sum(1 for s, w, _ in secs if s + w >= 0.9 * CORES)
        worker_bound = sum(1 for _, w, _ in secs if w >= 0.95)
        buckets = [secs[i : i + 5] for i in range(0, len(secs), 5)]
        ours = self.cpu / (self.wall * CORES)
        timeline = " ".join(f"{sum(s + w for s, w, _ in b) / len(b) * 100:.0f}" for b in buckets)
        return [
            f"wall {self.wall:.1f} s -> {n / self.wall:.2f} journeys/s",
            f"CPU {self.cpu:.1f} s (server {self.server_cpu:.1f} + worker/driver {self.worker_cpu:.1f}); idle "
            f"baseline {self.idle_per_s * 100:.0f}% of a core -> net {self.net_cpu / n * 1000:.0f} ms/journey "
            f"-> CPU-bound {n / (self.net_cpu / CORES):.2f} journeys/s on {CORES} cores",
            f"our processes kept {ours:.0%} of the cores busy (server "
            f"{self.server_cpu / self.wall:.0%} + worker {self.worker_cpu / self.wall:.0%} of one core); the "
            f"machine was {self.machine_busy:.0%} busy (others: {max(self.machine_busy - ours, 0):.0%})",
            f"{full} of {len(secs)} s with both cores saturated by us, {worker_bound} s with the worker process at "
            f"a full core; our CPU % of one core per 5 s: {timeline}",
        ]


# --- what the run logged ------------------------------------------------------------------------------------


class Tally(logging.Handler):
    """Counts the SDK's warnings (failed activity attempts, failed workflow tasks) instead of printing stacks."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        what = record.getMessage().split(" (", 1)[0][:60]
        if record.exc_info and record.exc_info[1] is not None:
            cause = record.exc_info[1].__cause__ or record.exc_info[1]
            what += f": {type(cause).__name__} {str(cause).splitlines()[0][:50]}"
        kind = getattr(record, "activity_info", None) or getattr(record, "workflow_info", None)
        if kind is not None:
            what += f" [{getattr(kind, 'activity_type', None) or getattr(kind, 'workflow_type', '')}]"
        self.counts[what] += 1


def install_tally() -> Tally:
    tally = Tally()
    for name in ("temporalio", "prakerja"):
        logger = logging.getLogger(name)
        logger.addHandler(tally)
        logger.propagate = False
    return tally


# --- where the worker's CPU goes (--profile) -------------------------------------------------------------------


class Profiler:
    """Where the worker process's CPU goes: exact CPU per kind of thread (each thread's own CPU clock, read every
    0.2 s), and a cProfile of the event-loop thread on its CPU clock (activity bodies, the SDK's task plumbing,
    payload conversion, the benchmark's driver). cProfile slows the loop, so read shares, not seconds."""

    def __init__(self) -> None:
        self.threads: dict[int, tuple[str, float]] = {}  # ident -> (kind, CPU seconds so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="cpu-watch")
        self._profile = cProfile.Profile(time.thread_time)

    def start(self) -> None:
        self._main, self._process0 = threading.get_ident(), time.process_time()
        self._base = {i: self._clock(i) for i in sys._current_frames()}
        self._thread.start()
        self._profile.enable()

    def stop(self) -> None:
        self._profile.disable()
        self._stop.set()
        self._thread.join()
        self.process_cpu = time.process_time() - self._process0

    @staticmethod
    def _clock(ident: int) -> float:
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(ident))
        except OSError:
            return 0.0

    def _kind(self, ident: int, frame: Any) -> str:
        if ident == self._main:
            return "event loop thread (activities, SDK plumbing, driver)"
        if ident == threading.get_ident():
            return "this profiler"
        names = [f.f_code.co_filename + ":" + f.f_code.co_name for f in _frames(frame)]
        if any("aiosqlite/core.py:_connection_worker_thread" in n for n in names):
            return "SQLite statements (aiosqlite threads)"
        if any("concurrent/futures/thread.py:_worker" in n for n in names):
            return "workflow activations (workflow task threads)"
        return "other Python threads"

    def _watch(self) -> None:
        while True:
            for ident, frame in sys._current_frames().items():
                kind = self.threads[ident][0] if ident in self.threads else self._kind(ident, frame)
                self.threads[ident] = (kind, self._clock(ident) - self._base.get(ident, 0.0))
            if self._stop.wait(0.2):
                return

    def report(self) -> list[str]:
        total = self.process_cpu
        kinds: Counter = Counter()
        for kind, cpu in self.threads.values():
            kinds[kind] += cpu
        kinds["native threads (SDK core, gRPC) and exited threads"] = max(total - sum(kinds.values()), 0.0)
        stats = pstats.Stats(self._profile)
        flat: Counter = Counter()
        synchronous: Counter = Counter()  # plain (not async) SDK calls: cumulative times are trustworthy
        for (filename, _, function), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
            where = _short(filename)
            flat[_bucket(where, function)] += tottime
            if where.startswith("temporalio/worker/_workflow.py") and function in SANDBOX_CALLS:
                synchronous[SANDBOX_CALLS[function]] += cumtime
                synchronous[SANDBOX_CALLS[function] + " calls"] += calls
        loop = sum(flat.values()) or 1.0
        per_instance = synchronous["sandbox per workflow run"] / max(synchronous["sandbox per workflow run calls"], 1)

        def share(counter: Counter, of: float, k: int) -> str:
            return ", ".join(f"{name} {value / of:.0%}" for name, value in counter.most_common(k))

        return [
            f"worker process CPU {total:.1f} s, by thread: " + share(kinds, total, 8),
            "event-loop thread under cProfile (which slows it: read shares), self time by code: "
            + share(flat, loop, 12),
            f"of which a new sandbox per workflow run (journey or payment): "
            f"{synchronous['sandbox per workflow run'] / loop:.0%} ({per_instance * 1000:.0f} ms each under cProfile, "
            f"{synchronous['sandbox per workflow run calls']:.0f} runs); the serialization context fetched through "
            f"the sandbox on every activation: {synchronous['sandbox per activation'] / loop:.0%}",
        ]


SANDBOX_CALLS = {"_create_workflow_instance": "sandbox per workflow run", "_get_current_dc": "sandbox per activation"}


def _frames(frame: Any) -> list[Any]:
    out = []
    while frame is not None:
        out.append(frame)
        frame = frame.f_back
    return out


def _short(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    if filename.startswith(ROOT):
        return "@" + filename[len(ROOT) + 1 :]
    return filename.rsplit("/lib/python3", 1)[-1].split("/", 1)[-1] if "/lib/python3" in filename else filename


def _bucket(where: str, function: str) -> str:
    for prefix, name in (
        ("sqlalchemy/", "SQLAlchemy"),
        ("aiosqlite/", "aiosqlite (loop side)"),
        ("greenlet/", "SQLAlchemy"),
        ("temporalio/converter", "payload conversion"),
        ("temporalio/contrib/pydantic", "payload conversion"),
        ("pydantic", "payload conversion"),
        ("@core/codec", "AES codec"),
        ("cryptography/", "AES codec"),
        ("google/protobuf", "protobuf"),
        ("temporalio/worker/workflow_sandbox", "workflow sandbox (loop side)"),
        ("temporalio/", "SDK plumbing"),
        ("asyncio/", "asyncio"),
        ("@benchmarks/", "benchmark driver"),
        ("@tests/", "benchmark driver"),
        ("@", "project code (activities, adapters, db, simulators)"),
    ):
        if where.startswith(prefix):
            return name
    if where == "~":  # a builtin: name it (exec/compile are the sandbox importing workflow modules)
        return f"builtin {function.removeprefix('<built-in method ').removesuffix('>')}"[:48]
    return "stdlib " + where.removesuffix(".py")


# --- history counting ----------------------------------------------------------------------------------------

COUNTED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals received",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child workflows",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signals sent",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search-attribute upserts",
}
# Billable on Temporal Cloud, with the workflow start. Workflow tasks are not billed, but each one is a server
# persistence round and a worker activation: they are what the embedded server and the worker spend time on.
ACTIONS = ("workflow starts", *COUNTED.values())
ROWS = (*ACTIONS, "workflow tasks", "history events")


@dataclass
class HistoryCount:
    counts: Counter = field(default_factory=Counter)
    activity_types: Counter = field(default_factory=Counter)
    children: list[str] = field(default_factory=list)

    def add(self, other: "HistoryCount") -> None:
        self.counts.update(other.counts)
        self.activity_types.update(other.activity_types)

    @property
    def actions(self) -> int:
        return sum(self.counts[k] for k in ACTIONS)


async def count_history(client: Client, workflow_id: str) -> HistoryCount:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    result = HistoryCount()
    result.counts["workflow starts"] = 1
    for event in history.events:
        result.counts["history events"] += 1
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            result.counts["workflow tasks"] += 1
        if (name := COUNTED.get(event.event_type)) is not None:
            result.counts[name] += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            result.activity_types[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            result.counts["activity retries"] += event.activity_task_started_event_attributes.attempt - 1
        if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            result.children.append(event.start_child_workflow_execution_initiated_event_attributes.workflow_id)
    return result


async def count_journey(client: Client, workflow_id: str) -> tuple[HistoryCount, HistoryCount]:
    """(the journey's own history, the sum over its payment child workflows)."""
    own = await count_history(client, workflow_id)
    children = HistoryCount()
    for child_id in own.children:
        children.add(await count_history(client, child_id))
    return own, children


# --- (a) run -------------------------------------------------------------------------------------------------


async def run_ceiling(client: Client, server_pids: list[int], n: int, timer_ms: int) -> tuple[Meter, HistoryCount]:
    from benchmarks.journey_throughput import BareJourney, bare_noop  # by module name: never __main__

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


# --- (b) run -------------------------------------------------------------------------------------------------


class Projection:
    """The beneficiary rows, re-read by one poller for all journeys (as the API would read them)."""

    def __init__(self, sessions: Any, interval: float) -> None:
        self.sessions, self.interval = sessions, interval
        self.rows: dict[str, tuple[str, dict]] = {}
        self.changed = asyncio.Condition()

    async def run(self) -> None:
        query = select(Beneficiary.registration_id, Beneficiary.status, Beneficiary.detail)
        while True:
            async with self.sessions() as session:
                rows = (await session.execute(query)).all()
            async with self.changed:
                self.rows = {r: (str(s), d or {}) for r, s, d in rows}
                self.changed.notify_all()
            await asyncio.sleep(self.interval)

    async def wait(self, predicate: Any) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: predicate(self.rows))


@dataclass
class Stats:
    marks: dict[str, list[float]] = field(default_factory=dict)  # step -> seconds after the draw, per journey
    purchase_retries: int = 0
    missed_windows: int = 0
    survey_lag: list[float] = field(default_factory=list)  # seconds from a window opening to our signal


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def drive(projection: Projection, handle: WorkflowHandle, account: str, stats: Stats, drawn: float) -> str:
    """One beneficiary from the award to COMPLETED, as the API and partners would drive it."""

    def mark(step: str) -> None:
        stats.marks.setdefault(step, []).append(time.perf_counter() - drawn)

    rid = handle.id.removeprefix("journey-")
    await projection.wait(lambda rows: rows.get(rid, ("",))[0].endswith("AWARDED"))
    mark("awarded (row)")
    ref = f"P-{rid}"
    for attempt in range(200):
        try:
            # The row says AWARDED as soon as the award activity commits; the workflow learns it a task later.
            await handle.execute_update(
                "purchase", order(ref), id=f"purchase-{ref}-{attempt}", result_type=PurchaseResult
            )
            break
        except WorkflowUpdateFailedError as err:
            if not (isinstance(err.cause, ApplicationError) and err.cause.type == "NOT_AWARDED"):
                raise
            stats.purchase_retries += 1
            await asyncio.sleep(0.1)
    mark("purchased")
    await handle.signal("completion", {"purchase_ref": ref, "certificate_number": "C-" + rid, "completed_at": _now()})
    await handle.signal("review", {"purchase_ref": ref, "rating": 5})
    linked = await handle.execute_update(
        "link_payment_account",
        {"partner_client_code": "EWALLET", "account_number": account},
        id=f"link-{rid}",
        result_type=LinkAccountResult,
    )
    assert linked.verified, linked
    mark("linked")
    await projection.wait(lambda rows: "surveys" in rows[rid][1])
    mark("surveys published")
    for window in projection.rows[rid][1]["surveys"]:
        opens, closes = datetime.fromisoformat(window["opens_at"]), datetime.fromisoformat(window["closes_at"])
        await asyncio.sleep(max((opens - datetime.now(UTC)).total_seconds(), 0) + 0.02)
        if datetime.now(UTC) >= closes:
            stats.missed_windows += 1
            continue
        stats.survey_lag.append((datetime.now(UTC) - opens).total_seconds())
        await handle.signal("survey_submitted", {"survey_no": window["survey_no"], "submitted_at": _now()})
    result = await handle.result()
    mark("completed")
    assert isinstance(result, JourneyResult)
    return f"{result.status}{':' + ','.join(result.reasons) if result.reasons else ''}"


@dataclass
class JourneyRun:
    meter: Meter
    phases: dict[str, float]
    outcomes: Counter
    stats: Stats
    paid: Counter
    handles: list[WorkflowHandle]
    profile: Profiler | None
    payment_window: tuple[float, float, int]  # (net CPU s, wall s, payments PAID) in the quiet 2nd month

    def cpu_per_payment(self) -> float | None:
        cpu, _, paid = self.payment_window
        return cpu / paid if paid else None

    @property
    def valid(self) -> bool:
        n = len(self.handles)
        return self.outcomes == Counter({"COMPLETED": n}) and sum(self.paid.values()) == PAYMENTS_PER_JOURNEY * n


async def run_journeys(
    client: Client, server_pids: list[int], database_url: str, n: int, month_s: float, profile: bool
) -> JourneyRun:
    engine = make_engine(database_url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    settings = Settings(
        adapters=AdapterMode.SIMULATED,
        database_url=database_url,
        task_queue=f"bench-{uuid.uuid4().hex[:6]}",
        time_scale=30 * 86400 / month_s,
    )
    world = SimWorld()
    async with sessions.begin() as session:  # payment workers find their partners' queues at start
        session.add_all(Partner(client_code=c, kind="payment", name=c, sign_key_sealed="-") for c in PAYMENT_PARTNERS)
    adapters = build_adapters(settings, world=world)
    harness = Harness(client, settings, world, sessions)
    persons = [harness.citizen() for _ in range(n)]
    accounts = [f"08{i:010d}" for i in range(n)]
    for person, account in zip(persons, accounts, strict=True):
        world.add_payment_account("EWALLET", account, person.nik, kyc=True)
    projection = Projection(sessions, interval=0.25)
    stats, phases = Stats(), {}
    sampler = Profiler() if profile else None
    workers = build_workers(client, settings, adapters, sessions)
    async with workers[0], build_payment_workers(client, settings, adapters, sessions):
        poller = asyncio.create_task(projection.run())
        meter = Meter(server_pids).start()
        if sampler:
            sampler.start()
        began = time.perf_counter()
        handles = await asyncio.gather(*(harness.register(p) for p in persons))
        phases["registered (rows + starts)"] = time.perf_counter() - began
        ids = {h.id.removeprefix("journey-") for h in handles}
        await projection.wait(lambda rows: all(rows.get(r, ("",))[0].endswith("WAITING_FOR_WAVE") for r in ids))
        phases["pooled (identity + eligibility)"] = time.perf_counter() - began
        wave_id = await harness.open_wave(quota=n)
        await harness.draw(wave_id, seed=wave_id)
        drawn = time.perf_counter()
        phases["drawn (1 wave, N signals)"] = drawn - began
        outcomes = await asyncio.gather(
            *(drive(projection, h, a, stats, drawn) for h, a in zip(handles, accounts, strict=True)),
            return_exceptions=True,
        )
        phases["all COMPLETED"] = time.perf_counter() - began
        meter.stop()
        if sampler:
            sampler.stop()
        poller.cancel()
        await meter.measure_idle()
    # The 2nd programme month after the first completions holds the 3rd incentive of every journey and little
    # else (surveys 2 and 3 open at months 1 and 3): its CPU per payment paid is what one payment costs.
    completed = drawn + statistics.median(stats.marks.get("purchased", [0.0]))
    t0, t1 = completed + 1.5 * month_s, completed + 2.5 * month_s
    wall_offset = time.time() - time.perf_counter()
    async with sessions() as session:
        paid_at = list(await session.scalars(select(Payment.paid_at).where(Payment.paid_at.is_not(None))))
    in_window = sum(1 for at in paid_at if t0 <= at.replace(tzinfo=at.tzinfo or UTC).timestamp() - wall_offset <= t1)
    await engine.dispose()
    return JourneyRun(
        meter=meter,
        phases=phases,
        outcomes=Counter(o if isinstance(o, str) else f"error {type(o).__name__}: {o}" for o in outcomes),
        stats=stats,
        paid=Counter(f"{p.amount}:{p.status}" for p in world.payments.received("EWALLET")),
        handles=list(handles),
        profile=sampler,
        payment_window=(*meter.cpu_between(t0, t1), in_window),
    )


# --- reporting -----------------------------------------------------------------------------------------------


def print_counts(bare: HistoryCount, own: HistoryCount, children: HistoryCount, samples: int) -> None:
    def per(c: HistoryCount, key: str) -> float:
        return c.counts[key] / samples

    print(f"\n  per journey, from fetch_history() of {samples} journeys and of their payment child workflows:")
    print(f"    {'':26} {'bare':>6} {'journey':>8} {'payments':>9} {'total':>7}")
    for key in ROWS:
        total = per(own, key) + per(children, key)
        print(f"    {key:26} {bare.counts[key]:6d} {per(own, key):8.1f} {per(children, key):9.1f} {total:7.1f}")
    own_a, child_a = own.actions / samples, children.actions / samples
    print(f"    {'actions (billable)':26} {bare.actions:6d} {own_a:8.1f} {child_a:9.1f} {own_a + child_a:7.1f}")
    retries = per(own, "activity retries") + per(children, "activity retries")
    print(f"    {'activity retries':26} {bare.counts['activity retries']:6d} {'':8} {'':9} {retries:7.1f}")
    budget, actions = sum(BUDGET.values()), own_a + child_a
    tasks = (per(own, "workflow tasks") + per(children, "workflow tasks")) / bare.counts["workflow tasks"]
    events = (per(own, "history events") + per(children, "history events")) / bare.counts["history events"]
    print(
        f"    DESIGN §4 budget ≈{budget} actions ({' + '.join(f'{v} {k}' for k, v in BUDGET.items())}); "
        f"measured {actions:.0f} = {actions / budget:.1f}x. Workflow tasks {tasks:.1f}x and history events "
        f"{events:.1f}x the bare journey's."
    )
    kinds = Counter({k: v / samples for k, v in (own.activity_types + children.activity_types).items()})
    print("    activities by type: " + ", ".join(f"{k} {v:g}" for k, v in kinds.most_common()))


class CountingExporter(SpanExporter):
    """Where OTLP would send the spans: counts them (the benchmark measures our side, not the network)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: "Sequence[ReadableSpan]") -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


async def telemetry_client(plain: Client) -> tuple[Client, CountingExporter, TracerProvider]:
    """A client on the same server as the processes run it when observed: the worker's Prometheus endpoint
    (a runtime of its own) and a TracingInterceptor whose spans are batched to an exporter, as in production."""
    exporter, provider = CountingExporter(), TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(RedactingExporter(exporter)))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = await Client.connect(
        plain.service_client.config.target_host,
        namespace=plain.namespace,
        data_converter=plain.data_converter,
        runtime=worker_runtime(Settings(worker_metrics_port=port)),
        interceptors=temporal_interceptors(provider),
    )
    return client, exporter, provider


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=100, help="N, for the ceiling and for each database")
    parser.add_argument("--month-seconds", type=float, help="wall seconds per programme month (default 0.3 N, >= 4)")
    parser.add_argument("--timer-ms", type=int, default=100, help="the bare workflow's timers")
    parser.add_argument("--samples", type=int, default=5, help="journeys whose histories are counted")
    parser.add_argument("--profile", action="store_true", help="sample the worker's Python stacks during (b)")
    parser.add_argument("--no-codec", action="store_true", help="what-if: plain pydantic payloads, no AES codec")
    add_postgres_option(parser)
    parser.add_argument("--telemetry", action="store_true", help="(b) on SQLite again with worker metrics + tracing")
    args = parser.parse_args()
    n = args.journeys
    month_s = args.month_seconds or max(4.0, 0.3 * n)
    scratch = tempfile.TemporaryDirectory(prefix="journey-bench-")
    targets = {"sqlite": f"sqlite+aiosqlite:///{scratch.name}/bench.db"}
    if postgres := postgres_server(parser, args):
        targets["postgres"] = await postgres_bench_url(postgres, BENCH_DATABASE)
    if args.telemetry:
        targets[TELEMETRY] = f"sqlite+aiosqlite:///{scratch.name}/bench-telemetry.db"
    tally = install_tally()

    load = os.getloadavg()
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter if args.no_codec else data_converter(Settings().codec_keys),
        dev_server_extra_args=[arg for flag in search_attribute_flags() for arg in ("--search-attribute", flag)],
    ) as env:
        server_pids = _children()
        if args.no_codec:
            print("\nWHAT-IF: payloads without the project's AES codec (plain pydantic JSON)")
        print(f"\nN={n}, {CORES} cores, dev server pid {server_pids}, load average before {load[0]:.2f} {load[1]:.2f}")

        ceiling, bare = await run_ceiling(env.client, server_pids, n, args.timer_ms)
        print(f"\n(a) ceiling: bare journey-shaped workflow, {args.timer_ms} ms timers")
        for line in ceiling.report(n):
            print("    " + line)
        ceiling_cpu = ceiling.net_cpu / n

        traced = await telemetry_client(env.client) if args.telemetry else None
        for name, url in targets.items():
            client = traced[0] if traced and name == TELEMETRY else env.client
            run = await run_journeys(client, server_pids, url, n, month_s, args.profile)
            m, stats = run.meter, run.stats
            print(f"\n(b) BeneficiaryJourney, prakerja-2020, {name}, 1 programme month = {month_s:g} s")
            if traced and name == TELEMETRY:
                traced[2].force_flush()
                spans = traced[1].spans
                print(f"    worker metrics endpoint served; {spans} spans exported ({spans / n:.0f} per journey)")
            for line in m.report(n):
                print("    " + line)
            print(
                "    phases after the first registration: " + ", ".join(f"{k} {v:.1f} s" for k, v in run.phases.items())
            )
            floor = run.phases["drawn (1 wave, N signals)"] + FLOOR_MONTHS * month_s
            print(
                f"    programme-time floor = drawn + {FLOOR_MONTHS} months = {floor:.1f} s. Steps, seconds after the "
                "draw (median/max): "
                + ", ".join(f"{k} {statistics.median(v):.1f}/{max(v):.1f}" for k, v in stats.marks.items())
            )
            lag = sorted(stats.survey_lag) or [0.0]
            print(
                f"    outcomes {dict(run.outcomes)}; EWALLET received {dict(run.paid)}; purchase updates refused "
                f"NOT_AWARDED (row ahead of the workflow) and retried: {stats.purchase_retries}; survey windows "
                f"missed {stats.missed_windows}, signal lag median {statistics.median(lag):.2f} s, max {lag[-1]:.2f} s"
            )
            if not run.valid:
                print(
                    f"    !! NOT A VALID RUN: a month of {month_s:g} s was too short for one burst of {n} journeys "
                    "(deadlines and survey windows expired). Rerun with a larger --month-seconds."
                )
            cpu = m.net_cpu / n
            print(
                f"    vs ceiling: wall rate {(n / m.wall) / (n / ceiling.wall):.0%} of the ceiling's, CPU-bound rate "
                f"{ceiling_cpu / cpu:.0%} of its (one journey costs {cpu / ceiling_cpu:.1f} bare journeys of CPU)"
            )
            window_cpu, window_wall, window_paid = run.payment_window
            if (per_payment := run.cpu_per_payment()) is not None and window_wall >= 10:
                print(
                    f"    one payment (the parent's timer + a Disbursement child: start, open_payment, disburse, "
                    f"mark_paid): {per_payment * 1000:.0f} ms of CPU = {per_payment / ceiling_cpu:.1f} bare journeys "
                    f"(measured over the 2nd month, {window_wall:.0f} s, {window_paid} payments); 7 of them = "
                    f"{7 * per_payment / cpu:.0%} of a journey's CPU"
                )
            work = m.net_cpu / CORES  # seconds of both cores fully busy
            print(
                f"    what dominates the wall time ({m.wall:.0f} s): programme time (the floor) {floor:.0f} s; "
                f"the work itself needs {work:.0f} s of both cores; one wave moves all journeys in step, so the "
                "work comes in bursts (award/purchase/link, then each month's payments) and the rest of each "
                "month is idle. "
                + (
                    "Here the timers dominate: CPU-bound throughput is the capacity figure."
                    if floor >= work
                    else "Here the server/worker CPU dominates."
                )
            )
            if run.profile is not None:
                print("\n  where the worker process's CPU went (--profile):")
                for line in run.profile.report():
                    print("    " + line)
            samples = run.handles[: args.samples]
            counted = await asyncio.gather(*(count_journey(env.client, h.id) for h in samples))
            own, children = HistoryCount(), HistoryCount()
            for o, c in counted:
                own.add(o)
                children.add(c)
            print_counts(bare, own, children, len(samples))
    if tally.counts:
        print("\nSDK warnings during the run (counted, not printed):")
        for what, count in tally.counts.most_common():
            print(f"    {count:5d} x {what}")
    scratch.cleanup()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
    # The results are printed; leave without interpreter finalisation, during which the Temporal SDK's native
    # threads sometimes still call into Python and abort the process (exit 134 after a good run).
    sys.stdout.flush()
    os._exit(0)
