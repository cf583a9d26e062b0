"""Benchmark: journeys/s of the real BeneficiaryJourney against the machine's ceiling, in one run on one server.

    .venv/bin/python -m benchmarks.journey_throughput                    # N=100, SQLite, ~2.5 min
    .venv/bin/python -m benchmarks.journey_throughput --journeys 50      # ~1.5 min
    .venv/bin/python -m benchmarks.journey_throughput --postgres [URL]   # also PostgreSQL (default TEST_POSTGRES_URL)
    .venv/bin/python -m benchmarks.journey_throughput --journeys 30 --month-seconds 10 --profile
                                         # + where the worker's CPU goes (cProfile slows it: keep N small)
    .venv/bin/python -m benchmarks.journey_throughput --no-codec         # what-if: payloads without the AES codec
    .venv/bin/python -m benchmarks.journey_throughput --telemetry        # (b) again with worker metrics + tracing
    .venv/bin/python -m benchmarks.journey_throughput --api              # + the API's latency (= make bench, ~4 min)

One freshly started dev server (as tests/conftest.py starts it: in-memory, the project's search attributes
and data converter), then:

(a) the ceiling: `BareJourney` below — 3 no-op activities, wait for a signal, 4 x [short timer + no-op
    activity] — N started at once, each signalled, all awaited, on one sandboxed worker;
(b) the real `BeneficiaryJourney` for a full `prakerja-2020` schedule with the real workers and activities,
    simulated partners (a SimWorld) and a fresh migrated database, programme time compressed: N registered
    (row + start), pooled, one wave drawn for all, then for each journey a purchase (update), a completion
    and a review (signals), an e-wallet linked (update) and the 3 surveys answered as each window opens
    (signals), until COMPLETED. Every journey must end COMPLETED with its 7 payments at the partner.

Each reports wall-clock journeys/s and a CPU-bound rate: N / (CPU seconds of the server and worker processes
/ cores), what the cores could do if nothing ever waited for a timer. A journey's wall time is bounded below
by programme time (3 months from the first completion to the last incentive and survey), and one wave moves
all journeys in step (bursts, then idle), so the CPU-bound rate is the fair comparison with the ceiling.

Programme months must be long enough for one burst (N awards, purchases, links, surveys published) to fit
in one month, or purchase deadlines and survey windows expire under load: `--month-seconds` defaults to
0.3 s per journey (at least 4 s). The run checks this and says so when a month was too short.
Finally the histories of a sample of journeys and their payment child workflows are counted against
DESIGN.md section 4.
"""

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from benchmarks import api_latency
from benchmarks.bare import run_ceiling
from benchmarks.cpu import Meter, child_pids
from benchmarks.databases import add_postgres_option, postgres_bench_url, postgres_server
from benchmarks.history import HistoryCount, count_journey
from benchmarks.journeys import BENCH_PARTNER_RATE_PER_S, JourneyRun, run_journeys
from benchmarks.machine import machine
from benchmarks.report import (
    Summary,
    print_ceiling,
    print_counts,
    print_run,
    print_summary,
    print_warnings,
    summarise,
)
from benchmarks.sdk_log import install_tally
from benchmarks.telemetry import telemetry_client
from core.settings import Settings
from core.temporal import data_converter, search_attribute_flags

BIN = Path(sys.executable).parent
BENCH_DATABASE = "prakerja_journey_bench"
TELEMETRY = "sqlite + worker metrics + tracing"


def parse_args() -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=100, help="N, for the ceiling and for each database")
    parser.add_argument("--month-seconds", type=float, help="wall seconds per programme month (default 0.3 N, >= 4)")
    parser.add_argument("--timer-ms", type=int, default=100, help="the bare workflow's timers")
    parser.add_argument("--samples", type=int, default=5, help="journeys whose histories are counted")
    parser.add_argument("--profile", action="store_true", help="sample the worker's Python stacks during (b)")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="journeys in the SDK's workflow sandbox (tests, dev stack), not as production",
    )
    parser.add_argument("--no-codec", action="store_true", help="what-if: plain pydantic payloads, no AES codec")
    parser.add_argument(
        "--partner-rate",
        type=float,
        default=BENCH_PARTNER_RATE_PER_S,
        help="the payment partner's rate (PRAKERJA_PAYMENT_RATE_PER_S; production's default is 20)",
    )
    add_postgres_option(parser)
    parser.add_argument("--telemetry", action="store_true", help="(b) on SQLite again with worker metrics + tracing")
    parser.add_argument("--api", action="store_true", help="then the API's latency on the same server (make bench)")
    api_latency.add_options(parser)
    return parser, parser.parse_args()


async def count_samples(client: Client, run: JourneyRun, samples: int) -> tuple[HistoryCount, HistoryCount, int]:
    """(journeys' own histories, their child workflows'), summed over the first `samples` journeys."""
    sample = run.handles[:samples]
    counted = await asyncio.gather(*(count_journey(client, h.id) for h in sample))
    own, children = HistoryCount(), HistoryCount()
    for o, c in counted:
        own.add(o)
        children.add(c)
    return own, children, len(sample)


async def main() -> None:
    parser, args = parse_args()
    n = args.journeys
    args.month_seconds = args.month_seconds or max(4.0, 0.3 * n)
    scratch = tempfile.TemporaryDirectory(prefix="journey-bench-")
    targets = {"sqlite": f"sqlite+aiosqlite:///{scratch.name}/bench.db"}
    if postgres := postgres_server(parser, args):
        targets["postgres"] = await postgres_bench_url(postgres, BENCH_DATABASE)
    if args.telemetry:
        targets[TELEMETRY] = f"sqlite+aiosqlite:///{scratch.name}/bench-telemetry.db"
    tally = install_tally()
    print(machine())
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter if args.no_codec else data_converter(Settings().codec_keys),
        dev_server_extra_args=[arg for flag in search_attribute_flags() for arg in ("--search-attribute", flag)],
    ) as env:
        server_pids = child_pids()
        if args.no_codec:
            print("\nWHAT-IF: payloads without the project's AES codec (plain pydantic JSON)")
        print(f"\nN={n}, dev server pid {server_pids}")
        runner = "in the SDK's sandbox (--sandbox)" if args.sandbox else "outside the sandbox, as production runs them"
        print(f"journey workflows run {runner}; the bare twin's in the sandbox")
        ceiling, bare = await run_ceiling(env.client, server_pids, n, args.timer_ms)
        print_ceiling(ceiling, n, args.timer_ms)
        summaries = await run_targets(env.client, server_pids, targets, args, ceiling, bare)
        print_summary(summaries, bare, ceiling.net_cpu / n * 1000)
        if args.api:
            await api_latency.run(env.client.service_client.config.target_host, args)
    print_warnings(tally.counts)
    scratch.cleanup()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def run_targets(
    client: Client,
    server_pids: list[int],
    targets: dict[str, str],
    args: argparse.Namespace,
    ceiling: Meter,
    bare: HistoryCount,
) -> list[Summary]:
    """(b) on each database, each printed against the ceiling; their summaries per completed journey."""
    n, month_s = args.journeys, args.month_seconds
    traced = await telemetry_client(client) if args.telemetry else None
    summaries = []
    print(f"payment partner's rate {args.partner_rate:g}/s (--partner-rate): half from the journeys' workers directly")
    for name, url in targets.items():
        observed = traced is not None and name == TELEMETRY
        run = await run_journeys(
            traced[0] if traced and observed else client,
            server_pids,
            url,
            n,
            month_s,
            args.profile,
            args.sandbox,
            partner_rate=args.partner_rate,
        )
        print_run(name, run, ceiling, month_s)
        if traced and observed:
            traced[2].force_flush()
            spans = traced[1].spans
            print(f"    worker metrics endpoint served; {spans} spans exported ({spans / n:.0f} per journey)")
        own, children, samples = await count_samples(client, run, args.samples)
        print_counts(bare, own, children, samples)
        summaries.append(summarise(name, run, ceiling, own, children, samples))
    return summaries


if __name__ == "__main__":
    asyncio.run(main())
    # The results are printed; leave without interpreter finalisation, during which the Temporal SDK's native
    # threads sometimes still call into Python and abort the process (exit 134 after a good run).
    sys.stdout.flush()
    os._exit(0)
