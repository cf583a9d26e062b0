"""`--profile`: where the worker process's CPU goes, by kind of thread and, for the event loop, by code."""

import cProfile
import os
import pstats
import sys
import threading
import time
from collections import Counter
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Profiler:
    """Where the worker process's CPU goes: exact CPU per kind of thread (each thread's own CPU clock, read every
    0.2 s), and a cProfile of the event-loop thread on its CPU clock (activity bodies, the SDK's task plumbing,
    payload conversion, the benchmark's driver). cProfile slows the loop, so read shares, not seconds."""

    def __init__(self) -> None:
        self.threads: dict[int, tuple[str, float]] = {}  # ident -> (kind, CPU seconds so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="cpu-watch")
        self._profile = cProfile.Profile(time.thread_time)

    def start(self) -> None:
        self._main, self._process0 = threading.get_ident(), time.process_time()
        self._base = {i: self._clock(i) for i in sys._current_frames()}
        self._thread.start()
        self._profile.enable()

    def stop(self) -> None:
        self._profile.disable()
        self._stop.set()
        self._thread.join()
        self.process_cpu = time.process_time() - self._process0

    @staticmethod
    def _clock(ident: int) -> float:
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(ident))
        except OSError:
            return 0.0

    def _kind(self, ident: int, frame: Any) -> str:
        if ident == self._main:
            return "event loop thread (activities, SDK plumbing, driver)"
        if ident == threading.get_ident():
            return "this profiler"
        names = [f.f_code.co_filename + ":" + f.f_code.co_name for f in _frames(frame)]
        if any("aiosqlite/core.py:_connection_worker_thread" in n for n in names):
            return "SQLite statements (aiosqlite threads)"
        if any("concurrent/futures/thread.py:_worker" in n for n in names):
            return "workflow activations (workflow task threads)"
        return "other Python threads"

    def _watch(self) -> None:
        while True:
            for ident, frame in sys._current_frames().items():
                kind = self.threads[ident][0] if ident in self.threads else self._kind(ident, frame)
                self.threads[ident] = (kind, self._clock(ident) - self._base.get(ident, 0.0))
            if self._stop.wait(0.2):
                return

    def report(self) -> list[str]:
        total = self.process_cpu
        kinds: Counter = Counter()
        for kind, cpu in self.threads.values():
            kinds[kind] += cpu
        kinds["native threads (SDK core, gRPC) and exited threads"] = max(total - sum(kinds.values()), 0.0)
        stats = pstats.Stats(self._profile)
        flat: Counter = Counter()
        synchronous: Counter = Counter()  # plain (not async) SDK calls: cumulative times are trustworthy
        for (filename, _, function), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
            where = _short(filename)
            flat[_bucket(where, function)] += tottime
            if where.startswith("temporalio/worker/_workflow.py") and function in SANDBOX_CALLS:
                synchronous[SANDBOX_CALLS[function]] += cumtime
                synchronous[SANDBOX_CALLS[function] + " calls"] += calls
        loop = sum(flat.values()) or 1.0
        per_instance = synchronous["sandbox per workflow run"] / max(synchronous["sandbox per workflow run calls"], 1)

        def share(counter: Counter, of: float, k: int) -> str:
            return ", ".join(f"{name} {value / of:.0%}" for name, value in counter.most_common(k))

        return [
            f"worker process CPU {total:.1f} s, by thread: " + share(kinds, total, 8),
            "event-loop thread under cProfile (which slows it: read shares), self time by code: "
            + share(flat, loop, 12),
            f"of which a new sandbox per workflow run (journey or payment): "
            f"{synchronous['sandbox per workflow run'] / loop:.0%} ({per_instance * 1000:.0f} ms each under cProfile, "
            f"{synchronous['sandbox per workflow run calls']:.0f} runs); the serialization context fetched through "
            f"the sandbox on every activation: {synchronous['sandbox per activation'] / loop:.0%}",
        ]


SANDBOX_CALLS = {"_create_workflow_instance": "sandbox per workflow run", "_get_current_dc": "sandbox per activation"}


def _frames(frame: Any) -> list[Any]:
    out = []
    while frame is not None:
        out.append(frame)
        frame = frame.f_back
    return out


def _short(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    if filename.startswith(ROOT):
        return "@" + filename[len(ROOT) + 1 :]
    return filename.rsplit("/lib/python3", 1)[-1].split("/", 1)[-1] if "/lib/python3" in filename else filename


def _bucket(where: str, function: str) -> str:
    for prefix, name in (
        ("sqlalchemy/", "SQLAlchemy"),
        ("aiosqlite/", "aiosqlite (loop side)"),
        ("greenlet/", "SQLAlchemy"),
        ("temporalio/converter", "payload conversion"),
        ("temporalio/contrib/pydantic", "payload conversion"),
        ("pydantic", "payload conversion"),
        ("@core/codec", "AES codec"),
        ("cryptography/", "AES codec"),
        ("google/protobuf", "protobuf"),
        ("temporalio/worker/workflow_sandbox", "workflow sandbox (loop side)"),
        ("temporalio/", "SDK plumbing"),
        ("asyncio/", "asyncio"),
        ("@benchmarks/", "benchmark driver"),
        ("@tests/", "benchmark driver"),
        ("@", "project code (activities, adapters, db, simulators)"),
    ):
        if where.startswith(prefix):
            return name
    if where == "~":  # a builtin: name it (exec/compile are the sandbox importing workflow modules)
        return f"builtin {function.removeprefix('<built-in method ').removesuffix('>')}"[:48]
    return "stdlib " + where.removesuffix(".py")
