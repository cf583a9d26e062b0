"""Journey part 1 end to end, over real sockets: simulators and API under uvicorn, the Temporal dev server,
a worker with HTTP adapters. The test speaks HTTP only, then checks what an operator sees in Temporal."""

import base64
import json
from typing import Any

import httpx
from google.protobuf.json_format import MessageToDict
from temporalio.api.enums.v1 import EventType

from core.contracts import journey_id
from tests.e2e.stack import ok, operator_headers, poll, register, serving, stack
from tests.workflows.harness import Person

__all__ = ["award_over_http", "ok", "poll", "serving"]  # test_training_e2e.py imports these from here


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

    async def wave_view() -> dict[str, Any]:
        return ok(await http.get(f"/v1/waves/{wave['wave_id']}", headers=operator), 200)

    # The draw marks the wave DRAWN after its last batch of journeys was told, in a later transaction.
    drawn = await poll(wave_view, lambda w: w["status"] == "DRAWN")
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
    async with stack(dev_env, engine) as live:
        http, simulators, settings = live.http, live.simulators, live.settings
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
