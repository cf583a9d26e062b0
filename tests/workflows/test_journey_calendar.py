"""The wave's calendar (issue 11): a drawn wave's `WaveCalendar` holds its first-purchase deadline and its close, and
tells only the journeys that need them, so a journey that completes its training in time runs no timer for either.
On the dev server with a compressed programme clock (a month lasts 3 s; the calendar speaks at least 5 s after each
date, see activities/draw.py)."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.contracts import wave_calendar_id
from core.problems import ProblemCode
from db.models import BalanceEntry, Partner
from db.session import make_sessionmaker
from simulators.world import SimWorld
from tests.conftest import test_settings as settings_for
from tests.workflows.conftest import FAST, PAYMENT_PARTNERS, wait_status
from tests.workflows.harness import Harness, awarded, journey_activities_pinning, order
from tests.workflows.test_journey_money import ACCOUNT, _now, answer_surveys, link_account
from workers.composition import build_adapters
from workers.main import build_workers
from workers.payments import build_payment_workers
from workflows.journey import BeneficiaryJourney

# The deadline 30 programme days after the award (3 s), the close 90 (9 s): a 2023 journey completes before it.
DATES = {"purchase_deadline_days": 30, "programme_close_days": 90}


@pytest_asyncio.fixture
async def harness(dev_env, engine) -> AsyncIterator[Harness]:
    settings = settings_for(database_url=engine.url.render_as_string(hide_password=False), time_scale=FAST)
    world, sessions = SimWorld(), make_sessionmaker(engine)
    async with sessions.begin() as session:
        session.add_all(Partner(client_code=c, kind="payment", name=c, sign_key_sealed="-") for c in PAYMENT_PARTNERS)
    adapters = build_adapters(settings, world=world)
    activities = journey_activities_pinning(settings, adapters, sessions, **DATES)
    [worker] = build_workers(dev_env.client, settings, adapters, sessions, activities)
    harness = Harness(dev_env.client, settings, world, sessions)
    async with worker, build_payment_workers(dev_env.client, settings, adapters, sessions):
        yield harness
        await harness.stop_all()


async def signals_and_timers(harness: Harness, handle: WorkflowHandle) -> tuple[list[str], list[str]]:
    """(the names of the signals the journey received, the summaries of the timers it started)."""
    events = (await handle.fetch_history()).events
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    summaries = [e.user_metadata.summary for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    timers = await harness.client.data_converter.decode(summaries, [str] * len(summaries)) if summaries else []
    return signals, timers


async def test_a_journey_that_completes_in_time_runs_no_timer_for_the_deadline_or_the_close(harness):
    handle = await awarded(harness, "prakerja-2023")
    harness.world.add_payment_account("EWALLET", ACCOUNT, harness.persons[-1].nik, kyc=True)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    await handle.signal(
        BeneficiaryJourney.completion, {"purchase_ref": "P-1", "certificate_number": "C", "completed_at": _now()}
    )
    await wait_status(handle, "INCENTIVES")
    await handle.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 5})
    assert (await link_account(handle, "EWALLET", ACCOUNT)).verified
    await answer_surveys(harness, handle, [1, 2])
    assert (await asyncio.wait_for(handle.result(), timeout=60)).status == "COMPLETED"

    signals, timers = await signals_and_timers(harness, handle)
    assert not any("deadline" in t or "close" in t for t in timers), timers
    assert "purchase_deadline_reached" not in signals and "programme_closed" not in signals  # told nothing


async def test_a_journey_with_no_purchase_is_revoked_when_the_calendar_tells_it_the_deadline_came(harness):
    handle = await awarded(harness)

    result = await asyncio.wait_for(handle.result(), timeout=60)

    assert (result.status, result.reasons) == ("REVOKED", ["PURCHASE_DEADLINE_MISSED"])
    signals, timers = await signals_and_timers(harness, handle)
    assert "purchase_deadline_reached" in signals
    assert not any("deadline" in t or "close" in t for t in timers), timers


async def test_a_purchase_kept_but_never_completed_ends_at_the_close_with_the_balance_returned(harness):
    handle = await awarded(harness)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    await wait_status(handle, "TRAINING")

    result = await asyncio.wait_for(handle.result(), timeout=60)

    assert (result.status, result.reasons) == ("COMPLETED", ["NO_TRAINING_COMPLETED"])
    signals, timers = await signals_and_timers(harness, handle)
    assert {"purchase_deadline_reached", "programme_closed"} <= set(signals)
    assert not any("deadline" in t or "close" in t for t in timers), timers
    rid = handle.id.removeprefix("journey-")
    async with harness.sessions() as s:
        entries = list(await s.scalars(select(BalanceEntry).where(BalanceEntry.registration_id == rid)))
    assert sorted(e.kind for e in entries) == ["AWARD", "PURCHASE", "TREASURY_RETURN"]
    assert sum(e.amount for e in entries) == 0  # what was left went back to the treasury


async def test_a_purchase_after_the_close_is_refused_by_the_journeys_clock(harness):
    handle = await awarded(harness)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    # The calendar's word could come at any moment after the close; without it the journey must judge alone.
    [calendar] = [h for h in harness.started if h.id.startswith(wave_calendar_id(""))]
    await calendar.terminate("test: the calendar is late")
    await asyncio.sleep(90 * 86400 / FAST + 0.5)  # past the close by the journey's clock

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(BeneficiaryJourney.purchase, order("P-2", price=100_000), id="purchase-P-2")

    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == ProblemCode.PROGRAMME_CLOSED
