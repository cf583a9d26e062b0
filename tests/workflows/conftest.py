import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.contracts import JourneyState
from core.settings import Settings
from core.temporal import data_converter
from db.models import Partner
from db.session import make_sessionmaker
from simulators.world import SimWorld
from tests.conftest import BIN, register_search_attributes, test_settings
from tests.workflows.harness import Harness
from workers.composition import build_adapters
from workers.main import build_workers
from workers.payments import build_payment_workers
from workflows.journey import BeneficiaryJourney

PAYMENT_PARTNERS = ("EWALLET", "BANK")


async def _harness(env: WorkflowEnvironment, engine, **settings_overrides: object) -> AsyncIterator[Harness]:
    settings = test_settings(database_url=engine.url.render_as_string(hide_password=False), **settings_overrides)
    world = SimWorld()
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:  # payment workers find their partners' queues at start
        session.add_all(Partner(client_code=c, kind="payment", name=c, sign_key_sealed="-") for c in PAYMENT_PARTNERS)
    adapters = build_adapters(settings, world=world)
    workers = build_workers(env.client, settings, adapters, sessions)
    harness = Harness(env.client, settings, world, sessions)
    async with workers[0], build_payment_workers(env.client, settings, adapters, sessions):
        yield harness
        await harness.stop_all()


@pytest_asyncio.fixture
async def harness(ts_env, engine) -> AsyncIterator[Harness]:
    async for h in _harness(ts_env, engine):
        yield h


@pytest_asyncio.fixture
async def dev_harness(dev_env, engine) -> AsyncIterator[Harness]:
    """On the real dev server: for updates, which the time-skipping test server supports only partly
    (samples-python#142), and for anything that needs no clock tricks."""
    async for h in _harness(dev_env, engine):
        yield h


# One programme month lasts 3 s: a whole 2020 schedule (surveys up to day 120) takes about 12 s.
FAST = 30 * 86400 / 3


@pytest_asyncio.fixture
async def fast_harness(dev_env, engine) -> AsyncIterator[Harness]:
    """Real dev server, programme time compressed: timers are real, payments run through real workers."""
    async for h in _harness(dev_env, engine, time_scale=FAST):
        yield h


@pytest_asyncio.fixture
async def own_clock() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own, for tests that move the clock by hand (env.sleep):
    the shared server's clock is global, so manual skips there would disturb other tests."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=data_converter(Settings().codec_keys),
    ) as env:
        await register_search_attributes(env.client)
        yield env


@pytest_asyncio.fixture
async def clock_harness(own_clock, engine) -> AsyncIterator[Harness]:
    async for h in _harness(own_clock, engine):
        yield h


async def wait_status(handle: WorkflowHandle, *statuses: str, timeout: float = 15) -> JourneyState:
    """Poll the journey's query (real time: polling does not skip time on the test server)."""
    async with asyncio.timeout(timeout):
        while True:
            view = await handle.query(BeneficiaryJourney.view)
            if view.status in statuses:
                return view
            await asyncio.sleep(0.05)
