"""The registries' and marketplaces' wire format, written from the partners' side.

The platform's adapters (`adapters/`) parse these answers with their own models: a field renamed on one side only
fails the HTTP adapter tests (`tests/adapters/`), where sharing one model would hide it. The payment partners'
format is in `simulators/payments.py`.
"""

from enum import StrEnum

from pydantic import BaseModel


class CitizenAnswer(BaseModel):
    """Civil registry: `POST /civil-registry/verify`."""

    found: bool
    name_dob_match: bool = False
    kk_match: bool = False
    deceased: bool = False
    occupation: str | None = None


class FaceAnswer(BaseModel):
    """Biometrics: `POST /biometrics/check`."""

    liveness: bool
    match_score: float
    duplicate: bool


class AssistanceAnswer(BaseModel):
    """Social affairs: `POST /social-affairs/check`."""

    receives_assistance: bool
    programmes: list[str]


class NotificationKind(StrEnum):
    """Marketplace: what `POST /marketplaces/{code}/notifications` tells."""

    CARD_BLOCKED = "CARD_BLOCKED"
    PURCHASE_VOIDED = "PURCHASE_VOIDED"
