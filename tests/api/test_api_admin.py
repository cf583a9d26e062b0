import pytest
from sqlalchemy import select

from core.security import unseal
from db.models import Course, Partner, StaffToken
from tests.api.helpers import admin, assert_problem, bearer, register_partner, staff_token


@pytest.mark.parametrize("role", ["support", "operator", "admin"])
async def test_admin_mints_staff_token_of_each_role(client, settings, sessions, role):
    resp = await client.post("/v1/admin/staff-tokens", json={"role": role}, headers=admin(settings))

    assert resp.status_code == 201
    body = resp.json()
    assert body["role"] == role and body["staff_id"].startswith(role)
    async with sessions() as s:
        row = await s.scalar(select(StaffToken))
    assert (row.role, row.staff_id, row.created_by) == (role, body["staff_id"], "admin")
    assert body["token"] not in row.token_hash  # only the hash is stored


async def test_minted_admin_token_can_mint(client, settings):
    token = await staff_token(client, settings, "admin")

    resp = await client.post("/v1/admin/staff-tokens", json={"role": "support"}, headers=bearer(token))

    assert resp.status_code == 201


@pytest.mark.parametrize("role", ["support", "operator"])
async def test_non_admin_staff_refused_on_admin_endpoints(client, settings, role):
    token = await staff_token(client, settings, role)

    resp = await client.post("/v1/admin/staff-tokens", json={"role": "admin"}, headers=bearer(token))

    assert_problem(resp, 403, "FORBIDDEN_ROLE")


@pytest.mark.parametrize("headers", [{}, bearer("garbage-token-value"), {"Authorization": "Basic abc"}])
async def test_missing_or_garbage_token_is_401(client, headers):
    resp = await client.post("/v1/admin/staff-tokens", json={"role": "support"}, headers=headers)

    assert_problem(resp, 401, "UNAUTHENTICATED")
    assert resp.headers["www-authenticate"] == "Bearer"


async def test_unknown_role_is_422(client, settings):
    resp = await client.post("/v1/admin/staff-tokens", json={"role": "root"}, headers=admin(settings))

    assert_problem(resp, 422, "VALIDATION_ERROR")


async def test_partner_key_shown_once_and_stored_sealed(client, settings, sessions):
    key = await register_partner(client, settings, "mkt-1", "marketplace")

    async with sessions() as s:
        row = await s.get(Partner, "mkt-1")
    assert row.kind == "marketplace" and len(key) >= 32
    assert key not in row.sign_key_sealed
    assert unseal(settings.secret_key, row.sign_key_sealed) == key


async def test_duplicate_partner_is_409(client, settings):
    await register_partner(client, settings, "PAY_1", "payment")

    body = {"client_code": "PAY_1", "kind": "payment", "name": "again"}
    resp = await client.post("/v1/admin/partners", json=body, headers=admin(settings))

    assert_problem(resp, 409, "PARTNER_EXISTS")


@pytest.mark.parametrize("code", ["ab", "has space", "x" * 65, "semi;colon"])
async def test_bad_client_code_is_422(client, settings, code):
    body = {"client_code": code, "kind": "payment", "name": "n"}
    resp = await client.post("/v1/admin/partners", json=body, headers=admin(settings))

    assert_problem(resp, 422, "VALIDATION_ERROR")


COURSE = {
    "course_id": "C-101",
    "title": "Digital marketing",
    "provider_client_code": "LPK-1",
    "price": 750_000,
}


async def test_course_is_idempotent_and_conflicts_on_change(client, settings, sessions):
    await register_partner(client, settings, "LPK-1", "training_provider")

    first = await client.post("/v1/admin/courses", json=COURSE, headers=admin(settings))
    again = await client.post("/v1/admin/courses", json=COURSE, headers=admin(settings))
    changed = await client.post("/v1/admin/courses", json=COURSE | {"price": 800_000}, headers=admin(settings))

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() == COURSE
    assert_problem(changed, 409, "COURSE_EXISTS")
    async with sessions() as s:
        assert (await s.get(Course, "C-101")).price == 750_000


async def test_course_needs_a_training_provider(client, settings):
    await register_partner(client, settings, "MKT-9", "marketplace")

    for provider in ("MKT-9", "NOBODY"):
        resp = await client.post(
            "/v1/admin/courses", json=COURSE | {"provider_client_code": provider}, headers=admin(settings)
        )
        assert_problem(resp, 422, "UNKNOWN_PROVIDER")


@pytest.mark.parametrize("price", [750000.0, 12.5, True, "750000", 0, -5])
async def test_course_price_is_positive_integer_rupiah(client, settings, price):
    await register_partner(client, settings, "LPK-1", "training_provider")

    resp = await client.post("/v1/admin/courses", json=COURSE | {"price": price}, headers=admin(settings))

    problem = assert_problem(resp, 422, "VALIDATION_ERROR")
    assert problem["errors"][0]["loc"] == ["body", "price"]
