"""Operator endpoints: waves, draws, journey lookup and revocation, through the real app and a worker."""

import asyncio

import pytest
import pytest_asyncio
from sqlalchemy import select

from api.app import create_app
from core.cards import is_card_number
from db.models import Beneficiary, WaveEntry
from tests.api.helpers import answer_lost, assert_problem, serve
from tests.api.live import live_app
from tests.workflows.harness import Person


@pytest_asyncio.fixture
async def live(dev_env, engine):
    async with live_app(dev_env.client, engine) as app:
        yield app


async def pooled(live, n: int, **person) -> list[dict]:
    """`n` registrations that passed every check and wait for a wave."""
    registrations = [await live.register(live.citizen(**person)) for _ in range(n)]
    for r in registrations:
        await live.wait_me(r["beneficiary_token"], "WAITING_FOR_WAVE")
    return registrations


async def open_wave(live, quota: int = 10, **extra) -> dict:
    resp = await live.http.post(
        "/v1/waves", json={"name": "Gelombang 1", "quota": quota, **extra}, headers=await live.staff("operator")
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


async def draw(live, wave_id: str, **body) -> dict:
    resp = await live.http.post(f"/v1/waves/{wave_id}/draw", json=body, headers=await live.staff("operator"))
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] in ("DRAWING", "DRAWN")  # closed at once; the draw runs as a workflow
    return await live.wait_wave(wave_id, "DRAWN")


async def settled(live, registrations: list[dict]) -> list[str]:
    """Each journey's draw outcome (a winner shows AWARDED once its award activity has run)."""
    views = [await live.wait_me(r["beneficiary_token"], "AWARDED", "NOT_SELECTED", timeout=10) for r in registrations]
    return sorted(v["status"] for v in views)


async def test_operator_opens_one_wave_at_a_time(live):
    wave = await open_wave(live, quota=5, province_quotas={"Aceh": 2})

    second = await live.http.post(
        "/v1/waves", json={"name": "Gelombang 2", "quota": 5}, headers=await live.staff("operator")
    )

    assert wave["status"] == "OPEN" and wave["wave_id"]
    assert (wave["quota"], wave["province_quotas"], wave["selected"], wave["seed"]) == (5, {"Aceh": 2}, 0, None)
    assert_problem(second, 409, "WAVE_ALREADY_OPEN")


async def test_concurrent_wave_openings_leave_exactly_one_open(live):
    headers = await live.staff("operator")
    body = {"name": "Gelombang", "quota": 5}
    responses = await asyncio.gather(*(live.http.post("/v1/waves", json=body, headers=headers) for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409, "WAVE_ALREADY_OPEN")


async def test_only_operators_open_and_draw_waves(live):
    support = await live.staff("support")
    wave = await open_wave(live)

    opened = await live.http.post("/v1/waves", json={"name": "x", "quota": 1}, headers=support)
    drawn = await live.http.post(f"/v1/waves/{wave['wave_id']}/draw", json={}, headers=support)
    anonymous = await live.http.post("/v1/waves", json={"name": "x", "quota": 1})

    assert_problem(opened, 403, "FORBIDDEN_ROLE")
    assert_problem(drawn, 403, "FORBIDDEN_ROLE")
    assert_problem(anonymous, 401, "UNAUTHENTICATED")
    assert (await live.http.get(f"/v1/waves/{wave['wave_id']}", headers=support)).status_code == 200


@pytest.mark.parametrize("quota", [0, -1, "5", 1.5, True, None])
async def test_invalid_quota_is_422(live, quota):
    resp = await live.http.post(
        "/v1/waves", json={"name": "Gelombang", "quota": quota}, headers=await live.staff("operator")
    )

    assert_problem(resp, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("province_quotas", [{"Aceh": -1}, {"Aceh": "2"}, ["Aceh"]])
async def test_invalid_province_quotas_are_422(live, province_quotas):
    body = {"name": "Gelombang", "quota": 3, "province_quotas": province_quotas}

    resp = await live.http.post("/v1/waves", json=body, headers=await live.staff("operator"))

    assert_problem(resp, 422, "VALIDATION_ERROR")


async def test_unknown_wave_is_404(live):
    operator = await live.staff("operator")

    assert_problem(await live.http.get("/v1/waves/WAVE-NOPE", headers=operator), 404, "WAVE_NOT_FOUND")
    assert_problem(await live.http.post("/v1/waves/WAVE-NOPE/draw", json={}, headers=operator), 404, "WAVE_NOT_FOUND")


async def test_pool_size_counts_eligible_applicants_and_the_draw_follows_the_quota(live):
    winners_and_losers = await pooled(live, 3)
    student = await live.register(live.citizen(is_student=True))  # ineligible: never joins the pool
    unknown = await live.register(Person())  # rejected by the civil registry
    wave = await open_wave(live, quota=2)
    assert (await live.wait_me(student["beneficiary_token"], "INELIGIBLE"))["reasons"] == ["STUDENT"]
    await live.wait_me(unknown["beneficiary_token"], "REJECTED")

    shown = (await live.http.get(f"/v1/waves/{wave['wave_id']}", headers=await live.staff("support"))).json()
    drawn = await draw(live, wave["wave_id"], seed="audit-seed-1")

    assert (shown["status"], shown["pool_size"]) == ("OPEN", 3)
    assert (drawn["status"], drawn["seed"], drawn["pool_size"], drawn["selected"]) == ("DRAWN", "audit-seed-1", 3, 2)
    assert await settled(live, winners_and_losers) == ["AWARDED", "AWARDED", "NOT_SELECTED"]


async def test_random_seed_is_recorded_and_drawing_twice_is_409(live):
    await pooled(live, 1)
    wave = await open_wave(live, quota=1)

    drawn = await draw(live, wave["wave_id"])
    again = await live.http.post(f"/v1/waves/{wave['wave_id']}/draw", json={}, headers=await live.staff("operator"))

    assert drawn["seed"] and len(drawn["seed"]) >= 16
    assert_problem(again, 409, "WAVE_NOT_OPEN")


async def test_a_draw_whose_start_answer_was_lost_keeps_its_seed_and_runs(live, dev_env):
    await pooled(live, 2)
    wave = await open_wave(live, quota=1)
    lossy = create_app(live.settings, temporal_client=answer_lost(dev_env.client))

    async with serve(lossy) as http:
        resp = await http.post(
            f"/v1/waves/{wave['wave_id']}/draw", json={"seed": "kept"}, headers=await live.staff("operator")
        )

    assert resp.status_code == 202, resp.text
    drawn = await live.wait_wave(wave["wave_id"], "DRAWN")
    assert (drawn["seed"], drawn["selected"]) == ("kept", 1)


async def test_province_quotas_cap_the_draw_and_losers_win_the_next_wave(live):
    aceh, bali = await pooled(live, 3, province="Aceh"), await pooled(live, 2, province="Bali")
    first = await open_wave(live, quota=4, province_quotas={"Aceh": 1})

    await draw(live, first["wave_id"], seed="provinces")

    assert await settled(live, aceh) == ["AWARDED", "NOT_SELECTED", "NOT_SELECTED"]
    assert await settled(live, bali) == ["AWARDED", "AWARDED"]
    async with live.sessions() as s:
        entries = (await s.execute(select(WaveEntry).where(WaveEntry.wave_id == first["wave_id"]))).scalars().all()
    assert sorted(e.province for e in entries if e.selected) == ["Aceh", "Bali", "Bali"]

    second = await open_wave(live, quota=5)
    drawn = await draw(live, second["wave_id"])

    assert (drawn["pool_size"], drawn["selected"]) == (2, 2)
    awarded = [await live.wait_me(r["beneficiary_token"], "AWARDED") for r in aceh]
    assert sorted(v["wave_id"] for v in awarded) == sorted([first["wave_id"]] + [second["wave_id"]] * 2)


async def test_staff_see_card_and_balance_after_award(live):
    [registration] = await pooled(live, 1)
    wave = await open_wave(live, quota=1)
    await draw(live, wave["wave_id"])
    me = await live.wait_me(registration["beneficiary_token"], "AWARDED")
    path = f"/v1/beneficiaries/{registration['registration_id']}"

    for role in ("support", "operator"):
        view = (await live.http.get(path, headers=await live.staff(role))).json()
        assert (view["status"], view["wave_id"], view["balance"]) == ("AWARDED", wave["wave_id"], 1_000_000)
        assert view["prakerja_number"] == me["prakerja_number"] and is_card_number(view["prakerja_number"])
    assert_problem(await live.http.get(path), 401, "UNAUTHENTICATED")
    assert_problem(
        await live.http.get("/v1/beneficiaries/REG-NOPE", headers=await live.staff("support")),
        404,
        "REGISTRATION_NOT_FOUND",
    )


async def test_operator_revokes_an_awarded_beneficiary(live):
    [registration] = await pooled(live, 1)
    wave = await open_wave(live, quota=1)
    await draw(live, wave["wave_id"])
    await live.wait_me(registration["beneficiary_token"], "AWARDED")
    path = f"/v1/beneficiaries/{registration['registration_id']}/revoke"
    body = {"reason": "fraud report #12"}

    by_support = await live.http.post(path, json=body, headers=await live.staff("support"))
    revoked = await live.http.post(path, json=body, headers=await live.staff("operator"))
    view = await live.wait_me(registration["beneficiary_token"], "REVOKED")
    again = await live.http.post(path, json=body, headers=await live.staff("operator"))

    assert_problem(by_support, 403, "FORBIDDEN_ROLE")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["registration_id"] == registration["registration_id"]
    assert (view["reasons"], view["balance"]) == (["REVOKED_BY_OPERATOR"], 0)
    assert_problem(again, 409, "JOURNEY_FINISHED")


async def test_revocation_of_a_waiting_applicant_takes_them_out_of_the_pool(live):
    [registration] = await pooled(live, 1)
    path = f"/v1/beneficiaries/{registration['registration_id']}/revoke"

    resp = await live.http.post(path, json={"reason": "found ineligible"}, headers=await live.staff("operator"))

    assert resp.status_code == 200, resp.text
    await live.wait_me(registration["beneficiary_token"], "REVOKED")
    async with live.sessions() as s:
        row = await s.get(Beneficiary, registration["registration_id"])
    assert not row.in_pool
    wave = await open_wave(live)
    shown = (await live.http.get(f"/v1/waves/{wave['wave_id']}", headers=await live.staff("operator"))).json()
    assert shown["pool_size"] == 0


async def test_revoke_unknown_or_invalid(live):
    operator = await live.staff("operator")

    unknown = await live.http.post("/v1/beneficiaries/REG-NOPE/revoke", json={"reason": "fraud"}, headers=operator)
    no_reason = await live.http.post("/v1/beneficiaries/REG-NOPE/revoke", json={}, headers=operator)

    assert_problem(unknown, 404, "REGISTRATION_NOT_FOUND")
    assert_problem(no_reason, 422, "VALIDATION_ERROR")
