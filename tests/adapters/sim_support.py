"""Seed data and helpers shared by the adapter and simulator tests."""

from datetime import date

import httpx

from core.settings import AdapterMode, Settings
from simulators.app import create_app
from simulators.world import SimWorld

NIK = "3171000000000001"
KK = "3171000000009001"
OTHER_NIK = "3171000000000002"
BORN = date(1990, 5, 17)
SIM_URL = "http://sim"


class CallbackRecorder:
    """A fake callback transport: records what the partner would have POSTed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []

    async def __call__(self, url: str, headers: dict[str, str], body: bytes) -> None:
        self.calls.append((url, headers, body))


def adapter_settings(mode: AdapterMode) -> Settings:
    # Explicit URLs so nothing in the environment can point the adapters elsewhere.
    systems = ("civil_registry", "biometrics", "social_affairs", "marketplace", "payment")
    urls = {f"{system}_url": None for system in systems}
    return Settings(adapters=mode, partner_base_url=SIM_URL, **urls)  # type: ignore[arg-type]


def asgi_client(world: SimWorld) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(world)), base_url=SIM_URL)
