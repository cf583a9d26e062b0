"""Request and response bodies of the beneficiary and operator endpoints (public contract field names)."""

import base64
import binascii
import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, field_validator

from core.domain import (
    JourneyStatus,
    PaymentKind,
    PaymentStatus,
    PurchaseStatus,
    SurveyStatus,
    WaveStatus,
)

MAX_SELFIE_BYTES = 2_000_000
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE = re.compile(r"^(\+62|62|0)8[1-9][0-9]{6,11}$")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day_only(value: object) -> object:
    """A calendar day is written YYYY-MM-DD: a bare number is not read as a Unix timestamp (`date=0` is not 1970)."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("not a date (YYYY-MM-DD)")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day_only)]


def _as_utc(value: datetime) -> datetime:
    """The database keeps UTC; SQLite hands it back without a zone, which RFC 3339 does not allow."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""A `date` query parameter that accepts only the `format: date` its schema states (RFC 3339 full-date)."""


class RegistrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    nik: str = Field(pattern=r"^\d{16}$", description="16-digit national identity number")
    kk_number: str = Field(pattern=r"^\d{16}$", description="16-digit family card number")
    full_name: str = Field(min_length=2, max_length=200)
    date_of_birth: date
    email: str = Field(max_length=254)
    phone: str
    province: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z][A-Za-z .'-]*$")
    occupation: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z_ -]+$")
    is_student: bool
    selfie_b64: str = Field(min_length=16, max_length=MAX_SELFIE_BYTES * 4 // 3 + 4)

    @field_validator("date_of_birth")
    @classmethod
    def _plausible_birth(cls, value: date) -> date:
        today = datetime.now(UTC).date()
        if value > today or value.year < 1900:
            raise ValueError("date_of_birth must be a real date in the past")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not a valid email address")
        return value.lower()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        compact = re.sub(r"[\s-]", "", value)
        if not _PHONE.match(compact):
            raise ValueError("not an Indonesian mobile number (e.g. 081234567890 or +6281234567890)")
        return compact

    @field_validator("occupation")
    @classmethod
    def _occupation(cls, value: str) -> str:
        return re.sub(r"[\s-]+", "_", value.strip()).upper()

    @field_validator("selfie_b64")
    @classmethod
    def _selfie(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("selfie_b64 must be base64") from None
        return value


class RegistrationResponse(BaseModel):
    registration_id: str
    status: JourneyStatus
    beneficiary_token: str


class PurchaseView(BaseModel):
    purchase_ref: str
    course_id: str
    price: int
    status: PurchaseStatus
    reviewed: bool


class PaymentView(BaseModel):
    payment_id: str
    kind: PaymentKind
    number: int
    amount: int
    status: PaymentStatus
    partner_client_code: str | None = None
    reason: str | None = None


class SurveyView(BaseModel):
    survey_no: int
    status: SurveyStatus
    opens_at: datetime | None = None
    closes_at: datetime | None = None


class PaymentAccountView(BaseModel):
    partner_client_code: str
    account_number_masked: str


class ClawbackView(BaseModel):
    amount: int = Field(description="Integer rupiah paid before the revocation, to be recovered.")
    payment_ids: list[str]


class JourneyView(BaseModel):
    registration_id: str
    status: JourneyStatus
    reasons: list[str]
    prakerja_number: str | None = None
    wave_id: str | None = None
    balance: int | None = None
    profile: str
    province: str
    purchases: list[PurchaseView] = []
    payments: list[PaymentView] = []
    surveys: list[SurveyView] = []
    payment_account: PaymentAccountView | None = None
    # What the journey waits for from the beneficiary: REVIEW, PAYMENT_ACCOUNT.
    waiting_for: list[str] = []
    # A revoked journey that had been paid: what was paid, to be recovered.
    clawback: ClawbackView | None = None
    updated_at: UtcDatetime


class WaveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    quota: StrictInt = Field(gt=0, le=10_000_000)
    province_quotas: dict[str, StrictInt] | None = None
    profile: str | None = Field(None, max_length=32, description="Programme terms (default: PRAKERJA_PROFILE).")

    @field_validator("province_quotas")
    @classmethod
    def _positive(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is not None and any(n < 0 for n in value.values()):
            raise ValueError("province quotas must be zero or more")
        return value


class DrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: str | None = Field(None, min_length=1, max_length=128)


class WaveView(BaseModel):
    wave_id: str
    name: str
    status: WaveStatus
    quota: int
    province_quotas: dict[str, int] | None = None
    profile: str
    pool_size: int
    selected: int
    seed: str | None = None


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=200)


class RevokeResponse(BaseModel):
    registration_id: str
    status: str = "REVOCATION_REQUESTED"
