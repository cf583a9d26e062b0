"""Each port's contract runs twice: simulated in-process, and over HTTP against the simulator app."""

import random
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.factory import Adapters
from core.settings import AdapterMode
from simulators.world import SimWorld
from tests.adapters.sim_support import BORN, KK, NIK, CallbackRecorder, adapter_settings, asgi_client
from workers.composition import build_adapters


@pytest.fixture
def callbacks() -> CallbackRecorder:
    return CallbackRecorder()


@pytest.fixture
def world(callbacks: CallbackRecorder) -> SimWorld:
    world = SimWorld(rng=random.Random(7), callback_sender=callbacks)
    world.add_citizen(NIK, KK, "Siti Nurhaliza", BORN)
    return world


@pytest.fixture
async def sim(world: SimWorld) -> AsyncIterator[httpx.AsyncClient]:
    """The control API over the same world, to observe what the partners received."""
    async with asgi_client(world) as client:
        yield client


@pytest.fixture(params=[AdapterMode.SIMULATED, AdapterMode.HTTP])
async def adapters(request: pytest.FixtureRequest, world: SimWorld) -> AsyncIterator[Adapters]:
    settings = adapter_settings(request.param)
    if request.param is AdapterMode.SIMULATED:
        yield build_adapters(settings, world=world)
    else:
        async with asgi_client(world) as http:
            yield build_adapters(settings, http=http)
    world.payments.cancel()
