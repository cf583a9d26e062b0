"""The partner adapters the platform uses, as one object; `build_http_adapters` builds the HTTP clients.

The in-process (simulated) implementations live with the simulators (`simulators/inprocess.py`); the composition
root picks one or the other (`workers/composition.py`), so this package never depends on the simulators.
"""

from dataclasses import dataclass

import httpx

from adapters.biometrics import Biometrics, HttpBiometrics
from adapters.civil_registry import CivilRegistry, HttpCivilRegistry
from adapters.marketplace import HttpMarketplace, Marketplace
from adapters.payment import HttpPaymentGateway, PaymentGateway
from adapters.social_affairs import HttpSocialAffairs, SocialAffairs
from core.settings import Settings


@dataclass
class Adapters:
    civil_registry: CivilRegistry
    biometrics: Biometrics
    social_affairs: SocialAffairs
    marketplace: Marketplace
    payments: PaymentGateway


def build_http_adapters(settings: Settings, http: httpx.AsyncClient) -> Adapters:
    """`http` is owned by the caller, who sets its timeout and closes it."""
    return Adapters(
        civil_registry=HttpCivilRegistry(http, settings.url_for("civil_registry")),
        biometrics=HttpBiometrics(http, settings.url_for("biometrics")),
        social_affairs=HttpSocialAffairs(http, settings.url_for("social_affairs")),
        marketplace=HttpMarketplace(http, settings.url_for("marketplace")),
        payments=HttpPaymentGateway(http, settings.url_for("payment")),
    )
