import httpx
import pytest

from adapters.biometrics import HttpBiometrics
from adapters.payment import HttpPaymentGateway
from core.settings import AdapterMode, Settings
from simulators.inprocess import SimulatedBiometrics, SimulatedPaymentGateway
from simulators.world import SimWorld
from tests.adapters.sim_support import BORN, KK, NIK, adapter_settings
from workers.composition import build_adapters


async def test_simulated_adapters_share_the_given_world():
    world = SimWorld()
    world.add_citizen(NIK, KK, "Siti Nurhaliza", BORN)
    adapters = build_adapters(adapter_settings(AdapterMode.SIMULATED), world=world)
    assert isinstance(adapters.biometrics, SimulatedBiometrics)
    assert isinstance(adapters.payments, SimulatedPaymentGateway)
    assert (await adapters.civil_registry.verify(NIK, KK, "Siti Nurhaliza", BORN)).found


async def test_http_mode_needs_a_client():
    with pytest.raises(ValueError, match="AsyncClient"):
        build_adapters(adapter_settings(AdapterMode.HTTP))


async def test_http_mode_uses_each_systems_url():
    seen: list[str] = []

    def partner(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"liveness": True, "match_score": 0.9, "duplicate": False})

    settings = Settings(adapters="http", partner_base_url="http://shared", biometrics_url="https://face.example/api/")  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.MockTransport(partner)) as http:
        adapters = build_adapters(settings, http=http)
        assert isinstance(adapters.biometrics, HttpBiometrics)
        assert isinstance(adapters.payments, HttpPaymentGateway)
        await adapters.biometrics.check(NIK, "c2VsZmll")
    assert seen == ["https://face.example/api/biometrics/check"]
