"""`POST /v1/registry/events` (signed, civil registry only) and `GET /v1/support/clawbacks`, over the real app.

Journeys run on the dev server with simulated partners; tests speak HTTP and check what the registry, support
and a would-be applicant see."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio
from sqlalchemy import select

from db.models import AuditLog, Beneficiary, Clawback
from tests.api.helpers import assert_problem, register_partner, signed
from tests.api.live import Live, live_app, registration_body
from tests.workflows.harness import Person

EVENTS = "/v1/registry/events"


@pytest_asyncio.fixture
async def live(dev_env, engine) -> AsyncIterator[Live]:
    async with live_app(dev_env.client, engine) as live:
        yield live


async def registry(live: Live, code: str = "DUKCAPIL") -> str:
    return await register_partner(live.http, live.settings, code, "civil_registry")


def event(nik: str, kind: str = "DECEASED") -> dict[str, str]:
    return {"nik": nik, "event": kind, "occurred_on": "2026-02-14"}


async def test_only_a_signed_civil_registry_may_report_events(live):
    key = await registry(live)
    market_key = await register_partner(live.http, live.settings, "MKT-1", "marketplace")
    nik = Person().nik

    assert_problem(await live.http.post(EVENTS, json=event(nik)), 401, "SIGNATURE_MISSING")
    wrong = await signed(live.http, "POST", EVENTS, "DUKCAPIL", "not-the-key", event(nik))
    assert_problem(wrong, 401, "SIGNATURE_INVALID")
    market = await signed(live.http, "POST", EVENTS, "MKT-1", market_key, event(nik))
    assert_problem(market, 403, "FORBIDDEN_PARTNER_KIND")
    staff = await live.http.post(EVENTS, json=event(nik), headers=await live.staff("operator"))
    assert staff.status_code == 401
    bad = await signed(live.http, "POST", EVENTS, "DUKCAPIL", key, event(nik, "MARRIED"))
    assert bad.status_code == 422
    accepted = await signed(live.http, "POST", EVENTS, "DUKCAPIL", key, event(nik))
    assert accepted.status_code == 202, accepted.text


async def test_unknown_nik_is_accepted_like_any_other_and_its_registration_is_refused_later(live):
    key = await registry(live)
    person = live.citizen()

    first = await signed(live.http, "POST", EVENTS, "DUKCAPIL", key, event(person.nik, "NIK_DEACTIVATED"))
    again = await signed(live.http, "POST", EVENTS, "DUKCAPIL", key, event(person.nik, "NIK_DEACTIVATED"))

    assert (first.status_code, again.status_code) == (202, 202) and first.json() == again.json()
    refused = await live.http.post("/v1/registrations", json=registration_body(person))
    problem = assert_problem(refused, 409, "NIK_NOT_ELIGIBLE")
    assert "DEACTIVATED" not in json.dumps(problem)  # which event it was is not said
    async with live.sessions() as s:
        assert list(await s.scalars(select(Beneficiary))) == []  # nothing half-registered
    await assert_no_nik_in_audit(live, person.nik)


async def test_a_death_revokes_the_running_journey_and_the_timeline_says_so(live):
    key = await registry(live)
    person = live.citizen()
    registration = await live.register(person)
    await live.wait_me(registration["beneficiary_token"], "WAITING_FOR_WAVE")

    for _ in range(2):  # a duplicate is harmless
        resp = await signed(live.http, "POST", EVENTS, "DUKCAPIL", key, event(person.nik))
        assert resp.status_code == 202 and resp.json() == {"status": "ACCEPTED"}

    view = await live.wait_me(registration["beneficiary_token"], "REVOKED")
    assert view["reasons"] == ["DECEASED"] and view["clawback"] is None
    rid = registration["registration_id"]
    timeline = await live.http.get(f"/v1/beneficiaries/{rid}/timeline", headers=await live.staff("support"))
    items = timeline.json()["items"]
    events = [i for i in items if i["kind"] == "LIFE_EVENT"]
    assert [(i["detail"]["event"], i["detail"]["occurred_on"], i["actor"]) for i in events] == [
        ("DECEASED", "2026-02-14", "DUKCAPIL")
    ] * 2
    [revoked] = [i for i in items if i["kind"] == "REVOKED"]
    assert (revoked["detail"]["reasons"], revoked["actor"]) == (["DECEASED"], "DUKCAPIL")
    assert person.nik not in timeline.text
    again = await live.http.post("/v1/registrations", json=registration_body(person))
    assert_problem(again, 409, "NIK_ALREADY_REGISTERED")
    await assert_no_nik_in_audit(live, person.nik)


async def assert_no_nik_in_audit(live: Live, nik: str) -> None:
    async with live.sessions() as s:
        rows = list(await s.scalars(select(AuditLog).where(AuditLog.action == f"POST {EVENTS}")))
    assert rows and all(nik not in json.dumps(r.detail) for r in rows)


async def test_clawbacks_are_listed_page_by_page_to_support_and_operators(live):
    async with live.sessions.begin() as s:
        for n in range(5):
            s.add(
                Clawback(
                    registration_id=f"REG-{n:04d}",
                    amount=600_000 * (n + 1),
                    payment_ids=[f"PAY-REG-{n:04d}-I{k}" for k in range(1, n + 2)],
                    reason="DECEASED",
                    created_at=datetime.now(UTC),
                )
            )
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await live.http.get(f"/v1/support/clawbacks{query}", headers=await live.staff("support"))
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        if (cursor := page.json()["next_cursor"]) is None:
            break
    assert [(i["registration_id"], i["amount"], len(i["payment_ids"])) for i in seen] == [
        (f"REG-{n:04d}", 600_000 * (n + 1), n + 1) for n in range(5)
    ]
    assert {i["reason"] for i in seen} == {"DECEASED"}
    operator = await live.http.get("/v1/support/clawbacks", headers=await live.staff("operator"))
    assert operator.status_code == 200 and len(operator.json()["items"]) == 5
    assert_problem(await live.http.get("/v1/support/clawbacks"), 401, "UNAUTHENTICATED")
    assert (
        await live.http.get("/v1/support/clawbacks?limit=0", headers=await live.staff("support"))
    ).status_code == 422
