from sqlalchemy import select

from api.app import create_app
from core.security import new_token, token_hash
from db.models import AuditLog, Beneficiary
from tests.api.conftest import probe
from tests.api.helpers import assert_problem, bearer, serve


async def add_beneficiary(sessions, registration_id: str) -> str:
    token = new_token("bnf")
    async with sessions.begin() as s:
        s.add(
            Beneficiary(
                registration_id=registration_id,
                nik_hash=f"nik-{registration_id}",
                kk_hash=f"kk-{registration_id}",
                token_hash=token_hash(token),
                status="REGISTERED",
                province="JAWA BARAT",
                profile="prakerja-2020",
            )
        )
    return token


async def test_beneficiary_token_resolves_the_row_and_writes_are_audited(client, sessions):
    token = await add_beneficiary(sessions, "REG-1")

    resp = await client.post("/test/beneficiary-write", headers=bearer(token))

    assert resp.json() == {"registration_id": "REG-1"}
    async with sessions() as s:
        row = await s.scalar(select(AuditLog))
    assert (row.actor_kind, row.actor_id, row.status_code) == ("beneficiary", "REG-1", 200)


async def test_unknown_or_missing_beneficiary_token_is_401(client, sessions, settings):
    await add_beneficiary(sessions, "REG-2")

    for headers in ({}, bearer("bnf_guess"), bearer(settings.admin_token)):
        assert_problem(await client.post("/test/beneficiary-write", headers=headers), 401, "UNAUTHENTICATED")


async def test_temporal_dependency_serves_the_injected_client(client):
    resp = await client.get("/test/temporal")

    assert resp.json() == {"namespace": "default"}


async def test_temporal_dependency_is_503_while_temporal_is_down(settings):
    app = create_app(settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))
    app.include_router(probe)

    async with serve(app) as client:
        resp = await client.get("/test/temporal")

    assert_problem(resp, 503, "TEMPORAL_UNAVAILABLE")
