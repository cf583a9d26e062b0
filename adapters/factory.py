"""The one place adapters are built: simulated in-process fakes or HTTP clients, as settings say."""

from dataclasses import dataclass

import httpx

from adapters.biometrics import Biometrics, HttpBiometrics, SimulatedBiometrics
from adapters.civil_registry import CivilRegistry, HttpCivilRegistry, SimulatedCivilRegistry
from adapters.marketplace import HttpMarketplace, Marketplace, SimulatedMarketplace
from adapters.payment import HttpPaymentGateway, PaymentGateway, SimulatedPaymentGateway
from adapters.social_affairs import HttpSocialAffairs, SimulatedSocialAffairs, SocialAffairs
from core.settings import AdapterMode, Settings
from simulators.world import SimWorld


@dataclass
class Adapters:
    civil_registry: CivilRegistry
    biometrics: Biometrics
    social_affairs: SocialAffairs
    marketplace: Marketplace
    payments: PaymentGateway


def build_adapters(
    settings: Settings, *, http: httpx.AsyncClient | None = None, world: SimWorld | None = None
) -> Adapters:
    """`http` (required in http mode) is owned by the caller, who sets its timeout and closes it."""
    if settings.adapters is AdapterMode.SIMULATED:
        return _simulated(world or SimWorld())
    if http is None:
        raise ValueError("PRAKERJA_ADAPTERS=http needs an httpx.AsyncClient")
    return Adapters(
        civil_registry=HttpCivilRegistry(http, settings.url_for("civil_registry")),
        biometrics=HttpBiometrics(http, settings.url_for("biometrics")),
        social_affairs=HttpSocialAffairs(http, settings.url_for("social_affairs")),
        marketplace=HttpMarketplace(http, settings.url_for("marketplace")),
        payments=HttpPaymentGateway(http, settings.url_for("payment")),
    )


def _simulated(world: SimWorld) -> Adapters:
    return Adapters(
        civil_registry=SimulatedCivilRegistry(world),
        biometrics=SimulatedBiometrics(world),
        social_affairs=SimulatedSocialAffairs(world),
        marketplace=SimulatedMarketplace(world),
        payments=SimulatedPaymentGateway(world),
    )
