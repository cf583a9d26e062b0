"""Journey part 2 end to end, over real sockets: award → signed purchase → signed completion → review.

Simulators and API under uvicorn, the Temporal dev server, a worker with HTTP adapters; the test speaks HTTP
only, then checks what an operator sees in Temporal after each step (view query, search attributes, history).
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from api.app import create_app
from core.contracts import JourneyState, journey_id
from core.settings import AdapterMode, Settings
from core.temporal import SA_STATUS, connect
from db.session import make_sessionmaker
from simulators.app import create_app as create_simulators
from tests.api.helpers import signed
from tests.conftest import test_settings as settings_for
from tests.e2e.test_journey_e2e import award_over_http, ok, poll, serving
from tests.workflows.harness import Person
from workers.composition import build_adapters
from workers.main import build_workers
from workflows.journey import BeneficiaryJourney


@asynccontextmanager
async def stack(dev_env, engine) -> AsyncIterator[tuple[httpx.AsyncClient, str, Settings]]:
    """Simulators and API on loopback ports, a worker whose partner adapters speak HTTP to the simulators."""
    async with serving(create_simulators()) as simulators:
        settings = settings_for(
            adapters=AdapterMode.HTTP,
            partner_base_url=simulators,
            temporal_address=dev_env.client.service_client.config.target_host,
            temporal_namespace=dev_env.client.namespace,
            database_url=engine.url.render_as_string(hide_password=False),
            task_queue=f"e2e-training-{uuid.uuid4().hex[:8]}",
        )
        async with (
            httpx.AsyncClient(timeout=settings.partner_timeout_s) as partner_http,
            serving(create_app(settings)) as api,
            httpx.AsyncClient(base_url=api, timeout=10) as http,
        ):
            adapters = build_adapters(settings, http=partner_http)
            [worker] = build_workers(await connect(settings), settings, adapters, make_sessionmaker(engine))
            async with worker:
                yield http, simulators, settings


async def add_partner(http: httpx.AsyncClient, admin: dict[str, str], code: str, kind: str) -> str:
    body = {"client_code": code, "kind": kind, "name": f"{code} Ltd"}
    return ok(await http.post("/v1/admin/partners", json=body, headers=admin), 201)["sign_key"]


async def operator_sees(client: Client, handle: WorkflowHandle, status: str) -> JourneyState:
    """The journey's own view, and the status search attribute an operator filters on in the Temporal UI."""

    async def found() -> list[str]:
        return [w.id async for w in client.list_workflows(f'WorkflowId="{handle.id}" AND PrakerjaStatus="{status}"')]

    await poll(found, lambda ids: ids == [handle.id], timeout=10)
    assert (await handle.describe()).typed_search_attributes.get(SA_STATUS) == status
    return await handle.query(BeneficiaryJourney.view)


async def test_award_purchase_completion_and_review_end_to_end(dev_env, engine):
    async with stack(dev_env, engine) as (http, simulators, settings):
        awarded = await award_over_http(http, simulators, settings.admin_token, Person())
        registration = awarded["registration"]
        me_headers = {"Authorization": f"Bearer {registration['beneficiary_token']}"}
        handle = dev_env.client.get_workflow_handle(journey_id(registration["registration_id"]))

        async def me() -> dict[str, Any]:
            return ok(await http.get("/v1/me", headers=me_headers), 200)

        try:
            card = awarded["me"]["prakerja_number"]
            assert (awarded["me"]["status"], awarded["me"]["balance"]) == ("AWARDED", 1_000_000)
            assert (await operator_sees(dev_env.client, handle, "AWARDED")).balance == 1_000_000

            admin = {"Authorization": f"Bearer {settings.admin_token}"}
            market = await add_partner(http, admin, "MKT-E2E", "marketplace")
            provider = await add_partner(http, admin, "PRV-E2E", "training_provider")
            course = {"course_id": "DIGI-101", "title": "Pemasaran Digital", "provider_client_code": "PRV-E2E"}
            ok(await http.post("/v1/admin/courses", json=course | {"price": 350_000}, headers=admin), 201)

            order = {"prakerja_number": card, "course_id": "DIGI-101", "purchase_ref": "TOKO-0001"}
            bought = ok(await signed(http, "POST", "/v1/partners/purchases", "MKT-E2E", market, order), 201)
            assert bought == {"purchase_ref": "TOKO-0001", "price": 350_000, "balance_remaining": 650_000}
            view = await poll(me, lambda v: v["status"] == "TRAINING")
            assert view["balance"] == 650_000
            assert [(p["purchase_ref"], p["status"], p["price"]) for p in view["purchases"]] == [
                ("TOKO-0001", "PURCHASED", 350_000)
            ]
            state = await operator_sees(dev_env.client, handle, "TRAINING")
            assert (state.balance, state.purchases) == (650_000, {"TOKO-0001": "PURCHASED"})

            done = {
                "purchase_ref": "TOKO-0001",
                "certificate_number": "SERT-77",
                "completed_at": "2025-03-01T10:00:00Z",
            }
            completed = ok(await signed(http, "POST", "/v1/partners/completions", "PRV-E2E", provider, done), 200)
            assert completed == {"purchase_ref": "TOKO-0001", "status": "COMPLETED"}
            view = await poll(me, lambda v: v["status"] == "INCENTIVES")
            assert [(p["status"], p["reviewed"]) for p in view["purchases"]] == [("COMPLETED", False)]
            assert [s["survey_no"] for s in view["surveys"]] == [1, 2, 3]
            state = await operator_sees(dev_env.client, handle, "INCENTIVES")
            assert (state.completed, state.reviewed) == (["TOKO-0001"], [])

            review = {"rating": 5, "text": "Materinya praktis"}
            ok(await http.post("/v1/me/trainings/TOKO-0001/review", json=review, headers=me_headers), 200)
            view = await poll(me, lambda v: v["purchases"][0]["reviewed"])
            assert (view["status"], view["balance"]) == ("INCENTIVES", 650_000)
            state = await poll(lambda: handle.query(BeneficiaryJourney.view), lambda s: s.reviewed)
            assert (state.reviewed, state.ignored_signals) == (["TOKO-0001"], [])

            # The Temporal UI's history shows each step: the purchase as an accepted update, then two signals.
            history = await handle.fetch_history()
            updates = [
                e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
            ]
            signals = [
                e.workflow_execution_signaled_event_attributes.signal_name
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            ]
            assert updates == ["purchase"]
            assert [s for s in signals if s in ("completion", "review")] == ["completion", "review"]
        finally:  # it would wait months for incentives and surveys
            await handle.terminate("end-to-end test finished")
