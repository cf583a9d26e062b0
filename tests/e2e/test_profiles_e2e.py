"""Two cohorts side by side in one stack, each paid by its own terms: a prakerja-2020 wave and a wave opened
under a profile an admin defined over the API — no restart, amounts checked at the payment simulator."""

import asyncio
import uuid

from core.contracts import journey_id
from tests.api.test_profiles import PILOT as PILOT_2027
from tests.e2e.stack import ok, poll, register, stack, staff_headers
from tests.e2e.test_money_e2e import INCENTIVE, SURVEY, TIME_SCALE, Beneficiary, Programme, open_programme
from tests.workflows.harness import NO_PURCHASE_RACE, Person

PILOT = PILOT_2027 | {"profile": f"pilot-{uuid.uuid4().hex[:6]}"}  # one name per run: profiles never change


async def cohort(programme: Programme, profile: str | None) -> Beneficiary:
    """One applicant registers while a wave (under `profile`, or the default) is open, and wins it."""
    live = programme.live
    operator = await staff_headers(live.http, live.settings.admin_token, "operator")
    wave_body = {"name": f"Wave {profile or 'default'}", "quota": 1} | ({"profile": profile} if profile else {})
    wave = ok(await live.http.post("/v1/waves", json=wave_body, headers=operator), 201)
    person = Person()
    b = Beneficiary(programme, person, await register(live.http, live.simulators, person))
    await b.until(lambda v: v["status"] == "WAITING_FOR_WAVE")
    ok(await live.http.post(f"/v1/waves/{wave['wave_id']}/draw", json={}, headers=operator), 202)
    await b.until(lambda v: v["status"] == "AWARDED")

    async def drawn() -> dict:
        return ok(await live.http.get(f"/v1/waves/{wave['wave_id']}", headers=operator), 200)

    await poll(drawn, lambda w: w["status"] == "DRAWN")  # the next wave may open only then
    return b


async def paid_by_own_terms(b: Beneficiary, ref: str, account: str) -> dict:
    programme = b.programme
    await programme.train((await b.me())["prakerja_number"], ref)
    await programme.account(programme.ewallet, account, b.person)
    await b.link(programme.ewallet, account)
    await programme.complete(ref)
    await b.review(ref)
    view, _ = await b.answer_surveys_until_completed()
    return view


async def test_two_cohorts_are_paid_side_by_side_each_by_its_own_terms(dev_env, engine):
    async with stack(dev_env, engine, "e2e-profiles", terms=NO_PURCHASE_RACE, time_scale=TIME_SCALE) as live:
        programme = await open_programme(live)
        defined = await live.http.post("/v1/admin/profiles", json=PILOT, headers=live.admin)
        assert defined.status_code == 201, defined.text
        classic = await cohort(programme, None)
        pilot = await cohort(programme, PILOT["profile"])
        try:
            assert ((await classic.me())["balance"], (await pilot.me())["balance"]) == (1_000_000, 2_000_000)
            views = await asyncio.gather(
                paid_by_own_terms(classic, "TOKO-2020", "081200007777"),
                paid_by_own_terms(pilot, "TOKO-PILOT", "081200008888"),
            )

            assert [v["profile"] for v in views] == ["prakerja-2020", PILOT["profile"]]
            at_partner = [await programme.received(programme.ewallet, b.registration_id) for b in (classic, pilot)]
            assert sorted(r["amount"] for r in at_partner[0]) == sorted([INCENTIVE] * 4 + [SURVEY] * 3)
            assert sorted(r["amount"] for r in at_partner[1]) == [25_000, 400_000, 400_000]
            assert all(r["status"] == "SUCCEEDED" for records in at_partner for r in records)
        finally:
            for b in (classic, pilot):
                try:
                    await dev_env.client.get_workflow_handle(journey_id(b.registration_id)).terminate("test finished")
                except Exception:  # already completed
                    pass
