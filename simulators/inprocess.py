"""The partner ports implemented in-process over a `SimWorld`: the simulated mode of the platform (tests, benchmarks,
a worker without partner systems). Same behaviour and faults as the simulator service, without HTTP.

The world answers in the partners' wire format (`simulators/wire.py`, `simulators/payments.py`); these classes
translate to and from the ports' models, as the HTTP adapters do.
"""

from datetime import date

from adapters.biometrics import FaceCheck
from adapters.civil_registry import CitizenCheck
from adapters.factory import Adapters
from adapters.marketplace import NotificationKind
from adapters.payment import DisbursementResult, DisburseRequest, KycResult, StatementLine
from adapters.social_affairs import AssistanceCheck
from simulators import wire
from simulators.payments import DisbursementRequest
from simulators.world import SimWorld


class SimulatedCivilRegistry:
    def __init__(self, world: SimWorld) -> None:
        self._world = world

    async def verify(self, nik: str, kk_number: str, full_name: str, date_of_birth: date) -> CitizenCheck:
        answer = await self._world.verify_citizen(nik, kk_number, full_name, date_of_birth)
        return CitizenCheck.model_validate(answer.model_dump(mode="json"))


class SimulatedBiometrics:
    def __init__(self, world: SimWorld) -> None:
        self._world = world

    async def check(self, nik: str, selfie_b64: str) -> FaceCheck:
        return FaceCheck.model_validate((await self._world.check_face(nik, selfie_b64)).model_dump(mode="json"))


class SimulatedSocialAffairs:
    def __init__(self, world: SimWorld) -> None:
        self._world = world

    async def check(self, nik: str) -> AssistanceCheck:
        return AssistanceCheck.model_validate((await self._world.check_assistance(nik)).model_dump(mode="json"))


class SimulatedMarketplace:
    def __init__(self, world: SimWorld) -> None:
        self._world = world

    async def card_blocked(self, marketplace_client_code: str, prakerja_number: str, reason: str) -> None:
        await self._notify(
            marketplace_client_code, NotificationKind.CARD_BLOCKED, reason, prakerja_number=prakerja_number
        )

    async def purchase_voided(self, marketplace_client_code: str, purchase_ref: str, reason: str) -> None:
        await self._notify(marketplace_client_code, NotificationKind.PURCHASE_VOIDED, reason, purchase_ref=purchase_ref)

    async def _notify(self, client_code: str, kind: NotificationKind, reason: str, **subject: str) -> None:
        await self._world.notify_marketplace(client_code, wire.NotificationKind(kind.value), reason, **subject)


class SimulatedPaymentGateway:
    def __init__(self, world: SimWorld) -> None:
        self._world = world

    async def verify_account(self, partner: str, account_number: str, nik: str) -> KycResult:
        answer = await self._world.payments.verify_account(partner, account_number, nik)
        return KycResult.model_validate(answer.model_dump(mode="json"))

    async def disburse(self, partner: str, request: DisburseRequest) -> DisbursementResult:
        sent = DisbursementRequest.model_validate(request.model_dump(mode="json"))
        answer = await self._world.payments.disburse(partner, sent)
        return DisbursementResult.model_validate(answer.model_dump(mode="json"))

    async def status(self, partner: str, idempotency_key: str) -> DisbursementResult | None:
        answer = await self._world.payments.status(partner, idempotency_key)
        return None if answer is None else DisbursementResult.model_validate(answer.model_dump(mode="json"))

    async def statement(self, partner: str, day: date) -> list[StatementLine]:
        lines = await self._world.payments.statement(partner, day)
        return [StatementLine.model_validate(line.model_dump(mode="json")) for line in lines]


def simulated_adapters(world: SimWorld) -> Adapters:
    """Every partner port over one world, so tests seed and observe the partners through it."""
    return Adapters(
        civil_registry=SimulatedCivilRegistry(world),
        biometrics=SimulatedBiometrics(world),
        social_affairs=SimulatedSocialAffairs(world),
        marketplace=SimulatedMarketplace(world),
        payments=SimulatedPaymentGateway(world),
    )
