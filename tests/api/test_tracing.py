"""Tracing over the real app, worker and dev server, with the payment partner reached over HTTP (the simulator
app in-process): an in-memory exporter sees the journey's trace reach the payment partner's HTTP call, the
completion request's trace reach the workflow through its signal, and no personal data in any span."""

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from adapters.metering import MeteredTransport
from adapters.payment import HttpPaymentGateway
from api.app import create_app
from core.temporal import data_converter
from core.tracing import instrument_http, temporal_interceptors, tracer_provider
from db.session import make_sessionmaker
from simulators.app import create_app as simulator_app
from simulators.world import SimWorld
from tests.api.helpers import register_partner, serve
from tests.api.live import Live
from tests.api.test_money import ACCOUNT, Money
from tests.api.training import open_shop
from tests.conftest import test_settings as settings_for
from tests.workflows.harness import journey_activities_pinning
from workers.composition import build_adapters
from workers.main import build_workers
from workers.payments import build_payment_workers

SIM = "http://simulators.test"


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def record(self, system: str, outcome: str, seconds: float) -> None:
        self.seen.append((system, outcome))


@pytest_asyncio.fixture
async def traced(dev_env, engine) -> AsyncIterator[tuple[Money, InMemorySpanExporter, Calls]]:
    settings = settings_for(
        database_url=engine.url.render_as_string(hide_password=False), task_queue=f"trace-{uuid.uuid4().hex[:8]}"
    )
    spans, calls = InMemorySpanExporter(), Calls()
    provider = tracer_provider(settings, "prakerja-test", exporter=spans)
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=data_converter(settings.codec_keys),
        interceptors=temporal_interceptors(provider),
    )
    world, sessions = SimWorld(), make_sessionmaker(engine)
    partner_http = httpx.AsyncClient(transport=MeteredTransport(calls, httpx.ASGITransport(app=simulator_app(world))))
    instrument_http(partner_http, provider)
    adapters = dataclasses.replace(
        build_adapters(settings, world=world), payments=HttpPaymentGateway(partner_http, SIM)
    )
    [worker] = build_workers(
        client, settings, adapters, sessions, journey_activities_pinning(settings, adapters, sessions)
    )
    app = create_app(settings, temporal_client=client, tracing=provider)
    async with partner_http, worker, serve(app) as http:
        live = Live(http, settings, world, sessions, client)
        shop = await open_shop(live)
        ewallet = f"EWA-{uuid.uuid4().hex[:6].upper()}"
        await register_partner(http, settings, ewallet, "payment")
        async with build_payment_workers(client, settings, adapters, sessions):
            try:
                yield Money(shop, ewallet, "-"), spans, calls
            finally:
                await live.terminate_all()
    await engine.dispose()


def by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in spans}


def ancestors(span: ReadableSpan, index: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in index:
        span = index[span.parent.span_id]
        names.append(span.name)
    return names


async def test_one_trace_runs_from_the_journey_through_signal_workflow_and_activity_to_the_partner_call(traced):
    money, exporter, calls = traced
    [card] = await money.trained()
    assert (await money.link(card, money.ewallet, money.account(card, money.ewallet))).status_code == 200
    await money.complete(card)  # the training provider's completion request: a signal to the journey
    await money.review(card)
    await money.until(card, lambda v: any(p["status"] == "PAID" for p in v["payments"]))

    spans = list(exporter.get_finished_spans())
    index = by_id(spans)
    disburse = [s for s in spans if s.name.startswith("POST") and s.kind.name == "CLIENT" and "disburse" in
                str(s.attributes.get("url.full", s.attributes.get("http.url", "")))]  # fmt: skip
    assert disburse, sorted({s.name for s in spans})
    partner_call = disburse[0]
    chain = ancestors(partner_call, index)
    # The journey's trace starts at its registration; workflow code runs in the context of its start. A payment
    # is one activity of the journey on the common path (issue 11: no child workflow unless it is needed), a local
    # activity of the journey's worker within the partner's budget.
    assert chain == [
        "RunActivity:pay_in_worker",
        "StartActivity:pay_in_worker",
        "StartWorkflow:BeneficiaryJourney",
        "POST /v1/registrations",
    ]
    same_trace = [s for s in spans if s.context.trace_id == partner_call.context.trace_id]
    assert "RunWorkflow:BeneficiaryJourney" in {s.name for s in same_trace}

    # The provider's completion request: its own trace holds the API span and the signal it sent; the
    # journey's trace handles that signal with a link back to it.
    [completion] = [s for s in spans if s.name == "POST /v1/partners/completions" and s.kind.name == "SERVER"]
    signal = next(s for s in spans if s.name == "SignalWorkflow:completion")
    assert signal.context.trace_id == completion.context.trace_id
    handled = [s for s in same_trace if s.name == "HandleSignal:completion"]
    assert handled and any(link.context.span_id == signal.context.span_id for s in handled for link in s.links)

    assert ("payment", "ok") in calls.seen  # the partner call was metered too
    dumped = json.dumps([json.loads(s.to_json()) for s in spans])
    assert card.nik not in dumped and ACCOUNT not in dumped  # no personal data
