"""The whole stack on loopback, as `make up` runs it, for end-to-end tests.

Simulators and API under uvicorn on free ports, the Temporal dev server, and one worker process's worth of
workers in-process (the journey queue plus one queue per payment partner) whose adapters speak HTTP to the
simulators. The API's public URL is the live one, so asynchronous payment partners really call it back.
"""

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import AdapterMode, Settings
from core.temporal import connect
from db.session import make_sessionmaker
from simulators.app import create_app as create_simulators
from tests.conftest import test_settings
from tests.workflows.harness import Person, journey_activities_pinning
from workers.composition import build_adapters
from workers.main import build_workers
from workers.payments import PaymentWorkers, build_payment_workers


def loopback_socket() -> socket.socket:
    """A listening-to-be socket on a free loopback port: its URL is known before the app starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def serving(app: FastAPI, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """`app` under uvicorn on a free loopback port (or `sock`), as a process would run it."""
    sock = sock or loopback_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
                await asyncio.sleep(0.01)
        yield url_of(sock)
    finally:
        server.should_exit = True
        await task
        sock.close()


async def poll(fetch: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], timeout: float = 15) -> Any:
    """Fetch until `done(result)`; on timeout, fail showing the last result."""
    last = None
    try:
        async with asyncio.timeout(timeout):
            while not done(last := await fetch()):
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"gave up waiting; last seen {last}") from None
    return last


def ok(resp: httpx.Response, status: int) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


@dataclass
class Stack:
    http: httpx.AsyncClient  # to the API (base_url set)
    simulators: str  # the simulators' base URL, for the /sim control API
    settings: Settings
    payment_workers: PaymentWorkers

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.admin_token}"}

    async def sim(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        """Call the simulators' control API (seeding, configuration, what the partners received)."""
        return ok(await self.http.request(method, f"{self.simulators}{path}", json=body), status)


@asynccontextmanager
async def stack(
    dev_env: WorkflowEnvironment,
    engine: AsyncEngine,
    label: str = "e2e",
    terms: dict[str, Any] | None = None,
    **overrides: object,
) -> AsyncIterator[Stack]:
    """Everything up on loopback; `overrides` go to the settings (e.g. `time_scale`), `terms` update the profile's
    terms that awards pin. Payment partners registered later get their worker at the next refresh
    (`payment_workers.refresh()` to not wait for it)."""
    api_sock = loopback_socket()
    async with serving(create_simulators()) as simulators:
        settings = test_settings(
            adapters=AdapterMode.HTTP,
            partner_base_url=simulators,
            api_public_url=url_of(api_sock),
            temporal_address=dev_env.client.service_client.config.target_host,
            temporal_namespace=dev_env.client.namespace,
            database_url=engine.url.render_as_string(hide_password=False),
            task_queue=f"{label}-{uuid.uuid4().hex[:8]}",
            **overrides,
        )
        async with (
            httpx.AsyncClient(timeout=settings.partner_timeout_s) as partner_http,
            serving(create_app(settings), api_sock) as api,
            httpx.AsyncClient(base_url=api, timeout=10) as http,
        ):
            sessions = make_sessionmaker(engine)
            adapters = build_adapters(settings, http=partner_http)
            client = await connect(settings)
            activities = journey_activities_pinning(settings, adapters, sessions, **(terms or {}))
            [worker] = build_workers(client, settings, adapters, sessions, activities)
            async with worker, build_payment_workers(client, settings, adapters, sessions) as payment_workers:
                yield Stack(http, simulators, settings, payment_workers)


async def register(http: httpx.AsyncClient, simulators: str, person: Person) -> dict[str, Any]:
    """Seed the citizen in the civil-registry simulator, then register as the applicant would."""
    citizen = {
        "nik": person.nik,
        "kk_number": person.kk_number,
        "full_name": person.full_name,
        "date_of_birth": person.date_of_birth.isoformat(),
    }
    ok(await http.post(f"{simulators}/sim/citizens", json=citizen), 201)
    applicant = citizen | {
        "email": "siti@example.id",
        "phone": "+6281234567890",
        "province": "Jawa Barat",
        "occupation": "unemployed",
        "is_student": False,
        "selfie_b64": person.selfie_b64,
    }
    return ok(await http.post("/v1/registrations", json=applicant), 202)


async def staff_headers(http: httpx.AsyncClient, admin_token: str, role: str) -> dict[str, str]:
    """Authorization headers of a new staff member with `role`, minted by the admin."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    minted = ok(await http.post("/v1/admin/staff-tokens", json={"role": role}, headers=admin), 201)
    return {"Authorization": f"Bearer {minted['token']}"}


async def operator_headers(http: httpx.AsyncClient, admin_token: str) -> dict[str, str]:
    return await staff_headers(http, admin_token, "operator")
