import httpx
from fastapi import APIRouter

from api.app import create_app
from tests.api.helpers import admin, assert_problem, serve

NIK = "3201234567890123"


async def test_unknown_path_is_404_problem(client):
    assert_problem(await client.get("/v1/nothing-here"), 404, "NOT_FOUND")


async def test_wrong_method_is_405_problem(client):
    resp = await client.delete("/healthz")

    assert_problem(resp, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in resp.headers["allow"]


async def test_nul_characters_are_422_wherever_they_hide(client, settings):
    """PostgreSQL cannot store NUL in text: refused up front instead of a 500 (or a stored NUL on SQLite)."""
    calls = [
        client.get("/v1/waves/%00", headers=admin(settings)),
        client.get("/v1/support/payments?status=ON_HOLD&cursor=%00", headers=admin(settings)),
        client.post("/v1/waves", json={"name": "a\u0000b", "quota": 3}, headers=admin(settings)),
        client.post(
            "/v1/admin/partners",
            json={"client_code": "MKT-9", "kind": "marketplace", "name": "x\u0000"},
            headers=admin(settings),
        ),
    ]
    for call in calls:
        assert_problem(await call, 422, "INVALID_CHARACTERS")
    assert (await client.get("/v1/waves/WAVE-NONE", headers=admin(settings))).status_code == 404  # others pass


async def test_invalid_json_is_422_problem(client, settings):
    resp = await client.post(
        "/v1/admin/partners",
        content=b'{"client_code": "3201234567890123", ',
        headers=admin(settings) | {"Content-Type": "application/json"},
    )

    problem = assert_problem(resp, 422, "INVALID_JSON")
    assert NIK not in resp.text and problem["errors"]


async def test_validation_error_lists_fields_without_echoing_input(client, settings):
    body = {"client_code": f"{NIK}!", "kind": NIK, "name": NIK * 20}

    resp = await client.post("/v1/admin/partners", json=body, headers=admin(settings))

    problem = assert_problem(resp, 422, "VALIDATION_ERROR")
    assert {tuple(e["loc"]) for e in problem["errors"]} == {
        ("body", "client_code"),
        ("body", "kind"),
        ("body", "name"),
    }
    assert all(e.keys() == {"loc", "msg"} for e in problem["errors"])
    assert NIK not in resp.text


async def test_unexpected_exception_is_500_problem_without_detail(settings, nowhere, caplog):
    app = create_app(settings, temporal_client=nowhere)
    boom = APIRouter()

    @boom.get("/boom")
    async def explode() -> None:
        raise RuntimeError(f"secret {NIK}")

    app.include_router(boom)
    async with serve(app) as client:
        resp = await client.get("/boom")

    assert_problem(resp, 500, "INTERNAL_ERROR")
    assert NIK not in resp.text and NIK not in caplog.text
    assert "RuntimeError" in caplog.text


async def test_problem_shape_is_documented_in_openapi(client):
    spec = (await client.get("/openapi.json")).json()

    assert {"Problem", "ValidationProblem"} <= spec["components"]["schemas"].keys()
    responses = spec["paths"]["/v1/admin/partners"]["post"]["responses"]
    assert {"401", "403", "409", "422"} <= responses.keys()
    assert "application/problem+json" in responses["409"]["content"]
    automatic = spec["paths"]["/test/marketplace-only"]["post"]["responses"]["422"]["content"]
    assert automatic == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}}
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_docs_are_served(client):
    resp = await client.get("/docs")

    assert resp.status_code == 200 and "swagger" in resp.text.lower()


async def test_openapi_lists_admin_and_ops_endpoints(client: httpx.AsyncClient):
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert {
        "/v1/admin/staff-tokens",
        "/v1/admin/partners",
        "/v1/admin/courses",
        "/healthz",
        "/readyz",
    } <= set(paths)
