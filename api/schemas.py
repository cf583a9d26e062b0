"""Request and response bodies of the beneficiary and operator endpoints (public contract field names)."""

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
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The rules a registration's fields are held to, stated as the patterns its schema publishes. Whitespace is spelt
# out (what Python's `\s` and str.strip() take, and ECMA's U+FEFF): `\s` means less in ECMA-262 regexes.
WHITESPACE = r"\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_EMAIL = rf"^[^@{WHITESPACE}]{{1,64}}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
_SEP = rf"[{WHITESPACE}-]*"  # spaces and dashes anywhere in a phone number are dropped
_NAME = rf"[^{WHITESPACE}][\s\S]*[^{WHITESPACE}]"  # two characters or more once surrounding whitespace is stripped
_PHONE = rf"^{_SEP}(\+{_SEP}6{_SEP}2|6{_SEP}2|0){_SEP}8{_SEP}[1-9]({_SEP}[0-9]){{6,11}}{_SEP}$"
_BASE64 = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
_BIRTH_YEAR = r"^(19|[2-9][0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}$"  # from 1900; "not in the future" needs today


def _iso_day_only(value: object) -> object:
    """A calendar day is written YYYY-MM-DD: a bare number is not read as a Unix timestamp (`date=0` is not 1970)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise ValueError("not a date (YYYY-MM-DD)")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day_only)]
"""A `date` query parameter or field that accepts only the `format: date` its schema states (RFC 3339 full-date)."""


def _as_utc(value: datetime) -> datetime:
    """The database keeps UTC; SQLite hands it back without a zone, which RFC 3339 does not allow."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class RegistrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, regex_engine="python-re")

    nik: str = Field(pattern=r"^\d{16}$", description="16-digit national identity number")
    kk_number: str = Field(pattern=r"^\d{16}$", description="16-digit family card number")
    full_name: str = Field(min_length=2, max_length=200, pattern=_NAME)
    date_of_birth: IsoDay = Field(
        json_schema_extra={"pattern": _BIRTH_YEAR}, description="YYYY-MM-DD, from 1900, not in the future"
    )
    email: str = Field(max_length=254, pattern=_EMAIL)
    phone: str = Field(pattern=_PHONE, description="Indonesian mobile number, e.g. 081234567890 or +6281234567890")
    province: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z][A-Za-z .'-]*$")
    occupation: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z_ -]+$")
    is_student: bool
    selfie_b64: str = Field(min_length=16, max_length=MAX_SELFIE_BYTES * 4 // 3 + 4, pattern=_BASE64)

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
        return value.lower()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return re.sub(_SEP, "", value)

    @field_validator("occupation")
    @classmethod
    def _occupation(cls, value: str) -> str:
        return re.sub(r"[\s-]+", "_", value.strip()).upper()


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
    province_quotas: dict[str, Annotated[StrictInt, Field(ge=0)]] | None = None
    profile: str | None = Field(None, max_length=32, description="Programme terms (default: PRAKERJA_PROFILE).")


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
