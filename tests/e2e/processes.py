"""The whole stack as `make up` runs it, each part its own OS process, for drills that kill and restart them.

The Temporal dev server (its own SQLite file, so a restart keeps every workflow), the simulators, the API and the
worker are started with the command lines of scripts/devstack.py, under its Supervisor (own process group, log per
child in the test's directory), on free loopback ports, against a fresh migrated SQLite database. A drill kills a
part with SIGKILL (`kill`) and starts it again (`start`) as an operator would.
"""

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.settings import Settings
from scripts import devstack

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(Path(sys.executable))
# Flags of the dev server's UI: a drill has no browser, and a UI port is one more port to collide on.
_UI_FLAGS = ("--ui-ip", "--ui-port", "--ui-codec-endpoint")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def headless(cmd: list[str]) -> list[str]:
    """devstack's dev-server command without its UI."""
    out: list[str] = []
    skip = False
    for arg in cmd:
        if skip:
            skip = False
        elif arg in _UI_FLAGS:
            skip = True
        elif arg != "--ui-disable-news-fetch":
            out.append(arg)
    return [*out, "--headless"]


@dataclass
class ProcessStack:
    """Four processes on loopback; `http` talks to the API, `sim()` to the simulators' control API."""

    root: Path
    env: dict[str, str]
    http: httpx.AsyncClient
    settings: Settings  # what the processes read from `env` (admin token, time scale)
    sup: devstack.Supervisor = field(init=False)
    children: dict[str, devstack.Child] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sup = devstack.Supervisor(self.root / "log", cwd=ROOT, grace_s=5)

    @property
    def cfg(self) -> devstack.Config:
        return devstack.Config(self.env, PYTHON)

    @property
    def simulators(self) -> str:
        return self.cfg.sim_url

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.admin_token}"}

    async def sim(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        resp = await self.http.request(method, f"{self.simulators}{path}", json=body)
        assert resp.status_code == status, resp.text
        return resp.json()

    def command(self, name: str) -> list[str]:
        if name == "temporal":
            flags = devstack.search_attribute_flags(self.cfg)
            return headless(devstack.temporal_command(self.cfg, flags, self.root / "temporal.db"))
        return devstack.app_commands(self.cfg)[name]

    async def start(self, name: str) -> None:
        """Start (or start again) one part and wait until it serves."""
        env = self.env if name != "temporal" else devstack.cli_env(self.env)
        self.children[name] = child = self.sup.start(name, self.command(name), env)
        ready = {
            "temporal": lambda: devstack.succeeds(devstack.health_command(self.cfg)),
            "simulators": lambda: devstack.http_status(f"{self.simulators}/") is not None,
            "api": lambda: devstack.http_status(f"{self.cfg.api_url}/readyz") == 200,
            "worker": lambda: True,  # a worker serves nothing: a payment reaching the partner shows it polls
        }[name]
        await asyncio.to_thread(self.sup.wait_for, name, ready, 60, child.log)

    def kill(self, name: str) -> None:
        """SIGKILL, as the kernel's OOM killer or a pulled plug would: no shutdown code runs."""
        child = self.children.pop(name)
        os.killpg(child.proc.pid, signal.SIGKILL)  # its own process group (Supervisor.start): children too
        child.proc.wait()
        self.sup.children.remove(child)

    def check(self) -> None:
        """Fail at once if a part died on its own."""
        self.sup.check()


def stack_env(root: Path, **settings: str) -> dict[str, str]:
    ports = {name: free_port() for name in ("temporal", "simulators", "api")}
    # Nothing of the developer's own stack (a .env's database, a shared Redis, a collector) leaks in.
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("PRAKERJA_", "TEMPORAL_", "DATABASE_", "OTEL_"))
    }
    return inherited | {
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": f"sqlite+aiosqlite:///{root / 'prakerja.db'}",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "PRAKERJA_API_URL": f"http://127.0.0.1:{ports['api']}",
        "PRAKERJA_PARTNER_BASE_URL": f"http://127.0.0.1:{ports['simulators']}",
        "PRAKERJA_ADAPTERS": "http",
        "PRAKERJA_ADMIN_TOKEN": "drill-admin-token",
        "PRAKERJA_TASK_QUEUE": f"drills-{uuid.uuid4().hex[:8]}",
        # Drills poll fast and send bursts on purpose.
        "PRAKERJA_RATE_REGISTRATIONS_PER_MIN": "0",
        "PRAKERJA_RATE_PUBLIC_PER_S": "0",
        "PRAKERJA_RATE_PARTNER_PER_S": "0",
        "PRAKERJA_RATE_STAFF_PER_S": "0",
        **settings,
    }


@asynccontextmanager
async def process_stack(root: Path, **settings: str) -> AsyncIterator[ProcessStack]:
    """Migrated database, dev server, simulators and API up; the worker is started by the caller
    (`await live.start("worker")`) once the payment partners it must serve are registered."""
    env = stack_env(root, **settings)
    known = Settings(admin_token=env["PRAKERJA_ADMIN_TOKEN"], time_scale=float(env.get("PRAKERJA_TIME_SCALE", 1)))
    async with httpx.AsyncClient(base_url=env["PRAKERJA_API_URL"], timeout=20) as http:
        live = ProcessStack(root, env, http, known)
        try:
            await asyncio.to_thread(live.sup.run_once, "migrate", live.command("migrate"), env, 120)
            for name in ("temporal", "simulators", "api"):
                await live.start(name)
            yield live
        finally:
            live.sup.hurry = True  # SIGKILL straight away: nothing is left to shut down cleanly
            live.sup.stop_all()
