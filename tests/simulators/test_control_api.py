"""The `/sim` control API as demos and end-to-end tests use it."""

import random
from collections.abc import AsyncIterator

import httpx
import pytest

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
    assert (await sim.post("/sim/faults", json=fault)).json() == fault | {"ms": None}
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
