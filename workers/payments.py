"""Payment workers: one activity worker per payment partner queue, each rate-limited on the server, and the
journeys' direct payments (`pay_in_worker`, a local activity of the journey's worker) within the partner's budget.

Payment partners are discovered from the database at start and re-checked every few seconds, so a
partner registered later through the admin API gets its worker without a restart. The Disbursement and
Reconciliation workflows and the ledger activities run on the journey queue (see `PAYMENT_WORKFLOWS`
and `payment_journey_activities`).
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.payments import PartnerBudget, PaymentActivities
from activities.reconciliation import ReconciliationActivities
from adapters.factory import Adapters
from core.domain import PartnerKind
from core.payments import interactive_task_queue, payment_task_queue
from core.ratestore import MemoryRateStore, RateStore
from core.settings import Settings
from db.models import Partner
from workflows.disbursement import Disbursement
from workflows.reconciliation import Reconciliation

log = logging.getLogger("prakerja.worker.payments")

PAYMENT_WORKFLOWS: Sequence[type] = (Disbursement, Reconciliation)
# Activities per second across all workers of one partner's queue (enforced by the Temporal server);
# the worker process takes it from PRAKERJA_PAYMENT_RATE_PER_S.
DEFAULT_PARTNER_RATE_PER_S = 20.0
# A partner's rate is shared by the two ways a payment reaches it: the journeys' workers call it directly within a
# budget (`PartnerBudget`, counted in Redis across processes when PRAKERJA_REDIS_URL is set), and what that budget
# turns away queues on the partner's bulk queue, at the server-side rate. Half each: disbursements together never
# above the rate (e-KYC has its own queue and rate).
DIRECT_SHARE = 0.5
REFRESH_INTERVAL_S = 10.0


def direct_budget(settings: Settings, rates: RateStore | None = None) -> PartnerBudget:
    """The partners' budgets for the journeys' direct payments, counted in `rates` (this process's memory if None)."""
    return PartnerBudget(settings.payment_rate_per_s * DIRECT_SHARE, rates or MemoryRateStore())


def payment_journey_activities(
    settings: Settings,
    adapters: Adapters,
    sessions: async_sessionmaker[AsyncSession],
    rates: RateStore | None = None,
) -> list[Callable[..., Any]]:
    """Ledger activities, served on the journey queue next to the Disbursement workflow, and the journeys' direct
    payment (a local activity, so it runs in the journey's worker: registered here, never dispatched)."""
    payments = PaymentActivities(adapters.payments, sessions, settings.api_public_url, direct_budget(settings, rates))
    return [
        payments.pay_in_worker,
        payments.open_payment,
        payments.mark_paid,
        payments.mark_on_hold,
        payments.cancel,
        payments.record_late_success,
    ]


def partner_activities(
    settings: Settings, adapters: Adapters, sessions: async_sessionmaker[AsyncSession]
) -> list[Callable[..., Any]]:
    """Partner calls, served on each partner's own queue."""
    payments = PaymentActivities(adapters.payments, sessions, settings.api_public_url)
    reconciliation = ReconciliationActivities(adapters.payments, sessions)
    return [
        payments.pay,
        payments.disburse,
        payments.check_status,
        payments.verify_account,
        reconciliation.reconcile_partner,
    ]


def interactive_activities(activities: Sequence[Callable[..., Any]]) -> list[Callable[..., Any]]:
    """Of the partner activities, those someone waits for (e-KYC): served on the partner's interactive queue."""
    return [a for a in activities if getattr(a, "__name__", "") == "verify_account"]


class PaymentWorkers:
    """Runs (and keeps running) one Worker per payment partner known to the database."""

    def __init__(
        self,
        client: Client,
        activities: Sequence[Callable[..., Any]],
        sessions: async_sessionmaker[AsyncSession],
        *,
        rate_per_s: float = DEFAULT_PARTNER_RATE_PER_S,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
    ) -> None:
        self._client = client
        self._activities = list(activities)
        self._sessions = sessions
        self._rate = rate_per_s
        self._interval = refresh_interval_s
        self._running: dict[str, tuple[list[Worker], asyncio.Task[Any]]] = {}
        self._stop = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    @property
    def partners(self) -> list[str]:
        return sorted(self._running)

    async def refresh(self) -> list[str]:
        """Start a worker for each payment partner without a live one; returns the client codes started."""
        async with self._sessions() as session:
            codes = list(await session.scalars(select(Partner.client_code).where(Partner.kind == PartnerKind.PAYMENT)))
        started = []
        for code in codes:
            running = self._running.get(code)
            if running is not None and not running[1].done():
                continue
            self._running[code] = self._start(code)
            started.append(code)
        if started:
            log.info("payment workers started for %s", ", ".join(started))
        return started

    def _start(self, code: str) -> tuple[list[Worker], asyncio.Task[Any]]:
        """Two queues per partner, each with its own server-side rate: bulk (disbursements, their status,
        statements; a payday backlog waits here, at the share of the rate the journeys' direct payments leave it) and
        interactive (e-KYC, which a beneficiary or support waits for)."""
        workers = [
            Worker(
                self._client,
                task_queue=queue,
                activities=activities,
                max_task_queue_activities_per_second=rate,
                # An in-flight disbursement cut short is safe (same key next time), but let it finish if it can.
                graceful_shutdown_timeout=timedelta(seconds=5),
            )
            for queue, activities, rate in (
                (payment_task_queue(code), self._activities, self._rate * (1 - DIRECT_SHARE)),
                (interactive_task_queue(code), interactive_activities(self._activities), self._rate),
            )
        ]
        return workers, asyncio.create_task(_run_all(workers), name=f"payment-workers-{code}")

    async def run(self) -> None:
        """Serve until `shutdown()`; a partner whose worker died gets a new one at the next refresh."""
        while not self._stop.is_set():
            try:
                await self.refresh()
            except Exception as exc:  # the database may be briefly away: keep serving the known partners
                log.warning("payment partner refresh failed (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
        await self._shutdown_workers()

    async def shutdown(self) -> None:
        self._stop.set()
        if self._loop is not None:
            await self._loop
        else:
            await self._shutdown_workers()

    async def _shutdown_workers(self) -> None:
        running, self._running = list(self._running.values()), {}
        await asyncio.gather(
            *(w.shutdown() for workers, task in running if not task.done() for w in workers), return_exceptions=True
        )
        await asyncio.gather(*(task for _, task in running), return_exceptions=True)

    async def __aenter__(self) -> "PaymentWorkers":
        await self.refresh()
        self._loop = asyncio.create_task(self.run())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown()


async def _run_all(workers: list[Worker]) -> None:
    """Run a partner's workers together: when one stops, the others are shut down (the refresh restarts both)."""
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await asyncio.gather(
            *(w.shutdown() for w, t in zip(workers, tasks, strict=True) if not t.done()), return_exceptions=True
        )
        await asyncio.gather(*tasks, return_exceptions=True)


def build_payment_workers(
    client: Client, settings: Settings, adapters: Adapters, sessions: async_sessionmaker[AsyncSession]
) -> PaymentWorkers:
    """The partner-queue workers of one worker process (run with `run()`/`shutdown()` or `async with`)."""
    return PaymentWorkers(
        client, partner_activities(settings, adapters, sessions), sessions, rate_per_s=settings.payment_rate_per_s
    )
