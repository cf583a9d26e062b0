"""The machine a benchmark ran on, printed first: numbers are only comparable on the same line."""

import os
import platform
from pathlib import Path

from benchmarks.cpu import CORES


def machine() -> str:
    """Cores, CPU model, Python and load: the numbers below are only comparable on the same line."""
    model = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), platform.processor()
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {CORES} cores, {model or 'unknown CPU'}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}, load average {load}"
    )


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []
