"""OpenTelemetry tracing for each process: spans from the API request through Temporal (client, workflow,
activity) to the partner's HTTP call, exported over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Span names and attributes carry route templates, workflow/activity types, ids and URLs, which hold no personal
data (personal data travels in bodies and encrypted payloads only). Exception messages might: the exporter
drops them, keeping the exception's type.
"""

from collections.abc import Sequence

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from core.settings import Settings

# Scraped and probed every few seconds: traces of them would drown the ones that matter.
UNTRACED_URLS = "/metrics,/healthz,/readyz"
_DROPPED = ("exception.message", "exception.stacktrace")


def tracer_provider(settings: Settings, service: str, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """The process's tracer provider, or None (no tracing at all) when there is nowhere to send spans.
    `exporter` is for tests (an in-memory one); otherwise OTLP/HTTP to the configured endpoint."""
    if exporter is None and not settings.otel_endpoint:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(exporter)))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        assert settings.otel_endpoint is not None
        otlp = OTLPSpanExporter(endpoint=settings.otel_endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(RedactingExporter(otlp)))
    return provider


def temporal_interceptors(provider: TracerProvider | None) -> Sequence[Interceptor]:
    """For the Temporal client; a worker built on that client traces its workflows and activities too."""
    return [TracingInterceptor(provider.get_tracer("temporalio"))] if provider else []


def instrument_http(client: httpx.AsyncClient, provider: TracerProvider | None) -> None:
    if provider:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)


def instrument_api(app: FastAPI, provider: TracerProvider | None) -> None:
    if provider:
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=provider, excluded_urls=UNTRACED_URLS, exclude_spans=["receive", "send"]
        )


class RedactingExporter(SpanExporter):
    """Passes spans on without exception messages and stack traces (a message may quote personal data)."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([_redacted(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _redacted(span: ReadableSpan) -> ReadableSpan:
    if not span.events and not span.status.description:
        return span
    events = [
        Event(e.name, {k: v for k, v in (e.attributes or {}).items() if k not in _DROPPED}, e.timestamp)
        for e in span.events
    ]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),  # its description is the exception's text
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
