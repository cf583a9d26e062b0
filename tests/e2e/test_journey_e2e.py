"""Journey part 1 end to end, over real sockets: simulators and API under uvicorn, the Temporal dev server,
a worker with HTTP adapters. The test speaks HTTP only, then checks what an operator sees in Temporal."""

import asyncio
import base64
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from google.protobuf.json_format import MessageToDict
from temporalio.api.enums.v1 import EventType

from adapters.factory import build_adapters
from api.app import create_app
from core.contracts import journey_id
from core.settings import AdapterMode
from core.temporal import connect
from db.session import make_sessionmaker
from simulators.app import create_app as create_simulators
from tests.conftest import test_settings as settings_for
from tests.workflows.harness import Person
from workers.main import build_workers


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """`app` under uvicorn on a free loopback port, as a process would run it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def poll(fetch, done, timeout: float = 15) -> Any:
    last = None
    try:
        async with asyncio.timeout(timeout):
            while not done(last := await fetch()):
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"gave up waiting; last seen {last}") from None
    return last


def ok(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    return resp.json()


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


async def operator_headers(http: httpx.AsyncClient, admin_token: str) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {admin_token}"}
    minted = ok(await http.post("/v1/admin/staff-tokens", json={"role": "operator"}, headers=admin), 201)
    return {"Authorization": f"Bearer {minted['token']}"}


async def award_over_http(http: httpx.AsyncClient, simulators: str, admin_token: str, person: Person) -> dict:
    registration = await register(http, simulators, person)
    me = {"Authorization": f"Bearer {registration['beneficiary_token']}"}
    operator = await operator_headers(http, admin_token)

    async def view() -> dict[str, Any]:
        return ok(await http.get("/v1/me", headers=me), 200)

    await poll(view, lambda v: v["status"] == "WAITING_FOR_WAVE")
    wave = ok(await http.post("/v1/waves", json={"name": "E2E", "quota": 1}, headers=operator), 201)
    ok(await http.post(f"/v1/waves/{wave['wave_id']}/draw", json={}, headers=operator), 202)
    awarded = await poll(view, lambda v: v["status"] in ("AWARDED", "REJECTED", "INELIGIBLE"))
    drawn = ok(await http.get(f"/v1/waves/{wave['wave_id']}", headers=operator), 200)
    return {"registration": registration, "me": awarded, "wave": drawn, "operator": operator}


async def check_temporal_view(dev_env, http, operator, workflow_id: str, wave_id: str, person: Person) -> None:
    """What an operator sees in the Temporal UI: found by status and wave, payloads readable via the codec."""
    query = f'PrakerjaStatus="AWARDED" AND PrakerjaWave="{wave_id}"'

    async def found() -> list[str]:
        return [w.id async for w in dev_env.client.list_workflows(query)]

    assert await poll(found, lambda ids: ids == [workflow_id], timeout=10) == [workflow_id]
    history = await dev_env.client.get_workflow_handle(workflow_id).fetch_history()
    started = next(e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    [payload] = started.workflow_execution_started_event_attributes.input.payloads
    assert person.nik.encode() not in payload.SerializeToString()
    wire = MessageToDict(payload)  # the JSON shape the Temporal UI posts: base64 bytes
    decoded = ok(await http.post("/codec/decode", json={"payloads": [wire]}, headers=operator), 200)
    applicant = json.loads(base64.b64decode(decoded["payloads"][0]["data"]))["applicant"]
    assert (applicant["nik"], applicant["kk_number"]) == (person.nik, person.kk_number)
    assert (await http.post("/codec/decode", json={"payloads": [wire]})).status_code == 401


async def test_register_draw_and_award_end_to_end(dev_env, engine):
    person = Person()
    async with serving(create_simulators()) as simulators:
        settings = settings_for(
            adapters=AdapterMode.HTTP,
            partner_base_url=simulators,
            temporal_address=dev_env.client.service_client.config.target_host,
            temporal_namespace=dev_env.client.namespace,
            database_url=engine.url.render_as_string(hide_password=False),
            task_queue=f"e2e-{uuid.uuid4().hex[:8]}",
        )
        async with (
            httpx.AsyncClient(timeout=settings.partner_timeout_s) as partner_http,
            serving(create_app(settings)) as api,
            httpx.AsyncClient(base_url=api, timeout=10) as http,
        ):
            sessions = make_sessionmaker(engine)
            adapters = build_adapters(settings, http=partner_http)
            [worker] = build_workers(await connect(settings), settings, adapters, sessions)
            async with worker:
                result = await award_over_http(http, simulators, settings.admin_token, person)
                workflow_id = journey_id(result["registration"]["registration_id"])
                try:
                    me, wave = result["me"], result["wave"]
                    assert me["status"] == "AWARDED", me
                    assert len(me["prakerja_number"]) == 16 and me["prakerja_number"].isdigit()
                    assert (me["balance"], me["wave_id"], me["reasons"]) == (1_000_000, wave["wave_id"], [])
                    assert (wave["status"], wave["selected"], wave["pool_size"]) == ("DRAWN", 1, 1)
                    await check_temporal_view(dev_env, http, result["operator"], workflow_id, wave["wave_id"], person)
                finally:  # it would wait 30 days for a first purchase
                    await dev_env.client.get_workflow_handle(workflow_id).terminate("end-to-end test finished")
