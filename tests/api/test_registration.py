"""`POST /v1/registrations` and `GET /v1/me` through the real app, a dev server and a worker."""

import asyncio

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from temporalio.client import Client

from api.app import create_app
from core.contracts import journey_id
from core.temporal import SA_STATUS, data_converter
from db.models import Beneficiary, PendingSelfie
from tests.api.helpers import answer_lost, assert_problem, bearer, serve
from tests.api.live import live_app, registration_body
from tests.conftest import test_settings as settings_for
from tests.workflows.harness import Person


@pytest_asyncio.fixture
async def live(dev_env, engine):
    async with live_app(dev_env.client, engine) as app:
        yield app


async def rows(sessions, model=Beneficiary) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model))


INVALID = {
    "nik: 15 digits": {"nik": "320123456789012"},
    "nik: 17 digits": {"nik": "32012345678901234"},
    "nik: letters": {"nik": "32012345678901AB"},
    "nik: number": {"nik": 3201234567890123},
    "kk: 15 digits": {"kk_number": "320123456789012"},
    "kk: spaces": {"kk_number": "3201 2345 6789 0123"},
    "date: not a date": {"date_of_birth": "31-12-1990"},
    "date: impossible": {"date_of_birth": "1990-02-30"},
    "date: future": {"date_of_birth": "2999-01-01"},
    "email": {"email": "siti.example.id"},
    "phone: not mobile": {"phone": "0211234567"},
    "phone: letters": {"phone": "08123abc7890"},
    "province: digits": {"province": "3201"},
    "province: empty": {"province": ""},
    "is_student: not bool": {"is_student": "perhaps"},
    "selfie: not base64": {"selfie_b64": "this is not base64 at all!!"},
    "extra field": {"mother_maiden_name": "Sri"},
}


@pytest.mark.parametrize("change", INVALID.values(), ids=INVALID.keys())
async def test_invalid_input_is_422_without_echoing_the_nik(live, change):
    person = Person()
    resp = await live.http.post("/v1/registrations", json=registration_body(person, **change))

    problem = assert_problem(resp, 422, "VALIDATION_ERROR")
    assert problem["errors"] and all(e.keys() == {"loc", "msg"} for e in problem["errors"])
    for secret in (person.nik, person.kk_number, person.full_name, str(change.get("nik", person.nik))):
        assert secret not in resp.text
    assert await rows(live.sessions) == 0


@pytest.mark.parametrize("missing", ["nik", "kk_number", "full_name", "date_of_birth", "email", "selfie_b64"])
async def test_missing_field_is_422(live, missing):
    body = registration_body(Person())
    del body[missing]

    problem = assert_problem(await live.http.post("/v1/registrations", json=body), 422, "VALIDATION_ERROR")

    assert ["body", missing] in [e["loc"] for e in problem["errors"]]


async def test_registration_is_accepted_and_the_journey_reaches_the_pool(live):
    person = live.citizen()

    resp = await live.http.post("/v1/registrations", json=registration_body(person))

    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body.keys() >= {"registration_id", "status", "beneficiary_token"}
    assert body["status"] == "REGISTERED" and body["beneficiary_token"]
    assert person.nik not in resp.text
    view = await live.wait_me(body["beneficiary_token"], "WAITING_FOR_WAVE")
    assert (view["registration_id"], view["reasons"], view["prakerja_number"]) == (body["registration_id"], [], None)
    assert (view["purchases"], view["payments"]) == ([], [])
    handle = live.temporal.get_workflow_handle(journey_id(body["registration_id"]))
    async with asyncio.timeout(5):  # the search attribute follows the projection by one workflow task
        while (description := await handle.describe()).typed_search_attributes.get(SA_STATUS) != "WAITING_FOR_WAVE":
            await asyncio.sleep(0.05)
    assert description.id == f"journey-{body['registration_id']}" and person.nik not in description.id
    assert await rows(live.sessions, PendingSelfie) == 0  # the face went to the partner, not into storage


async def test_same_nik_twice_is_409(live):
    person = live.citizen()
    await live.register(person)

    again = await live.http.post("/v1/registrations", json=registration_body(Person(), nik=person.nik))

    assert_problem(again, 409, "NIK_ALREADY_REGISTERED")
    assert person.nik not in again.text
    assert await rows(live.sessions) == 1


async def test_same_nik_registered_concurrently_starts_one_journey(live):
    person = live.citizen()
    body = registration_body(person)

    responses = await asyncio.gather(*(live.http.post("/v1/registrations", json=body) for _ in range(10)))

    codes = sorted(r.status_code for r in responses)
    assert codes == [202] + [409] * 9, [r.text for r in responses]
    for resp in responses:
        if resp.status_code == 409:
            assert_problem(resp, 409, "NIK_ALREADY_REGISTERED")
    assert await rows(live.sessions) == 1
    [winner] = [r.json() for r in responses if r.status_code == 202]
    await live.wait_me(winner["beneficiary_token"], "WAITING_FOR_WAVE")
    query = f'TaskQueue="{live.settings.task_queue}"'
    async with asyncio.timeout(5):  # visibility follows the start shortly
        while (count := (await live.temporal.count_workflows(query)).count) < 1:
            await asyncio.sleep(0.05)
    assert count == 1
    ids = [w.id async for w in live.temporal.list_workflows(query)]
    assert ids == [journey_id(winner["registration_id"])]


async def test_unknown_nik_is_rejected_with_its_reason(live):
    person = Person()  # the civil registry has never heard of this NIK

    token = (await live.register(person))["beneficiary_token"]

    view = await live.wait_me(token, "REJECTED")
    assert view["reasons"] == ["NIK_NOT_FOUND"]


async def test_me_needs_the_beneficiarys_own_token(live):
    await live.register(live.citizen())

    for headers in ({}, bearer("bnf_not-a-real-token"), bearer(live.settings.admin_token)):
        assert_problem(await live.http.get("/v1/me", headers=headers), 401, "UNAUTHENTICATED")


async def test_each_token_sees_only_its_own_journey(live):
    first, second = await live.register(live.citizen()), await live.register(Person())

    mine = await live.wait_me(first["beneficiary_token"], "WAITING_FOR_WAVE")
    theirs = await live.wait_me(second["beneficiary_token"], "REJECTED")

    assert (mine["registration_id"], theirs["registration_id"]) == (
        first["registration_id"],
        second["registration_id"],
    )


async def test_temporal_unreachable_is_503_and_leaves_no_row(engine, sessions):
    settings = settings_for(database_url=engine.url.render_as_string(hide_password=False))
    nowhere = await Client.connect("127.0.0.1:1", lazy=True, data_converter=data_converter(settings.codec_keys))
    person = Person()

    async with serve(create_app(settings, temporal_client=nowhere)) as http:
        resp = await http.post("/v1/registrations", json=registration_body(person))
        retry = await http.post("/v1/registrations", json=registration_body(person))

    assert_problem(resp, 503, "TEMPORAL_UNAVAILABLE")
    assert_problem(retry, 503, "TEMPORAL_UNAVAILABLE")  # not 409: the first attempt left nothing behind
    assert person.nik not in resp.text
    assert await rows(sessions) == 0 and await rows(sessions, PendingSelfie) == 0


async def test_a_start_whose_answer_was_lost_is_a_registration_not_a_503(dev_env, engine, sessions):
    settings = settings_for(database_url=engine.url.render_as_string(hide_password=False))
    person = Person()

    async with serve(create_app(settings, temporal_client=answer_lost(dev_env.client))) as http:
        resp = await http.post("/v1/registrations", json=registration_body(person))

    assert resp.status_code == 202, resp.text
    registration_id = resp.json()["registration_id"]
    handle = dev_env.client.get_workflow_handle(journey_id(registration_id))
    assert (await handle.describe()).id == journey_id(registration_id)  # the journey runs ...
    assert await rows(sessions) == 1  # ... and its registration was kept for it
    await handle.terminate("test finished")
