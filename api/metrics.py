"""Prometheus metrics in a registry owned by one app (tests build many apps; the global one would clash)."""

import os
import time
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware import HttpMiddleware, WatchedSend
from core.domain import JourneyStatus
from services.programme import NO_PARTNER, ProgrammeCounts

# Unknown paths and methods share one label each, so scanners cannot blow up the series count.
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def multiprocess() -> bool:
    """prometheus-client's multiprocess mode, on when PROMETHEUS_MULTIPROC_DIR is set (`python -m api --workers`)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()  # what /metrics serves
        own = self.registry
        PlatformCollector(registry=self.registry)
        if multiprocess():
            # Values live in PROMETHEUS_MULTIPROC_DIR, one file per process; /metrics serves their sum over every
            # process instead of this one's share. Process and GC collectors would describe only the process that
            # happens to answer, so they are left out, as prometheus-client's multiprocess mode documents.
            MultiProcessCollector(self.registry)
            own = CollectorRegistry()  # registered, never served: the collector above reads the files
        else:
            ProcessCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            registry=own,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight", "HTTP requests being served.", registry=own, multiprocess_mode="livesum"
        )
        self.temporal_up = Gauge(
            "prakerja_temporal_up",
            "1 when the last readiness check reached Temporal.",
            registry=own,
            multiprocess_mode="mostrecent",
        )
        self.database_up = Gauge(
            "prakerja_database_up",
            "1 when the last readiness check reached the database.",
            registry=own,
            multiprocess_mode="mostrecent",
        )
        self.partner_requests = Counter(
            "prakerja_partner_requests",
            "Calls to partner systems by system and outcome (ok, rejected, error, timeout, unavailable).",
            ["system", "outcome"],
            registry=own,
        )
        self.partner_latency = Histogram(
            "prakerja_partner_request_duration_seconds",
            "Latency of calls to partner systems.",
            ["system"],
            registry=own,
        )
        self.programme = ProgrammeCollector()
        self.registry.register(self.programme)

    def close(self) -> None:
        """This process is stopping: its live gauges (requests in flight) must no longer count."""
        if multiprocess():
            mark_process_dead(os.getpid())

    def record(self, system: str, outcome: str, seconds: float) -> None:
        """adapters.metering.PartnerCallRecorder: a partner call this process made."""
        self.partner_requests.labels(system, outcome).inc()
        self.partner_latency.labels(system).observe(seconds)


class ProgrammeCollector(Collector):
    """The business series, from the last counts `/metrics` fetched (services.programme, cached)."""

    def __init__(self) -> None:
        self.counts: ProgrammeCounts | None = None

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        if self.counts is None:
            return
        journeys = GaugeMetricFamily("prakerja_journeys", "Journeys by current status.", labels=["status"])
        for status in JourneyStatus:
            journeys.add_metric([status.value], self.counts.journeys.get(status.value, 0))
        # A payment moves between statuses, so the ledger's count per status is a gauge (named by the contract).
        payments = GaugeMetricFamily(
            "prakerja_payments_total",
            "Payments in the ledger by kind, current status and partner.",
            labels=["kind", "status", "partner"],
        )
        paid = CounterMetricFamily(
            "prakerja_paid_rupiah",
            "Rupiah paid out (ledger, status PAID) by kind and partner.",
            labels=["kind", "partner"],
        )
        paid_by: dict[tuple[str, str], int] = {}
        for row in self.counts.payments:
            payments.add_metric([row.kind, row.status, row.partner], row.count)
            if row.partner != NO_PARTNER:  # nothing is paid before a partner is chosen
                paid_by[row.kind, row.partner] = paid_by.get((row.kind, row.partner), 0) + row.paid_rupiah
        for (kind, partner), rupiah in sorted(paid_by.items()):
            paid.add_metric([kind, partner], rupiah)
        yield from (journeys, payments, paid)


def route_template(scope: Scope) -> str:
    route: BaseRoute | None = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class MetricsMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        watched, started = WatchedSend(send), time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, watched)
        finally:
            self.metrics.in_flight.dec()
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = route_template(scope)
            self.metrics.requests.labels(method, route, str(watched.status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
