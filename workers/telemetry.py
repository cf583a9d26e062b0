"""The worker's metrics: the Temporal SDK's own (task latencies, slots, polls, workflow and activity outcomes)
and the partner calls this process makes, served in Prometheus format on PRAKERJA_WORKER_METRICS_PORT."""

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.settings import Settings

# Where Prometheus scrapes it: every interface (a container's port), as the series hold no personal data.
BIND_HOST = "0.0.0.0"


def worker_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving Prometheus metrics, or None (the default runtime, no endpoint) when no port."""
    if settings.worker_metrics_port is None:
        return None
    prometheus = PrometheusConfig(
        bind_address=f"{BIND_HOST}:{settings.worker_metrics_port}",
        counters_total_suffix=True,
        durations_as_seconds=True,
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


class PartnerCallMeter:
    """adapters.metering.PartnerCallRecorder on the runtime's meter: the series appear beside the SDK's."""

    def __init__(self, meter: MetricMeter) -> None:
        self._calls = meter.create_counter(
            "prakerja_partner_requests", "Calls to partner systems by system and outcome."
        )
        self._latency = meter.create_histogram_float(
            "prakerja_partner_request_duration_seconds", "Latency of calls to partner systems.", "s"
        )

    def record(self, system: str, outcome: str, seconds: float) -> None:
        self._calls.add(1, {"system": system, "outcome": outcome})
        self._latency.record(seconds, {"system": system})
