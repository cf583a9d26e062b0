import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.client import WorkflowHandle

from adapters.factory import build_adapters
from core.contracts import JourneyResult
from db.session import make_sessionmaker
from simulators.world import SimWorld
from tests.conftest import test_settings
from tests.workflows.harness import Harness
from workers.main import build_workers


@pytest_asyncio.fixture
async def harness(ts_env, engine) -> AsyncIterator[Harness]:
    settings = test_settings(database_url=engine.url.render_as_string(hide_password=False))
    world = SimWorld()
    sessions = make_sessionmaker(engine)
    workers = build_workers(ts_env.client, settings, build_adapters(settings, world=world), sessions)
    harness = Harness(ts_env.client, settings, world, sessions)
    async with workers[0]:
        yield harness
        await harness.stop_all()


async def wait_status(handle: WorkflowHandle, *statuses: str, timeout: float = 15) -> JourneyResult:
    """Poll the journey's query (real time: polling does not skip time on the test server)."""
    async with asyncio.timeout(timeout):
        while True:
            view = await handle.query("view", result_type=JourneyResult)
            if view.status in statuses:
                return view
            await asyncio.sleep(0.05)
