"""Which partner adapters a process uses, as settings say: HTTP clients (`adapters/`) or the simulators' in-process
implementations of the same ports (`simulators/inprocess.py`). The one place that knows both."""

import httpx

from adapters.factory import Adapters, build_http_adapters
from core.settings import AdapterMode, Settings
from simulators.inprocess import simulated_adapters
from simulators.world import SimWorld


def build_adapters(
    settings: Settings, *, http: httpx.AsyncClient | None = None, world: SimWorld | None = None
) -> Adapters:
    """`http` (required in http mode) is owned by the caller, who sets its timeout and closes it; `world` (simulated
    mode) is the partners' state the caller seeds and observes, a fresh one if not given."""
    if settings.adapters is AdapterMode.SIMULATED:
        return simulated_adapters(world or SimWorld())
    if http is None:
        raise ValueError("PRAKERJA_ADAPTERS=http needs an httpx.AsyncClient")
    return build_http_adapters(settings, http)
