"""Bodies over a route's limit are refused with 413 PAYLOAD_TOO_LARGE before they are read whole."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from api.limits import DEFAULT_BODY_LIMIT, REGISTRATION_BODY_LIMIT, BodyLimitMiddleware
from api.schemas import MAX_SELFIE_BYTES
from tests.api.helpers import admin, assert_problem
from tests.api.rawhttp import api_process, oversized_post

MIB = 1024 * 1024


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"a" * min(size, total - start)


async def test_a_declared_length_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/registrations", content=b"{" + b" " * REGISTRATION_BODY_LIMIT + b"}")
    problem = assert_problem(resp, 413, "PAYLOAD_TOO_LARGE")
    assert str(REGISTRATION_BODY_LIMIT) in problem["detail"]
    assert resp.headers["connection"] == "close"


async def test_a_chunked_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/registrations", content=chunks(REGISTRATION_BODY_LIMIT + 1))
    assert "content-length" not in resp.request.headers
    assert_problem(resp, 413, "PAYLOAD_TOO_LARGE")


async def test_a_registration_with_the_largest_selfie_is_within_its_limit(client: httpx.AsyncClient) -> None:
    body = {"nik": "not-a-nik", "selfie_b64": "A" * (MAX_SELFIE_BYTES * 4 // 3)}
    resp = await client.post("/v1/registrations", json=body)
    assert_problem(resp, 422, "VALIDATION_ERROR")  # read and judged, not refused for its size


@pytest.mark.parametrize("chunked", [False, True])
async def test_every_other_route_takes_small_bodies_only(client: httpx.AsyncClient, settings, chunked: bool) -> None:
    raw = json.dumps({"client_code": "x" * DEFAULT_BODY_LIMIT, "kind": "payment", "name": "n"}).encode()
    content = chunks(len(raw)) if chunked else raw
    resp = await client.post("/v1/admin/partners", content=content, headers=admin(settings))
    assert_problem(resp, 413, "PAYLOAD_TOO_LARGE")
    small = await client.post("/v1/admin/partners", json={"client_code": "x" * 65}, headers=admin(settings))
    assert_problem(small, 422, "VALIDATION_ERROR")


async def test_a_body_longer_than_its_declared_length_is_cut_off_at_the_limit() -> None:
    """Counted as it arrives, whatever Content-Length claimed (a server in front may not check it)."""
    read: list[int] = []

    async def reads_everything(scope, receive, send) -> None:
        while (message := await receive()).get("more_body"):
            read.append(len(message["body"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []
    stream = iter([{"type": "http.request", "body": b"a" * 1024, "more_body": True}] * 1000)

    async def receive() -> dict:
        return next(stream)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/waves", "headers": [(b"content-length", b"10")]}
    await BodyLimitMiddleware(reads_everything)(scope, receive, send)
    assert sent[0]["status"] == 413 and b"PAYLOAD_TOO_LARGE" in sent[1]["body"]
    assert sum(read) <= DEFAULT_BODY_LIMIT


def test_openapi_documents_413_on_bodies(client_openapi: dict) -> None:
    responses = client_openapi["paths"]["/v1/registrations"]["post"]["responses"]
    assert responses["413"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "413" not in client_openapi["paths"]["/v1/me"]["get"]["responses"]


@pytest.fixture
def client_openapi(app) -> dict:
    return app.openapi()


def test_the_api_does_not_grow_under_a_stream_of_oversized_bodies(tmp_path) -> None:
    """300 MB of registrations (declared and chunked) against a real uvicorn process: every one refused with 413,
    and the process's resident memory stays where it was (without the limit one such body took it +530 MB)."""
    with api_process(tmp_path, PRAKERJA_RATE_REGISTRATIONS_PER_MIN="0") as api:
        oversized_post(api.port, "/v1/registrations", 10 * MIB, chunked=False)  # warm up the code path
        before = api.rss_mb()
        answers = [oversized_post(api.port, "/v1/registrations", 30 * MIB, chunked=n % 2 == 1)[0] for n in range(10)]
        grown = api.rss_mb() - before
    assert answers == [413] * 10
    print(f"RSS {before:.0f} MB before, {grown:+.1f} MB after 10 oversized requests of 30 MB")
    assert grown < 32, f"the API grew by {grown:.0f} MB"
