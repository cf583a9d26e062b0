"""`--telemetry`: a client that runs the workers as they run when observed (Prometheus endpoint + tracing)."""

import socket
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from temporalio.client import Client

from core.settings import Settings
from core.tracing import RedactingExporter, temporal_interceptors
from workers.telemetry import worker_runtime


class CountingExporter(SpanExporter):
    """Where OTLP would send the spans: counts them (the benchmark measures our side, not the network)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


async def telemetry_client(plain: Client) -> tuple[Client, CountingExporter, TracerProvider]:
    """A client on the same server as the processes run it when observed: the worker's Prometheus endpoint
    (a runtime of its own) and a TracingInterceptor whose spans are batched to an exporter, as in production."""
    exporter, provider = CountingExporter(), TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(RedactingExporter(exporter)))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = await Client.connect(
        plain.service_client.config.target_host,
        namespace=plain.namespace,
        data_converter=plain.data_converter,
        runtime=worker_runtime(Settings(worker_metrics_port=port)),
        interceptors=temporal_interceptors(provider),
    )
    return client, exporter, provider
