"""Several API processes (`python -m api` with PRAKERJA_API_WORKERS=2): `/metrics` counts every process's
requests, whichever process answers the scrape (prometheus-client's multiprocess mode)."""

import shutil
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.api.rawhttp import api_process

BATCH = 40


def get(port: int, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        return answer.status, answer.read().decode()


def healthz_requests(families: object) -> float:
    return sum(
        sample.value
        for family in families  # type: ignore[attr-defined]
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels.get("route") == "/healthz"
    )


def served_by(metrics_dir: Path, scratch: Path) -> dict[str, float]:
    """/healthz requests counted in each process's own file (counter_<pid>.db), read one file at a time."""
    counts = {}
    for file in metrics_dir.glob("counter_*.db"):
        alone = scratch / file.stem
        alone.mkdir(exist_ok=True)
        shutil.copy(file, alone / file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        counts[file.stem.removeprefix("counter_")] = healthz_requests(registry.collect())
    return counts


def settled(metrics_dir: Path, scratch: Path, sent: int) -> dict[str, float]:
    """The per-process counts once all `sent` are in: a request is counted just after its answer went out."""
    deadline = time.monotonic() + 5
    while sum((counts := served_by(metrics_dir, scratch)).values()) < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    return counts


def test_two_api_processes_serve_metrics_summed_over_both(tmp_path: Path) -> None:
    metrics_dir, scratch = tmp_path / "metrics", tmp_path / "scratch"
    scratch.mkdir()
    env = {"PRAKERJA_API_WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with api_process(tmp_path, **env) as api, ThreadPoolExecutor(20) as pool:
        sent, deadline = 0, time.monotonic() + 60
        # The kernel picks which process accepts, and the second may still be starting when the first answers
        # (seconds on a loaded machine): send batches until both have served some.
        while time.monotonic() < deadline:
            statuses = [status for status, _ in pool.map(lambda _: get(api.port, "/healthz"), range(BATCH))]
            assert statuses == [200] * BATCH
            sent += BATCH
            if sum(1 for count in served_by(metrics_dir, scratch).values() if count) >= 2:
                break
        per_process = settled(metrics_dir, scratch, sent)
        assert len(per_process) == 2 and all(per_process.values()), per_process
        assert sum(per_process.values()) == sent
        for _ in range(6):  # every scrape, whichever process serves it, sees both processes' requests
            status, text = get(api.port, "/metrics")
            assert status == 200
            assert healthz_requests(text_string_to_metric_families(text)) == sent
