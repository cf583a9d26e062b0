"""The worker's Prometheus endpoint: the Temporal SDK's own series and the partner calls, on the configured port."""

import asyncio
import socket
import urllib.request

from temporalio.client import Client

from core.settings import Settings
from workers.telemetry import PartnerCallMeter, worker_runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_no_port_no_endpoint() -> None:
    assert worker_runtime(Settings()) is None


async def test_the_worker_runtime_serves_sdk_and_partner_series(dev_env) -> None:
    port = free_port()
    runtime = worker_runtime(Settings(worker_metrics_port=port))
    assert runtime is not None
    client = await Client.connect(dev_env.client.service_client.config.target_host, runtime=runtime)
    await client.count_workflows()
    PartnerCallMeter(runtime.metric_meter).record("payment", "timeout", 0.25)

    text = await asyncio.to_thread(scrape, port)

    assert "temporal_request" in text  # the SDK's own series (client requests)
    assert 'prakerja_partner_requests_total{outcome="timeout"' in text.replace('service_name="temporal-core-sdk",', "")
    assert "prakerja_partner_request_duration_seconds_bucket" in text
