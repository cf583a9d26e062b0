"""(b) N real `prakerja-2020` journeys on the real workers and activities, simulated partners (a SimWorld) and a
fresh migrated database, programme time compressed: registered, pooled, one wave drawn for all, then each
driven to COMPLETED (benchmarks.driver) while the CPU meter runs."""

import asyncio
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle

from benchmarks.cpu import Meter
from benchmarks.driver import Projection, Stats, drive
from benchmarks.profiler import Profiler
from core.settings import AdapterMode, Settings
from db.migrate import upgrade
from db.models import Partner, Payment
from db.session import make_engine, make_sessionmaker
from simulators.world import SimWorld
from tests.workflows.harness import Harness
from workers.composition import build_adapters
from workers.main import build_workers
from workers.payments import build_payment_workers

PAYMENT_PARTNERS = ("EWALLET", "BANK")
PAYMENTS_PER_JOURNEY = 7  # prakerja-2020: 4 incentives + 3 surveys


@dataclass
class JourneyRun:
    database_url: str
    meter: Meter
    phases: dict[str, float]
    outcomes: Counter[str]
    stats: Stats
    paid: Counter[str]
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


async def migrated(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:  # payment workers find their partners' queues at start
        session.add_all(Partner(client_code=c, kind="payment", name=c, sign_key_sealed="-") for c in PAYMENT_PARTNERS)
    return sessions


# The simulated e-wallet's rate: a wave of N journeys pays each month's instalment in the same second, and a bank's
# disbursement API takes hundreds a second. At production's default (20: 10 a second from the workers directly) most
# of a 100-journey burst takes the partner's queue instead, as a payday backlog would (`--partner-rate 20`).
BENCH_PARTNER_RATE_PER_S = 1000.0


async def run_journeys(
    client: Client,
    server_pids: list[int],
    database_url: str,
    n: int,
    month_s: float,
    profile: bool,
    sandbox: bool = False,
    partner_rate: float = BENCH_PARTNER_RATE_PER_S,
) -> JourneyRun:
    engine = make_engine(database_url)
    sessions = await migrated(engine)
    settings = Settings(
        adapters=AdapterMode.SIMULATED,
        database_url=database_url,
        task_queue=f"bench-{uuid.uuid4().hex[:6]}",
        time_scale=30 * 86400 / month_s,
        workflow_sandbox=sandbox,  # production's worker runs them outside the sandbox (docker-compose.yml)
        payment_rate_per_s=partner_rate,
    )
    world = SimWorld()
    harness = Harness(client, settings, world, sessions)
    persons = [harness.citizen() for _ in range(n)]
    accounts = [f"08{i:010d}" for i in range(n)]
    for person, account in zip(persons, accounts, strict=True):
        world.add_payment_account("EWALLET", account, person.nik, kyc=True)
    projection = Projection(sessions, interval=0.25)
    stats, phases = Stats(), {}
    sampler = Profiler() if profile else None
    adapters = build_adapters(settings, world=world)
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
            *(drive(client, projection, h, a, stats, drawn) for h, a in zip(handles, accounts, strict=True)),
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
    in_window = await paid_between(sessions, t0, t1)
    await engine.dispose()
    return JourneyRun(
        database_url=database_url,
        meter=meter,
        phases=phases,
        outcomes=Counter(o if isinstance(o, str) else f"error {type(o).__name__}: {o}" for o in outcomes),
        stats=stats,
        paid=Counter(f"{p.amount}:{p.status}" for p in world.payments.received("EWALLET")),
        handles=list(handles),
        profile=sampler,
        payment_window=(*meter.cpu_between(t0, t1), in_window),
    )


async def paid_between(sessions: async_sessionmaker[AsyncSession], t0: float, t1: float) -> int:
    """Payments the ledger marked PAID between two perf_counter times."""
    wall_offset = time.time() - time.perf_counter()
    async with sessions() as session:
        paid_at = list(await session.scalars(select(Payment.paid_at).where(Payment.paid_at.is_not(None))))
    stamps = [at.replace(tzinfo=at.tzinfo or UTC).timestamp() - wall_offset for at in paid_at if at is not None]
    return sum(1 for at in stamps if t0 <= at <= t1)
