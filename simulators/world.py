"""Every partner system's state and behaviour, in-process.

The simulator service and the in-process adapters (`simulators/inprocess.py`) both call this one object, so a test
through HTTP and a test in-process see the same answers and the same injected faults. It answers in the partners'
wire format (`simulators/wire.py`, `simulators/payments.py`), not with the platform's adapter models.
"""

import base64
import binascii
import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pydantic import BaseModel

from simulators.faults import Fault, FaultBook
from simulators.payments import CallbackSender, PaymentPartners
from simulators.registry import RegistryEvents
from simulators.wire import AssistanceAnswer, CitizenAnswer, FaceAnswer, NotificationKind

logger = logging.getLogger(__name__)

DEFAULT_MATCH_SCORE = 0.95


@dataclass
class Citizen:
    nik: str
    kk_number: str
    full_name: str
    date_of_birth: date
    photo_id: str | None = None
    deceased: bool = False


@dataclass
class BiometricOverride:
    liveness: bool
    match_score: float


class MarketplaceNotification(BaseModel):
    marketplace_client_code: str
    kind: NotificationKind
    reason: str
    prakerja_number: str | None = None
    purchase_ref: str | None = None
    received_at: datetime


class SimWorld:
    def __init__(self, *, rng: random.Random | None = None, callback_sender: CallbackSender | None = None) -> None:
        self.rng = rng or random.Random()
        self.faults = FaultBook(self.rng)
        self.payments = PaymentPartners(self.faults, callback_sender)
        self.registry_events = RegistryEvents()
        self._clear_registries()

    def _clear_registries(self) -> None:
        self.citizens: dict[str, Citizen] = {}
        self.occupations: dict[str, str] = {}
        self.social_assistance: dict[str, set[str]] = {}
        self.biometric_overrides: dict[str, BiometricOverride] = {}
        self.enrolled_faces: dict[str, str] = {}  # sha256 of the face -> NIK
        self.notifications: list[MarketplaceNotification] = []

    @property
    def callback_sender(self) -> CallbackSender | None:
        return self.payments.callback_sender

    @callback_sender.setter
    def callback_sender(self, sender: CallbackSender | None) -> None:
        self.payments.callback_sender = sender

    def reset(self) -> None:
        """Forget every record and fault (the callback sender and the random source stay)."""
        self.payments.cancel()
        self.faults.clear()
        self.payments = PaymentPartners(self.faults, self.callback_sender)
        self.registry_events = RegistryEvents()
        self._clear_registries()

    # --- seeding (mirrors the control API) ---

    def add_citizen(
        self,
        nik: str,
        kk_number: str,
        full_name: str,
        date_of_birth: date,
        photo_id: str | None = None,
        deceased: bool = False,
    ) -> None:
        self.citizens[nik] = Citizen(nik, kk_number, full_name, date_of_birth, photo_id, deceased)

    def add_social_assistance(self, nik: str, programme: str) -> None:
        self.social_assistance.setdefault(nik, set()).add(programme)

    def add_occupation(self, nik: str, occupation: str) -> None:
        self.occupations[nik] = occupation

    def set_biometrics(self, nik: str, liveness: bool, match_score: float) -> None:
        """Applies to the next face check for that NIK only."""
        self.biometric_overrides[nik] = BiometricOverride(liveness, match_score)

    def add_payment_account(
        self,
        partner_client_code: str,
        account_number: str,
        nik: str,
        kyc: bool = True,
        status: str = "ACTIVE",
    ) -> None:
        self.payments.add_account(partner_client_code, account_number, nik, kyc, status)

    def configure_payment_partner(
        self, client_code: str, sign_key: str | None = None, mode: str = "sync", callback_delay_ms: int = 0
    ) -> None:
        self.payments.configure(client_code, sign_key, mode, callback_delay_ms)

    def add_fault(
        self,
        target: str,
        kind: str,
        rate: float = 1.0,
        ms: int | None = None,
        amount: int | None = None,
        times: int | None = None,
    ) -> Fault:
        fault = {"target": target, "kind": kind, "rate": rate, "ms": ms, "amount": amount, "times": times}
        return self.faults.add(Fault.model_validate(fault))

    def clear_faults(self) -> int:
        return self.faults.clear()

    async def send_registry_event(self, nik: str, event: str, occurred_on: date) -> None:
        """The civil registry tells the platform (signed) of a death or a deactivated NIK; a death is also
        recorded in its own register, so a later identity check says so. Raises if the platform refuses it."""
        citizen = self.citizens.get(nik)
        if citizen is not None and event == "DECEASED":
            citizen.deceased = True
        if self.callback_sender is None:
            raise LookupError("the simulator has no HTTP sender")
        await self.callback_sender(*self.registry_events.request(nik, event, occurred_on))

    async def drain(self) -> None:
        """Wait for pending asynchronous payments to settle and call back."""
        await self.payments.drain()

    # --- partner behaviour ---

    async def verify_citizen(self, nik: str, kk_number: str, full_name: str, date_of_birth: date) -> CitizenAnswer:
        await self.faults.before(("civil_registry",))
        citizen = self.citizens.get(nik)
        check = CitizenAnswer(found=False)
        if citizen is not None:
            check = CitizenAnswer(
                found=True,
                name_dob_match=_same_name(citizen.full_name, full_name) and citizen.date_of_birth == date_of_birth,
                kk_match=citizen.kk_number == kk_number,
                deceased=citizen.deceased,
                occupation=self.occupations.get(nik),
            )
        self.faults.after(("civil_registry",))
        return check

    async def check_face(self, nik: str, selfie_b64: str) -> FaceAnswer:
        await self.faults.before(("biometrics",))
        face = _face_of(selfie_b64)
        known = nik in self.citizens
        override = self.biometric_overrides.pop(nik, None)
        liveness = override.liveness if override else True
        score = override.match_score if override else (DEFAULT_MATCH_SCORE if known else 0.0)
        owner = self.enrolled_faces.get(face)
        duplicate = owner is not None and owner != nik
        # Only a live face of a registered citizen joins the 1:N gallery; the first owner keeps it.
        if liveness and known and owner is None:
            self.enrolled_faces[face] = nik
        self.faults.after(("biometrics",))
        return FaceAnswer(liveness=liveness, match_score=score, duplicate=duplicate)

    async def check_assistance(self, nik: str) -> AssistanceAnswer:
        await self.faults.before(("social_affairs",))
        programmes = sorted(self.social_assistance.get(nik, ()))
        self.faults.after(("social_affairs",))
        return AssistanceAnswer(receives_assistance=bool(programmes), programmes=programmes)

    async def notify_marketplace(
        self,
        client_code: str,
        kind: NotificationKind,
        reason: str,
        *,
        prakerja_number: str | None = None,
        purchase_ref: str | None = None,
    ) -> None:
        await self.faults.before(("marketplace",))
        subject = (client_code, kind, prakerja_number, purchase_ref)
        # A repeated notification (a retry after a timeout) changes nothing.
        if not any(_subject(n) == subject for n in self.notifications):
            self.notifications.append(
                MarketplaceNotification(
                    marketplace_client_code=client_code,
                    kind=kind,
                    reason=reason,
                    prakerja_number=prakerja_number,
                    purchase_ref=purchase_ref,
                    received_at=datetime.now(UTC),
                )
            )
            logger.info("marketplace %s notified: %s", client_code, kind)
        self.faults.after(("marketplace",))


def _same_name(registered: str, given: str) -> bool:
    return " ".join(registered.split()).casefold() == " ".join(given.split()).casefold()


def _face_of(selfie_b64: str) -> str:
    """The simulator's "face" is the selfie's bytes: same bytes, same person."""
    try:
        raw = base64.b64decode(selfie_b64, validate=True)
    except (binascii.Error, ValueError):
        raw = selfie_b64.encode()
    return hashlib.sha256(raw).hexdigest()


def _subject(n: MarketplaceNotification) -> tuple[str, str, str | None, str | None]:
    return (n.marketplace_client_code, n.kind, n.prakerja_number, n.purchase_ref)
