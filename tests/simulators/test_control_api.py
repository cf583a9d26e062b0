"""The `/sim` control API as demos and end-to-end tests use it."""

import json
import random
from collections.abc import AsyncIterator

import httpx
import pytest

from core.security import sign
from simulators.world import SimWorld
from tests.adapters.sim_support import KK, NIK, asgi_client

ACCOUNT = {"partner_client_code": "ew-dana", "account_number": "0857", "nik": NIK, "kyc": True}
CITIZEN = {"nik": NIK, "kk_number": KK, "full_name": "Siti Nurhaliza", "date_of_birth": "1990-05-17"}


@pytest.fixture
def world() -> SimWorld:
    return SimWorld(rng=random.Random(1))


@pytest.fixture
async def sim(world: SimWorld) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(world) as client:
        yield client


async def test_seeded_citizen_is_verified_by_the_registry(sim):
    created = await sim.post("/sim/citizens", json=CITIZEN)
    assert created.status_code == 201
    assert NIK not in created.text
    await sim.post("/sim/occupations", json={"nik": NIK, "occupation": "POLICE"})
    check = await sim.post("/civil-registry/verify", json=CITIZEN)
    assert check.json() == {
        "found": True,
        "name_dob_match": True,
        "kk_match": True,
        "deceased": False,
        "occupation": "POLICE",
    }


async def test_social_assistance_and_biometrics_seeds(sim):
    await sim.post("/sim/citizens", json=CITIZEN)
    listed = await sim.post("/sim/social-assistance", json={"nik": NIK, "programme": "PKH"})
    assert listed.status_code == 201
    override = {"nik": NIK, "liveness": True, "match_score": 0.42}
    assert (await sim.post("/sim/biometrics", json=override)).status_code == 201
    assert (await sim.post("/social-affairs/check", json={"nik": NIK})).json()["programmes"] == ["PKH"]
    face = await sim.post("/biometrics/check", json={"nik": NIK, "selfie_b64": "c2VsZmll"})
    assert face.json()["match_score"] == 0.42


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sim/citizens", CITIZEN | {"nik": "123"}),
        ("/sim/citizens", CITIZEN | {"date_of_birth": "17-05-1990"}),
        ("/sim/biometrics", {"nik": NIK, "liveness": True, "match_score": 1.5}),
        ("/sim/payment-accounts", ACCOUNT | {"status": "FROZEN"}),
        ("/sim/payment-partners", {"client_code": "ew", "mode": "carrier-pigeon"}),
        ("/sim/faults", {"target": "weather", "kind": "latency", "rate": 1}),
        ("/sim/faults", {"target": "payment:", "kind": "latency", "rate": 1}),
        ("/sim/faults", {"target": "biometrics", "kind": "meteor", "rate": 1}),
        ("/sim/faults", {"target": "biometrics", "kind": "latency", "rate": 2}),
        ("/marketplaces/mp-1/notifications", {"kind": "CARD_BLOCKED", "reason": "FRAUD"}),
    ],
)
async def test_invalid_input_is_422(sim, path, body):
    assert (await sim.post(path, json=body)).status_code == 422


async def test_faults_are_listed_applied_and_cleared(sim):
    fault = {"target": "payment:ew-dana", "kind": "error_5xx", "rate": 1}
    defaults = {"ms": None, "amount": None, "times": None, "fired": 0}
    assert (await sim.post("/sim/faults", json=fault)).json() == fault | defaults
    assert [f["target"] for f in (await sim.get("/sim/faults")).json()] == ["payment:ew-dana"]
    answer = await sim.post("/payments/ew-dana/ekyc", json={"account_number": "1", "nik": NIK})
    assert answer.status_code == 503
    assert answer.json()["code"] == "PARTNER_UNAVAILABLE"
    assert (await sim.delete("/sim/faults")).json() == {"cleared": 1}
    answer = await sim.post("/payments/ew-dana/ekyc", json={"account_number": "1", "nik": NIK})
    assert answer.json() == {"verified": False, "reason": "ACCOUNT_NOT_FOUND"}


async def test_payments_list_proves_one_record_per_key(sim):
    assert (await sim.post("/sim/payment-accounts", json=ACCOUNT | {"status": "ACTIVE"})).status_code == 201
    payout = {"idempotency_key": "k-1", "account_number": "0857", "nik": NIK, "amount": 600_000}
    for _ in range(3):
        answer = await sim.post("/payments/ew-dana/disbursements", json=payout)
        assert answer.json()["status"] == "SUCCEEDED"
    [record] = (await sim.get("/sim/payments/ew-dana")).json()
    assert (record["idempotency_key"], record["amount"], record["status"]) == ("k-1", 600_000, "SUCCEEDED")
    assert {"account_number", "received_at", "reason"} <= record.keys()
    assert (await sim.get("/sim/payments/bank-bri")).json() == []


async def test_unknown_disbursement_is_a_coded_404(sim):
    answer = await sim.get("/payments/ew-dana/disbursements/nope")
    assert answer.status_code == 404 and answer.json()["code"] == "DISBURSEMENT_NOT_FOUND"


async def test_reset_forgets_everything(sim, world):
    await sim.post("/sim/citizens", json=CITIZEN)
    await sim.post("/sim/faults", json={"target": "marketplace", "kind": "latency", "rate": 1, "ms": 1})
    assert (await sim.post("/sim/reset")).status_code == 200
    assert not (await sim.post("/civil-registry/verify", json=CITIZEN)).json()["found"]
    assert (await sim.get("/sim/faults")).json() == []
    assert (await sim.get("/sim/marketplace-notifications")).json() == []


async def test_fee_deduction_makes_the_partner_record_less_than_it_was_sent(sim):
    await sim.post("/sim/payment-accounts", json=ACCOUNT)
    fault = {"target": "payment:ew-dana", "kind": "fee_deduction", "rate": 1, "amount": 2_500}
    assert (await sim.post("/sim/faults", json=fault)).status_code == 201
    body = {"idempotency_key": "K-1", "account_number": "0857", "nik": NIK, "amount": 600_000}
    assert (await sim.post("/payments/ew-dana/disbursements", json=body)).json()["status"] == "SUCCEEDED"
    [record] = (await sim.get("/sim/payments/ew-dana")).json()
    assert (record["idempotency_key"], record["amount"]) == ("K-1", 597_500)


async def test_registry_event_is_sent_signed_to_the_configured_platform(world):
    sent: list[tuple[str, dict[str, str], bytes]] = []

    async def recorder(url: str, headers: dict[str, str], body: bytes) -> None:
        sent.append((url, headers, body))

    world.callback_sender = recorder
    async with asgi_client(world) as sim:
        await sim.post("/sim/citizens", json=CITIZEN)
        event = {"nik": NIK, "event": "DECEASED", "occurred_on": "2026-02-14"}
        unconfigured = await sim.post("/sim/registry-events", json=event)
        assert (unconfigured.status_code, unconfigured.json()["code"]) == (409, "REGISTRY_NOT_CONFIGURED")
        partner = {"client_code": "DUKCAPIL", "sign_key": "k" * 64, "api_url": "http://api.test:8000/"}
        assert (await sim.post("/sim/registry-partners", json=partner)).status_code == 201

        resp = await sim.post("/sim/registry-events", json=event)

        assert resp.status_code == 202 and NIK not in resp.text
        check = await sim.post("/civil-registry/verify", json=CITIZEN)
    [(url, headers, body)] = sent
    assert url == "http://api.test:8000/v1/registry/events"
    assert json.loads(body) == event
    ts = headers["X-Timestamp"]
    assert headers["X-Client-Code"] == "DUKCAPIL"
    assert headers["X-Signature"] == sign("k" * 64, "DUKCAPIL", ts, "POST", "/v1/registry/events", body)
    assert check.json()["deceased"] is True  # the registry's own record says so from now on
