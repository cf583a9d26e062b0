import random
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.worker import Worker

from db.session import make_sessionmaker
from simulators.world import SimWorld
from tests.conftest import test_settings
from tests.payments.harness import PaymentsHarness, RecordingGateway, signalling_sender
from workers.composition import build_adapters
from workers.payments import PAYMENT_WORKFLOWS, PaymentWorkers, partner_activities, payment_journey_activities


async def running(harness: PaymentsHarness) -> AsyncIterator[PaymentsHarness]:
    """The payment workflows and ledger activities on the journey queue, plus one worker per payment partner."""
    adapters = build_adapters(harness.settings, world=harness.world)
    adapters.payments = harness.gateway
    main = Worker(
        harness.client,
        task_queue=harness.settings.task_queue,
        workflows=list(PAYMENT_WORKFLOWS),
        activities=payment_journey_activities(harness.settings, adapters, harness.sessions),
    )
    partners = PaymentWorkers(
        harness.client,
        partner_activities(harness.settings, adapters, harness.sessions),
        harness.sessions,
        refresh_interval_s=0.2,
    )
    harness.partner_workers = partners
    async with main, partners:
        yield harness
        await harness.stop_all()


def new_harness(client, engine) -> PaymentsHarness:  # type: ignore[no-untyped-def]
    settings = test_settings(database_url=engine.url.render_as_string(hide_password=False))
    world = SimWorld(rng=random.Random(11))
    suffix = uuid.uuid4().hex[:6].upper()
    return PaymentsHarness(
        client=client,
        settings=settings,
        world=world,
        gateway=RecordingGateway(world),
        sessions=make_sessionmaker(engine),
        partner_a=f"EWA-{suffix}",
        partner_b=f"BNK-{suffix}",
    )


@pytest_asyncio.fixture
async def pay(ts_env, engine) -> AsyncIterator[PaymentsHarness]:
    harness = new_harness(ts_env.client, engine)
    harness.world.callback_sender = signalling_sender(ts_env.client)
    for code in (harness.partner_a, harness.partner_b):
        await harness.add_partner(code)
    async for h in running(harness):
        yield h
