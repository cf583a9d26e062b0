"""CPU accounting from /proc: the dev server's and this process's CPU seconds, sampled every second, so a run's
CPU per journey can be compared with the bare twin's measured on the same machine at the same time."""

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

CORES = os.cpu_count() or 1

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """utime + stime of a process, seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def child_pids() -> list[int]:
    """Our child processes: the dev server that WorkflowEnvironment.start_local spawned."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == me:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / TICK, total / TICK


@dataclass
class Sample:
    at: float
    server: float
    worker: float
    busy: float
    total: float


def _sample(server_pids: list[int]) -> Sample:
    busy, total = _machine()
    return Sample(time.perf_counter(), sum(map(proc_cpu, server_pids)), time.process_time(), busy, total)


@dataclass
class Meter:
    """Wall time and CPU of this process (worker + driver) and of the dev server, sampled every second."""

    server_pids: list[int]
    samples: list[Sample] = field(default_factory=list)
    idle_per_s: float = 0.0  # our CPU seconds per wall second with nothing to do (pollers, server housekeeping)
    _task: asyncio.Task[None] | None = None

    def start(self) -> "Meter":
        self.samples = [_sample(self.server_pids)]
        self._task = asyncio.create_task(self._every_second())
        return self

    async def _every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.samples.append(_sample(self.server_pids))

    def stop(self) -> "Meter":
        assert self._task is not None
        self._task.cancel()
        self.samples.append(_sample(self.server_pids))
        return self

    async def measure_idle(self, seconds: float = 3.0) -> None:
        before = _sample(self.server_pids)
        await asyncio.sleep(seconds)
        after = _sample(self.server_pids)
        self.idle_per_s = (after.server - before.server + after.worker - before.worker) / (after.at - before.at)

    def _span(self, a: Sample, b: Sample) -> tuple[float, float, float, float]:
        return b.at - a.at, b.server - a.server, b.worker - a.worker, (b.busy - a.busy) / max(b.total - a.total, 1e-9)

    @property
    def wall(self) -> float:
        return self._span(self.samples[0], self.samples[-1])[0]

    @property
    def server_cpu(self) -> float:
        return self._span(self.samples[0], self.samples[-1])[1]

    @property
    def worker_cpu(self) -> float:
        return self._span(self.samples[0], self.samples[-1])[2]

    @property
    def machine_busy(self) -> float:
        return self._span(self.samples[0], self.samples[-1])[3]

    @property
    def cpu(self) -> float:
        return self.server_cpu + self.worker_cpu

    @property
    def net_cpu(self) -> float:
        """CPU the journeys caused: minus what the processes burn idle over the same wall time."""
        return max(self.cpu - self.idle_per_s * self.wall, 0.0)

    def cpu_between(self, t0: float, t1: float) -> tuple[float, float]:
        """(net CPU seconds, wall seconds) over the whole samples inside [t0, t1] (perf_counter times)."""
        inside = [s for s in self.samples if t0 <= s.at <= t1]
        if len(inside) < 2:
            return 0.0, 0.0
        wall = inside[-1].at - inside[0].at
        cpu = inside[-1].server - inside[0].server + inside[-1].worker - inside[0].worker
        return max(cpu - self.idle_per_s * wall, 0.0), wall

    def seconds(self) -> list[tuple[float, float, float]]:
        """Per sampled second: (server, worker, machine) as fractions of one core, of one core, of all cores."""
        out = []
        for a, b in zip(self.samples, self.samples[1:], strict=False):
            wall, server, worker, machine = self._span(a, b)
            if wall > 0.2:
                out.append((server / wall, worker / wall, machine))
        return out

    def report(self, n: int) -> list[str]:
        secs = self.seconds()
        full = sum(1 for s, w, _ in secs if s + w >= 0.9 * CORES)
        worker_bound = sum(1 for _, w, _ in secs if w >= 0.95)
        buckets = [secs[i : i + 5] for i in range(0, len(secs), 5)]
        ours = self.cpu / (self.wall * CORES)
        timeline = " ".join(f"{sum(s + w for s, w, _ in b) / len(b) * 100:.0f}" for b in buckets)
        return [
            f"wall {self.wall:.1f} s -> {n / self.wall:.2f} journeys/s",
            f"CPU {self.cpu:.1f} s (server {self.server_cpu:.1f} + worker/driver {self.worker_cpu:.1f}); idle "
            f"baseline {self.idle_per_s * 100:.0f}% of a core -> net {self.net_cpu / n * 1000:.0f} ms/journey "
            f"-> CPU-bound {n / (self.net_cpu / CORES):.2f} journeys/s on {CORES} cores",
            f"our processes kept {ours:.0%} of the cores busy (server "
            f"{self.server_cpu / self.wall:.0%} + worker {self.worker_cpu / self.wall:.0%} of one core); the "
            f"machine was {self.machine_busy:.0%} busy (others: {max(self.machine_busy - ours, 0):.0%})",
            f"{full} of {len(secs)} s with both cores saturated by us, {worker_bound} s with the worker process at "
            f"a full core; our CPU % of one core per 5 s: {timeline}",
        ]
