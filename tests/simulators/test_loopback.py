"""The simulator over a real socket: uvicorn, real HTTP, real client timeouts, real signed callbacks."""

import asyncio
import json
import random
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from adapters.errors import PartnerTimeout
from adapters.payment import DisbursementStatus, DisburseRequest
from core.security import sign
from core.settings import AdapterMode, Settings
from simulators.app import create_app
from simulators.world import SimWorld
from tests.adapters.sim_support import BORN, KK, NIK, adapter_settings
from workers.composition import build_adapters


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            # uvicorn exposes only a flag, no event, for "listening".
            while not server.started:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def platform_stub(received: list[tuple[str, dict[str, str], bytes]]) -> FastAPI:
    """Stands in for the platform's callback endpoint."""
    app = FastAPI()

    @app.post("/v1/partners/disbursements/{attempt_id}/status")
    async def callback(attempt_id: str, request: Request) -> dict[str, bool]:
        received.append((request.url.path, dict(request.headers), await request.body()))
        return {"ok": True}

    return app


@pytest.fixture
def world() -> SimWorld:
    world = SimWorld(rng=random.Random(5))
    world.add_citizen(NIK, KK, "Siti Nurhaliza", BORN)
    world.add_payment_account("ew-linkaja", "0811", NIK)
    return world


async def test_adapters_over_a_real_socket(world):
    # A read timeout a loaded machine's ordinary calls meet (0.3 s did not, under a parallel suite), far below the
    # delay of the partner that times out.
    async with serving(create_app(world)) as url, httpx.AsyncClient(timeout=2.0) as http:
        settings = adapter_settings(AdapterMode.HTTP).model_copy(update={"partner_base_url": url})
        adapters = build_adapters(settings, http=http)
        assert (await adapters.civil_registry.verify(NIK, KK, "SITI NURHALIZA", BORN)).name_dob_match

        world.add_fault("payment", "timeout", ms=10_000)
        request = DisburseRequest(idempotency_key="k-7", account_number="0811", nik=NIK, amount=600_000)
        started = time.perf_counter()
        with pytest.raises(PartnerTimeout):
            await adapters.payments.disburse("ew-linkaja", request)
        assert time.perf_counter() - started < 6.0  # the client's timeout, not the partner's 10 s
        world.clear_faults()
        settled = await adapters.payments.status("ew-linkaja", "k-7")
        assert settled is not None and settled.status is DisbursementStatus.SUCCEEDED


async def test_callbacks_reach_the_platform_signed(world):
    received: list[tuple[str, dict[str, str], bytes]] = []
    world.configure_payment_partner("ew-linkaja", sign_key="lk-secret", mode="async", callback_delay_ms=10)
    async with serving(platform_stub(received)) as platform, serving(create_app(world)) as url:
        async with httpx.AsyncClient(timeout=2) as http:
            gateway = build_adapters(
                Settings(adapters="http", partner_base_url=url, payment_url=None),
                http=http,  # type: ignore[arg-type]
            ).payments
            callback = f"{platform}/v1/partners/disbursements/att-3/status"
            request = DisburseRequest(
                idempotency_key="k-8", account_number="0811", nik=NIK, amount=50_000, callback_url=callback
            )
            assert (await gateway.disburse("ew-linkaja", request)).status is DisbursementStatus.PENDING
            await world.drain()

    [(path, headers, body)] = received
    assert json.loads(body)["status"] == "SUCCEEDED"
    expected = sign("lk-secret", "ew-linkaja", headers["x-timestamp"], "POST", path, body)
    assert headers["x-signature"] == expected
