"""429 RATE_LIMITED with Retry-After for each kind of caller, counted per address, client code or staff token.

Budgets are counted on a stopped clock (in memory), or per minute (in Redis), so no test races a refill.
"""

import os
import secrets
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from temporalio.client import Client

from api.app import create_app
from api.ratelimit import client_address
from core.ratestore import MemoryRateStore, RedisRateStore
from core.settings import Settings
from tests.api.conftest import probe
from tests.api.helpers import admin, assert_problem, bearer, register_partner, serve, signed, staff_token
from tests.api.live import registration_body
from tests.conftest import test_settings as settings_for
from tests.workflows.harness import Person

REDIS_URL = os.environ.get("TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set (.ci/run starts Redis and sets it)")


@asynccontextmanager
async def limited(settings: Settings, temporal: Client, *, stop_clock: bool = True, **limits: Any):
    """The API with `limits`; yields a function making a client from a given address."""
    app = create_app(settings.model_copy(update=limits), temporal_client=temporal)
    app.include_router(probe)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(serve(app))
        if stop_clock:
            app.state.ctx.rates = MemoryRateStore(clock=lambda: 1000.0)

        async def from_address(address: str = "192.0.2.1") -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            return await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://api"))

        yield from_address


def invalid_registration() -> dict[str, str]:
    return {"nik": "123"}  # refused 422 after the limiter counted it: attempts count, not successes


def assert_rate_limited(resp: httpx.Response, retry_after: int) -> None:
    problem = assert_problem(resp, 429, "RATE_LIMITED")
    assert resp.headers["Retry-After"] == str(retry_after) and problem["retry_after"] == retry_after


async def test_registrations_are_limited_per_client_address(settings: Settings, nowhere: Client) -> None:
    async with limited(settings, nowhere, rate_registrations_per_min=3) as client_at:
        flooder, neighbour = await client_at("198.51.100.7"), await client_at("198.51.100.8")
        for _ in range(3):
            assert (await flooder.post("/v1/registrations", json=invalid_registration())).status_code == 422
        assert_rate_limited(await flooder.post("/v1/registrations", json=invalid_registration()), 20)
        assert (await neighbour.post("/v1/registrations", json=invalid_registration())).status_code == 422


async def test_public_reads_are_limited_per_client_address(settings: Settings, nowhere: Client) -> None:
    """By path prefix: the rule holds for public routes whether or not they exist yet."""
    async with limited(settings, nowhere, rate_public_per_s=2) as client_at:
        reader, other = await client_at("203.0.113.1"), await client_at("203.0.113.2")
        for path in ("/v1/catalog/courses", "/v1/public/transparency"):
            assert (await reader.get(path)).status_code != 429
        assert_rate_limited(await reader.get("/transparency"), 1)
        assert (await other.get("/v1/catalog/courses")).status_code != 429
        assert (await reader.get("/healthz")).status_code == 200  # not a public read: unlimited


async def test_partners_are_limited_per_verified_client_code(settings: Settings, nowhere: Client) -> None:
    async with limited(settings, nowhere, rate_partner_per_s=2) as client_at:
        http = await client_at()
        key_a = await register_partner(http, settings, "MKT-A", "marketplace")
        key_b = await register_partner(http, settings, "MKT-B", "marketplace")
        for _ in range(5):  # someone naming MKT-A without its key spends nothing of MKT-A's budget
            forged = await signed(http, "POST", "/test/marketplace-only", "MKT-A", "not-the-key", {"purchase_ref": "x"})
            assert_problem(forged, 401, "SIGNATURE_INVALID")
        for _ in range(2):
            ok = await signed(http, "POST", "/test/marketplace-only", "MKT-A", key_a, {"purchase_ref": "p"})
            assert ok.status_code == 200, ok.text
        limited_call = await signed(http, "POST", "/test/marketplace-only", "MKT-A", key_a, {"purchase_ref": "p"})
        assert_rate_limited(limited_call, 1)
        other = await signed(http, "POST", "/test/marketplace-only", "MKT-B", key_b, {"purchase_ref": "p"})
        assert other.status_code == 200


async def test_staff_are_limited_per_token(settings: Settings, nowhere: Client) -> None:
    async with limited(settings, nowhere, rate_staff_per_s=2) as client_at:
        http = await client_at()
        support = bearer(await staff_token(http, settings, "support"))
        operator = bearer(await staff_token(http, settings, "operator"))
        assert_rate_limited(
            await http.post("/v1/admin/staff-tokens", json={"role": "support"}, headers=admin(settings)), 1
        )
        for _ in range(2):
            assert (await http.get("/v1/support/payments", headers=support)).status_code == 200
        assert_rate_limited(await http.get("/v1/support/payments", headers=support), 1)
        assert (await http.get("/v1/support/payments", headers=operator)).status_code == 200
        assert_problem(await http.get("/v1/support/payments", headers=bearer("not-a-token")), 401, "UNAUTHENTICATED")


async def test_behind_a_proxy_only_the_configured_header_names_the_client(settings: Settings, nowhere: Client) -> None:
    async def second_is_limited(header: str | None, first: str, second: str) -> bool:
        async with limited(settings, nowhere, rate_registrations_per_min=1, client_ip_header=header) as client_at:
            proxy = await client_at("10.0.0.1")  # every request arrives from the proxy's address
            await proxy.post("/v1/registrations", json={}, headers={"X-Forwarded-For": first})
            resp = await proxy.post("/v1/registrations", json={}, headers={"X-Forwarded-For": second})
            return resp.status_code == 429

    # The proxy appends the address it saw; what the client wrote before it is not believed.
    assert not await second_is_limited("X-Forwarded-For", "1.1.1.1, 198.51.100.1", "1.1.1.1, 198.51.100.2")
    assert await second_is_limited("X-Forwarded-For", "7.7.7.7, 198.51.100.1", "8.8.8.8, 198.51.100.1")
    assert await second_is_limited(None, "198.51.100.1", "198.51.100.2")  # not configured: the socket peer


def test_addresses_are_counted_per_ipv4_host_and_ipv6_64() -> None:
    def of(peer: str, header: str | None = None, value: str = "") -> str:
        return client_address({"client": (peer, 1), "headers": [(b"x-real-ip", value.encode())]}, header)

    assert of("2001:db8:1:2:aaaa::1") == of("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert of("::ffff:198.51.100.9") == "198.51.100.9"
    assert of("10.0.0.1", "X-Real-IP", "203.0.113.5") == "203.0.113.5"
    assert of("10.0.0.1", "X-Real-IP", "garbage") == "10.0.0.1"


async def test_openapi_documents_429_with_retry_after(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path, method in (("/v1/registrations", "post"), ("/v1/partners/purchases", "post"), ("/v1/waves", "post")):
        assert "Retry-After" in paths[path][method]["responses"]["429"]["headers"], path
    assert "429" not in paths["/healthz"]["get"]["responses"]


async def test_a_registration_flood_is_throttled_while_another_address_registers(dev_env, engine) -> None:
    """The issue's flood, scaled down: one address gets its budget of journeys, then 429s; a neighbour registers."""
    settings = settings_for(database_url=engine.url.render_as_string(hide_password=False))
    started: list[str] = []
    try:
        async with limited(settings, dev_env.client, rate_registrations_per_min=5) as client_at:
            flooder, neighbour = await client_at("198.51.100.66"), await client_at("198.51.100.67")
            answers = [await flooder.post("/v1/registrations", json=registration_body(Person())) for _ in range(8)]
            started += [r.json()["registration_id"] for r in answers if r.status_code == 202]
            assert [r.status_code for r in answers] == [202] * 5 + [429] * 3
            assert_rate_limited(answers[-1], 12)
            resp = await neighbour.post("/v1/registrations", json=registration_body(Person()))
            assert resp.status_code == 202, resp.text
            started.append(resp.json()["registration_id"])
    finally:
        for registration_id in started:  # no worker runs them; nothing may outlive the test on the server
            await dev_env.client.get_workflow_handle(f"journey-{registration_id}").terminate("test finished")


# ---- Redis: one budget across API processes ---------------------------------------------------------------


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    assert REDIS_URL
    # A secret of its own: this test's keys are its own, whoever else uses the Redis.
    return settings.model_copy(update={"redis_url": REDIS_URL, "secret_key": secrets.token_hex(32)})


@needs_redis
async def test_two_api_processes_share_one_budget(redis_settings: Settings, nowhere: Client) -> None:
    async with (
        limited(redis_settings, nowhere, stop_clock=False, rate_registrations_per_min=3) as first,
        limited(redis_settings, nowhere, stop_clock=False, rate_registrations_per_min=3) as second,
    ):
        one, two = await first("198.51.100.99"), await second("198.51.100.99")
        statuses = [(await c.post("/v1/registrations", json={})).status_code for c in (one, two, one)]
        assert statuses == [422, 422, 422]
        resp = await two.post("/v1/registrations", json={})
        assert_rate_limited(resp, int(resp.headers["Retry-After"]))
        assert 1 <= int(resp.headers["Retry-After"]) <= 20
        assert (await one.post("/v1/registrations", json={})).status_code == 429


@needs_redis
async def test_redis_holds_no_address_or_token_in_clear(redis_settings: Settings, nowhere: Client) -> None:
    token = f"bnf_{uuid.uuid4().hex}"
    async with limited(redis_settings, nowhere, stop_clock=False, rate_registrations_per_min=3) as client_at:
        await (await client_at("198.51.100.123")).post("/v1/registrations", json={}, headers=bearer(token))
    redis = Redis.from_url(REDIS_URL or "")
    try:
        keys = [key.decode() async for key in redis.scan_iter("prakerja:rl:*")]
    finally:
        await redis.aclose()
    assert keys and not any("198.51.100" in key or token in key for key in keys)


async def test_a_payment_partners_budget_refuses_while_its_store_is_unreachable() -> None:
    # The API's limits admit (below); a partner's budget for direct payments refuses, so they take the partner's
    # queue, whose rate the Temporal server keeps.
    unreachable = "redis://127.0.0.1:1/0"
    api, partner = RedisRateStore(unreachable), RedisRateStore(unreachable, admit_when_unreachable=False)
    try:
        assert await api.hit("k", 10, 1.0) == 0 and await partner.hit("k", 10, 1.0) > 0
    finally:
        await api.aclose()
        await partner.aclose()


async def test_an_unreachable_store_admits_rather_than_refuses(settings: Settings, nowhere: Client) -> None:
    unreachable = "redis://127.0.0.1:1/0"
    async with limited(settings, nowhere, stop_clock=False, redis_url=unreachable, rate_registrations_per_min=1) as at:
        client = await at()
        assert [(await client.post("/v1/registrations", json={})).status_code for _ in range(3)] == [422] * 3
