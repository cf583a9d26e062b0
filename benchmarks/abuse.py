"""What an attacker gets from the API (issue 13): its memory under oversized bodies, and a registration flood.

One `python -m api` process under uvicorn on loopback, default limits, counters in memory (one process), Temporal
unreachable: the flood's registrations start nothing (answered 503 TEMPORAL_UNAVAILABLE, or 422), since the
limiter counts attempts before anything reads them. A second loopback address (127.0.0.2) plays a neighbour
registering during the flood.

    .venv/bin/python -m benchmarks.abuse [--flood 300] [--mb 300]
"""

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.api.rawhttp import api_process, oversized_post, small_post

MIB = 1024 * 1024


def memory(port: int, rss: float, mb: int, api) -> None:
    for chunked in (False, True):
        status, sent = oversized_post(port, "/v1/registrations", mb * MIB, chunked=chunked)
        kind = "chunked " if chunked else "declared"
        print(f"{kind} {mb} MB body: {status}, {sent / MIB:.1f} MB sent before the answer, RSS {api.rss_mb():.0f} MB")
    for n in range(20):
        oversized_post(port, "/v1/registrations", 30 * MIB, chunked=n % 2 == 1)
    print(f"after 20 more of 30 MB: RSS {api.rss_mb():.0f} MB (started at {rss:.0f} MB)")


def flood(port: int, count: int) -> None:
    started, seen, neighbour = time.perf_counter(), Counter[int](), []
    for n in range(count):
        seen[small_post(port, "/v1/registrations", b'{"nik": "1"}')] += 1
        if n % 50 == 0:
            t0 = time.perf_counter()
            neighbour.append((small_post(port, "/v1/registrations", b'{"nik": "1"}', source="127.0.0.2"), t0))
            neighbour[-1] = (neighbour[-1][0], time.perf_counter() - t0)
    took = time.perf_counter() - started
    print(f"flood of {count} from 127.0.0.1 in {took:.1f} s: {dict(sorted(seen.items()))}")
    worst = max(t for _, t in neighbour) * 1000
    print(f"neighbour 127.0.0.2 meanwhile: {[s for s, _ in neighbour]}, slowest answer {worst:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood", type=int, default=300)
    parser.add_argument("--mb", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, api_process(Path(tmp)) as api:
        rss = api.rss_mb()
        print(f"API pid {api.process.pid}, RSS {rss:.0f} MB at start")
        memory(api.port, rss, args.mb, api)
        flood(api.port, args.flood)
    os._exit(0)  # as the other benchmarks: no interpreter finalisation


if __name__ == "__main__":
    main()
