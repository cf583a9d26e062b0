from temporalio.client import Client

from api.app import create_app
from core.temporal import data_converter
from tests.api.helpers import assert_problem, bearer, register_partner, serve, staff_token
from tests.conftest import test_settings as make_settings


async def test_healthz(client):
    resp = await client.get("/healthz")

    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})


async def test_ready_with_real_temporal_and_database(settings, dev_env):
    async with serve(create_app(settings, temporal_client=dev_env.client)) as client:
        resp = await client.get("/readyz")

    assert resp.status_code == 200
    assert resp.json() == {"status": "ready", "temporal": "ok", "database": "ok"}


async def test_not_ready_when_temporal_unreachable(client):
    resp = await client.get("/readyz")

    problem = assert_problem(resp, 503, "NOT_READY")
    assert (problem["temporal"], problem["database"]) == ("unavailable", "ok")
    assert "temporal" in problem["detail"]


async def test_start_up_survives_temporal_down(settings):
    app = create_app(settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))

    async with serve(app) as client:
        health, ready = await client.get("/healthz"), await client.get("/readyz")
        assert app.state.ctx.temporal is None

    assert health.status_code == 200
    assert_problem(ready, 503, "NOT_READY")


async def test_not_ready_when_database_unreachable(tmp_path, dev_env):
    settings = make_settings(tmp_path, database_url="sqlite+aiosqlite:////nonexistent/dir/x.db")

    async with serve(create_app(settings, temporal_client=dev_env.client)) as client:
        resp = await client.get("/readyz")

    problem = assert_problem(resp, 503, "NOT_READY")
    assert (problem["temporal"], problem["database"]) == ("ok", "unavailable")


async def test_metrics_count_requests_by_route_template(client):
    await client.get("/healthz")
    await client.get("/no/such/path")

    resp = await client.get("/metrics")

    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in resp.text
    assert 'route="<unmatched>",status="404"' in resp.text
    assert "http_request_duration_seconds_bucket" in resp.text


async def test_each_app_has_its_own_registry(settings, nowhere):
    first, second = (
        create_app(settings, temporal_client=nowhere),
        create_app(settings, temporal_client=nowhere),
    )
    async with serve(first) as a, serve(second) as b:
        await a.get("/healthz")
        text = (await b.get("/metrics")).text

    assert 'route="/healthz"' not in text


async def test_reconciliation_is_503_when_temporal_cannot_be_reached(settings):
    # A client as the API connects it (the project's data converter), to a port where nothing listens.
    nowhere = await Client.connect("127.0.0.1:1", lazy=True, data_converter=data_converter(settings.codec_keys))
    async with serve(create_app(settings, temporal_client=nowhere)) as client:
        await register_partner(client, settings, "EWALLET", "payment")
        support = bearer(await staff_token(client, settings, "support"))

        resp = await client.get("/v1/support/reconciliation", headers=support)

    assert_problem(resp, 503, "RECONCILIATION_UNAVAILABLE")
