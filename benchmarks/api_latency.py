"""Benchmark: the API's latency at fixed request rates, `GET /v1/me` (a beneficiary's bearer token) and a signed
`POST /v1/partners/completions`, next to `GET /healthz` on the same server.

    .venv/bin/python -m benchmarks.api_latency                              # 1 and 2 API processes, ~1.5 min
    .venv/bin/python -m benchmarks.api_latency --workers 2 --rates 50,100,200,400 --seconds 5

The API runs as `python -m api --workers W` (uvicorn) on loopback, on a fresh migrated SQLite file seeded with
completed journeys (benchmarks.api_data), talking to a Temporal dev server. Each endpoint is driven open-loop
(benchmarks.load) at each rate for a few seconds, then closed-loop with a fixed number of clients (its most).
A completion repeats one already reported: the route reads and rewrites the purchase and signals the journey,
whose workflow has ended, so the signal is answered NOT_FOUND and the route answers 200 as for any repeat.

The load generator runs on the same cores as the API: it costs a few % of a core at these rates.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from benchmarks.api_data import Seeded, seed
from benchmarks.cpu import proc_cpu
from benchmarks.load import Request, Result, closed_loop, open_loop
from benchmarks.machine import machine
from core.security import signed_headers
from core.settings import Settings
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from tests.api.rawhttp import free_port

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = "/v1/partners/completions"


@dataclass
class ApiServer:
    process: subprocess.Popen[bytes]
    port: int

    def pids(self) -> list[int]:
        """The uvicorn process and its worker processes (with --workers > 1)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [self.process.pid, *map(int, children.read_text().split())]
        except OSError:
            return [self.process.pid]

    def cpu(self) -> float:
        return sum(map(proc_cpu, self.pids()))


@contextmanager
def api_server(database_url: str, temporal_address: str, workers: int, root: Path = ROOT) -> Iterator[ApiServer]:
    """`python -m api` from the checkout at `root` (another one measures older code side by side)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PRAKERJA_", "DATABASE_URL", "TEMPORAL_"))}
    environ |= {"DATABASE_URL": database_url, "TEMPORAL_ADDRESS": temporal_address, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "api", "--port", str(port), "--log-level", "warning"]
    argv += ["--workers", str(workers)] if workers != 1 else []
    process = subprocess.Popen(argv, cwd=root, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server = ApiServer(process, port)
        deadline = time.monotonic() + 60
        while not (ready(port) and len(server.pids()) >= (workers + 1 if workers > 1 else 1)):
            assert process.poll() is None and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def scenarios(data: Seeded) -> dict[str, Callable[[int], Request]]:
    def me(i: int) -> Request:
        return Request("GET", "/v1/me", {"Authorization": f"Bearer {data.tokens[i % len(data.tokens)]}"})

    def completion(i: int) -> Request:
        ref, code = data.purchases[i % len(data.purchases)]
        body = {"purchase_ref": ref, "certificate_number": "C-" + ref[2:], "completed_at": "2026-01-05T10:00:00Z"}
        raw = json.dumps(body).encode()
        headers = signed_headers(data.sign_keys[code], code, int(time.time()), "POST", COMPLETIONS, raw)
        return Request("POST", COMPLETIONS, {**headers, "Content-Type": "application/json"}, raw)

    return {
        "GET /healthz": lambda _: Request("GET", "/healthz"),
        "GET /v1/me": me,
        "POST completion (signed)": completion,
    }


def row(name: str, label: str, result: Result, cpu_s: float) -> str:
    bad = {s: c for s, c in result.statuses.items() if not 200 <= s < 300}
    per_request = cpu_s / max(len(result.latencies), 1) * 1000
    return (
        f"    {name:26} {label:>12} {result.achieved:9.0f} {result.percentile(0.5) * 1000:8.1f} "
        f"{result.percentile(0.99) * 1000:8.1f} {per_request:8.2f}  {bad or ''}"
    )


async def measure(server: ApiServer, data: Seeded, args: argparse.Namespace) -> None:
    rates, seconds = [float(r) for r in args.rates.split(",")], args.seconds
    print(f"    {'endpoint':26} {'load':>12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms':>8}  refused")
    for name, make in scenarios(data).items():
        if args.only and args.only not in name:
            continue
        await open_loop(server.port, make, 50, 1.0)  # warm-up: connections, caches, the Temporal client
        for rate in rates:
            before = server.cpu()
            result = await open_loop(server.port, make, rate, seconds)
            print(row(name, f"{rate:g}/s", result, server.cpu() - before))
        before = server.cpu()
        result = await closed_loop(server.port, make, args.clients, seconds)
        print(row(name, f"{args.clients} clients", result, server.cpu() - before))


async def run(temporal_address: str, args: argparse.Namespace) -> None:
    """Each API process count in turn, on one freshly seeded database."""
    with tempfile.TemporaryDirectory(prefix="api-bench-") as scratch:
        url = f"sqlite+aiosqlite:///{scratch}/api.db"
        engine = make_engine(url)
        await upgrade(engine)
        data = await seed(make_sessionmaker(engine), Settings().secret_key, journeys=200)
        await engine.dispose()
        roots = [(ROOT, "this checkout")] + ([(Path(args.compare), args.compare)] if args.compare else [])
        for count in (int(w) for w in args.workers.split(",")):
            for root, name in roots:
                with api_server(url, temporal_address, count, root) as server:
                    print(
                        f"\nAPI latency, {name}, {count} API process{'es' if count > 1 else ''} (--workers {count}), "
                        f"open loop {args.seconds:g} s per rate; CPU ms = the API processes' CPU per answered request"
                    )
                    await measure(server, data, args)


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", default="1,2", help="API process counts to measure, e.g. 1,2")
    parser.add_argument("--rates", default="50,100,200", help="open-loop request rates per endpoint")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per rate")
    parser.add_argument("--clients", type=int, default=20, help="closed-loop clients (the most it serves)")
    parser.add_argument("--compare", metavar="DIR", help="also serve the API from another checkout (older code)")
    parser.add_argument("--only", help="only the endpoints whose name contains this, e.g. /v1/me")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_options(parser)
    args = parser.parse_args()
    print(machine())
    print(f"started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal")
    ) as env:
        await run(env.client.service_client.config.target_host, args)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)  # as the journey benchmark: no interpreter finalisation under the SDK's native threads
