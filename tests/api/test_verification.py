"""Contact verification (PRAKERJA_VERIFY_CONTACT): an anonymous registration starts no workflow and calls no
partner until the code sent to the applicant's phone is confirmed."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from sqlalchemy import update

from core.contracts import journey_id
from db.models import Beneficiary
from tests.api.helpers import assert_problem, bearer
from tests.api.live import Live, live_app, registration_body

PHONE = "081234567890"


@pytest_asyncio.fixture
async def live(dev_env, engine) -> AsyncIterator[Live]:
    async with live_app(dev_env.client, engine, verify_contact=True) as live:
        yield live


def sent_codes(live: Live) -> list[str]:
    gateway = live.http._transport.app.state.ctx.messages  # type: ignore[attr-defined]
    return [m.code for m in gateway.sent if m.to == PHONE]


async def journey_exists(live: Live, registration_id: str) -> bool:
    try:
        await live.temporal.get_workflow_handle(journey_id(registration_id)).describe()
    except Exception:
        return False
    return True


async def registered(live: Live) -> dict:
    resp = await live.http.post("/v1/registrations", json=registration_body(live.citizen()))
    assert resp.status_code == 202, resp.text
    return resp.json()


async def test_the_journey_starts_only_once_the_phone_confirms_the_code(live):
    reg = await registered(live)
    token, rid = reg["beneficiary_token"], reg["registration_id"]

    assert reg["status"] == "PENDING_VERIFICATION"
    assert not await journey_exists(live, rid)  # no workflow, no civil-registry call yet
    assert (await live.http.get("/v1/me", headers=bearer(token))).json()["status"] == "PENDING_VERIFICATION"
    [code] = sent_codes(live)

    wrong = await live.http.post(
        "/v1/me/verification", json={"code": f"{(int(code) + 1) % 10**6:06d}"}, headers=bearer(token)
    )
    right = await live.http.post("/v1/me/verification", json={"code": code}, headers=bearer(token))

    assert assert_problem(wrong, 422, "VERIFICATION_FAILED")["attempts_left"] == 4
    assert right.status_code == 200 and right.json() == {"registration_id": rid, "status": "REGISTERED"}
    await live.wait_me(token, "WAITING_FOR_WAVE")  # identity and eligibility ran after the confirmation
    again = await live.http.post("/v1/me/verification", json={"code": code}, headers=bearer(token))
    assert_problem(again, 409, "VERIFICATION_NOT_PENDING")


async def test_five_wrong_codes_lock_the_code_and_a_new_one_can_be_asked_for(live):
    reg = await registered(live)
    headers = bearer(reg["beneficiary_token"])
    [code] = sent_codes(live)
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    answers = [await live.http.post("/v1/me/verification", json={"code": wrong}, headers=headers) for _ in range(5)]
    locked = await live.http.post("/v1/me/verification", json={"code": code}, headers=headers)
    resent = await live.http.post("/v1/me/verification/code", headers=headers)
    [_, fresh] = sent_codes(live)
    confirmed = await live.http.post("/v1/me/verification", json={"code": fresh}, headers=headers)

    assert [a.json()["attempts_left"] for a in answers] == [4, 3, 2, 1, 0]
    assert_problem(locked, 409, "VERIFICATION_LOCKED")  # even the right code, once locked
    assert resent.status_code == 202 and confirmed.status_code == 200
    sends = [await live.http.post("/v1/me/verification/code", headers=headers) for _ in range(2)]
    for send in sends:
        assert_problem(send, 409, "VERIFICATION_NOT_PENDING")  # confirmed: nothing more to send


async def test_a_registration_never_confirmed_releases_its_nik_after_an_hour(live):
    person = live.citizen()
    first = await live.http.post("/v1/registrations", json=registration_body(person))
    squatted = await live.http.post("/v1/registrations", json=registration_body(person))
    async with live.sessions.begin() as s:  # an hour passes
        rid = first.json()["registration_id"]
        await s.execute(
            update(Beneficiary)
            .where(Beneficiary.registration_id == rid)
            .values(created_at=datetime.now(UTC) - timedelta(hours=1, minutes=1))
        )

    owner = await live.http.post("/v1/registrations", json=registration_body(person))

    assert_problem(squatted, 409, "NIK_ALREADY_REGISTERED")
    assert owner.status_code == 202 and owner.json()["registration_id"] != rid
    assert (await live.http.get("/v1/me", headers=bearer(first.json()["beneficiary_token"]))).status_code == 401


async def test_codes_are_six_digits_and_only_for_a_pending_registration(live):
    reg = await registered(live)
    headers = bearer(reg["beneficiary_token"])
    for bad in ("12345", "abcdef", "1234567"):
        assert_problem(
            await live.http.post("/v1/me/verification", json={"code": bad}, headers=headers), 422, "VALIDATION_ERROR"
        )
    assert_problem(await live.http.post("/v1/me/verification", json={"code": "123456"}), 401, "UNAUTHENTICATED")
