"""The real API app wired to a Temporal server and a worker with simulated partners (a `SimWorld`).

Tests drive it over HTTP only (in-process ASGI) and watch journeys progress in the projection.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from adapters.factory import Adapters
from api.app import create_app
from core.contracts import draw_id, journey_id
from core.settings import Settings
from db.models import Beneficiary, Wave
from db.session import make_sessionmaker
from simulators.world import SimWorld
from tests.api.helpers import bearer, serve, staff_token
from tests.conftest import test_settings
from tests.workflows.harness import Person
from workers.composition import build_adapters
from workers.main import build_workers


def registration_body(person: Person, **overrides: Any) -> dict[str, Any]:
    body = {
        "nik": person.nik,
        "kk_number": person.kk_number,
        "full_name": person.full_name,
        "date_of_birth": person.date_of_birth.isoformat(),
        "email": "siti.rahayu@example.id",
        "phone": "081234567890",
        "province": person.province,
        "occupation": person.occupation,
        "is_student": person.is_student,
        "selfie_b64": person.selfie_b64,
    }
    return body | overrides


@dataclass
class Live:
    http: httpx.AsyncClient
    settings: Settings
    world: SimWorld
    sessions: async_sessionmaker[AsyncSession]
    temporal: Client
    _staff: dict[str, dict[str, str]] = field(default_factory=dict)

    def citizen(self, **overrides: Any) -> Person:
        person = Person(**overrides)
        self.world.add_citizen(person.nik, person.kk_number, person.full_name, person.date_of_birth)
        return person

    async def register(self, person: Person) -> dict[str, Any]:
        resp = await self.http.post("/v1/registrations", json=registration_body(person))
        assert resp.status_code == 202, resp.text
        return resp.json()

    async def staff(self, role: str) -> dict[str, str]:
        """Authorization headers of a staff member with `role` (minted once per test by the admin)."""
        if role not in self._staff:
            self._staff[role] = bearer(await staff_token(self.http, self.settings, role))
        return self._staff[role]

    async def wait_me(self, token: str, *statuses: str, timeout: float = 10) -> dict[str, Any]:
        return await self._wait("/v1/me", bearer(token), statuses, timeout)

    async def wait_wave(self, wave_id: str, status: str, timeout: float = 10) -> dict[str, Any]:
        headers = await self.staff("operator")
        return await self._wait(f"/v1/waves/{wave_id}", headers, (status,), timeout)

    async def _wait(self, path: str, headers: dict[str, str], statuses: tuple[str, ...], timeout: float) -> Any:
        """Poll a view until it shows one of `statuses` (the projection follows the workflow within a second)."""
        last: Any = None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    resp = await self.http.get(path, headers=headers)
                    assert resp.status_code == 200, resp.text
                    last = resp.json()
                    if last["status"] in statuses:
                        return last
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"{path} never reached {statuses}; last seen {last}") from None

    async def terminate_all(self) -> None:
        """Terminate every journey and draw this test started (nothing may outlive it on the server)."""
        async with self.sessions() as s:
            ids = [journey_id(r) for r in await s.scalars(select(Beneficiary.registration_id))]
            ids += [draw_id(w) for w in await s.scalars(select(Wave.wave_id))]
        for workflow_id in ids:
            try:
                await self.temporal.get_workflow_handle(workflow_id).terminate("test finished")
            except Exception:  # already closed, or never started
                pass


@asynccontextmanager
async def live_app(
    temporal: Client, engine: AsyncEngine, adapt: Callable[[Adapters], Adapters] | None = None, **overrides: object
) -> AsyncIterator[Live]:
    """The API app plus one worker on a task queue of its own; `adapt` may swap in a failing partner,
    `overrides` change the settings."""
    settings = test_settings(
        database_url=engine.url.render_as_string(hide_password=False),
        task_queue=f"api-{uuid.uuid4().hex[:8]}",
        **overrides,
    )
    world, sessions = SimWorld(), make_sessionmaker(engine)
    adapters = build_adapters(settings, world=world)
    [worker] = build_workers(temporal, settings, adapt(adapters) if adapt else adapters, sessions)
    app = create_app(settings, temporal_client=temporal)
    async with worker, serve(app) as http:
        live = Live(http, settings, world, sessions, temporal)
        try:
            yield live
        finally:
            await live.terminate_all()
    # The worker's shutdown cancels activities still running; one cancelled inside a transaction can hand its
    # SQLite connection back to the pool with the write lock still held. Drop the pool so the next test's
    # clean-up is not locked out.
    await engine.dispose()
