"""Worker process: the composition root wiring settings → database → adapters → activities → Workers."""

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.calendar import CalendarActivities
from activities.catalogue import AssessmentActivities
from activities.draw import DrawActivities
from activities.eligibility import EligibilityActivities
from activities.identity import IdentityActivities
from activities.programme import ProgrammeActivities
from activities.screening import ScreeningActivities
from activities.training import SurveyActivities, TrainingActivities
from adapters.factory import Adapters
from adapters.metering import MeteredTransport
from core.logs import configure_logging
from core.ratestore import RateStore, build_rate_store
from core.settings import Settings, load_settings
from core.temporal import connect
from core.tracing import instrument_http, temporal_interceptors, tracer_provider
from db.session import make_engine, make_sessionmaker
from services import profiles
from workers.composition import build_adapters
from workers.payments import PAYMENT_WORKFLOWS, build_payment_workers, payment_journey_activities
from workers.telemetry import PartnerCallMeter, worker_runtime
from workflows.assessment import CourseAssessment
from workflows.calendar import WaveCalendar
from workflows.draw import WaveDraw
from workflows.journey import BeneficiaryJourney

log = logging.getLogger("prakerja.worker")

WORKFLOWS: Sequence[type] = (BeneficiaryJourney, WaveDraw, WaveCalendar, CourseAssessment, *PAYMENT_WORKFLOWS)


def journey_activities(
    settings: Settings,
    adapters: Adapters,
    sessions: async_sessionmaker[AsyncSession],
    rates: RateStore | None = None,
) -> list[Callable[..., Any]]:
    """Bound activity methods served on the journey task queue; `rates` counts the partners' budgets for the
    journeys' direct payments (this process's memory if None)."""
    identity = IdentityActivities(
        adapters.civil_registry, adapters.biometrics, sessions, settings.face_match_threshold, settings.secret_key
    )
    eligibility = EligibilityActivities(adapters.social_affairs, sessions)
    screening = ScreeningActivities(identity, eligibility)
    programme = ProgrammeActivities(adapters.marketplace, sessions)
    training = TrainingActivities(sessions)
    surveys = SurveyActivities(sessions)
    draw = DrawActivities(sessions, profiles.resolver(sessions, settings.time_scale))
    assessment = AssessmentActivities(sessions)
    return [
        screening.screen_applicant,
        identity.verify_identity,  # journeys before the lean-journey patch, and their retries
        eligibility.check_eligibility,
        programme.award,
        programme.revoke,
        training.record_purchase,
        training.cancel_purchase,
        training.return_balance,
        surveys.schedule_surveys,
        draw.select_winners,
        draw.notify_batch,
        CalendarActivities(sessions).tell_journeys,
        assessment.record_decision,
        assessment.mark_overdue,
        *payment_journey_activities(settings, adapters, sessions, rates),
    ]


def build_workers(
    client: Client,
    settings: Settings,
    adapters: Adapters,
    sessions: async_sessionmaker[AsyncSession],
    activities: list[Callable[..., Any]] | None = None,
) -> list[Worker]:
    return [
        Worker(
            client,
            task_queue=settings.task_queue,
            workflows=list(WORKFLOWS),
            activities=activities or journey_activities(settings, adapters, sessions),
            # Let running activities finish their transaction on shutdown: one cancelled mid-write could
            # leave SQLite's write lock with a pooled connection.
            graceful_shutdown_timeout=timedelta(seconds=5),
            workflow_runner=SandboxedWorkflowRunner() if settings.workflow_sandbox else UnsandboxedWorkflowRunner(),
        )
    ]


async def run(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    runtime = worker_runtime(settings)
    tracing = tracer_provider(settings, "prakerja-worker")
    meter = PartnerCallMeter((runtime or Runtime.default()).metric_meter)
    transport = MeteredTransport(meter)
    async with httpx.AsyncClient(timeout=settings.partner_timeout_s, transport=transport) as http:
        instrument_http(http, tracing)
        adapters = build_adapters(settings, http=http)
        client = await connect(settings, runtime=runtime, interceptors=temporal_interceptors(tracing))
        sessions = make_sessionmaker(engine)
        # Several worker processes share each partner's budget for direct payments through Redis; while Redis is
        # away, payments take the partner's queue (its rate is the Temporal server's).
        rates = build_rate_store(settings.redis_url, admit_when_unreachable=False)
        workers = build_workers(
            client, settings, adapters, sessions, journey_activities(settings, adapters, sessions, rates)
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker polling %s and one queue per payment partner", settings.task_queue)
        if settings.worker_metrics_port:
            log.info("worker metrics on :%d/metrics", settings.worker_metrics_port)
        async with build_payment_workers(client, settings, adapters, sessions):
            tasks = [asyncio.create_task(w.run()) for w in workers]
            await stop.wait()
            await asyncio.gather(*(w.shutdown() for w in workers))
            await asyncio.gather(*tasks, return_exceptions=True)
        await rates.aclose()
    await engine.dispose()
    if tracing is not None:
        tracing.shutdown()  # sends the spans still batched


def main() -> None:
    configure_logging()
    asyncio.run(run(load_settings()))


if __name__ == "__main__":
    main()
