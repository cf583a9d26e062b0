"""Workflow, signal and activity messages. Imported by workflows, so: pydantic, stdlib and core only."""

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from core.domain import JourneyStatus, PaymentKind
from core.terms import ProgrammeTerms


def journey_id(registration_id: str) -> str:
    """Workflow id of a journey: the registration id, never the NIK."""
    return f"journey-{registration_id}"


def draw_id(wave_id: str) -> str:
    return f"wave-draw-{wave_id}"


def wave_calendar_id(wave_id: str) -> str:
    return f"wave-calendar-{wave_id}"


class Applicant(BaseModel):
    """Personal data: travels only inside encrypted payloads."""

    nik: str
    kk_number: str
    full_name: str
    date_of_birth: date
    province: str
    occupation: str
    is_student: bool


class StartJourneyInput(BaseModel):
    registration_id: str
    applicant: Applicant
    nik_hash: str
    kk_hash: str
    # Eligibility uses the terms in force at registration; the award pins the wave's terms.
    terms: ProgrammeTerms


class JourneyResult(BaseModel):
    registration_id: str
    status: JourneyStatus
    reasons: list[str] = Field(default_factory=list)


class VerifyIdentityInput(BaseModel):
    registration_id: str
    applicant: Applicant


class IdentityResult(BaseModel):
    reasons: list[str] = Field(default_factory=list)
    registered_occupation: str | None = None


class CheckEligibilityInput(BaseModel):
    registration_id: str
    applicant: Applicant
    nik_hash: str
    kk_hash: str
    registered_occupation: str | None = None
    terms: ProgrammeTerms


class EligibilityResult(BaseModel):
    reasons: list[str] = Field(default_factory=list)
    wave_id: str | None = None


class ScreenApplicantInput(BaseModel):
    """Identity, then eligibility, in one activity (journeys since the `lean-journey` patch)."""

    registration_id: str
    applicant: Applicant
    nik_hash: str
    kk_hash: str
    terms: ProgrammeTerms


class ScreeningResult(BaseModel):
    identity: IdentityResult
    eligibility: EligibilityResult | None = None  # not checked when the identity failed


class AwardResult(BaseModel):
    prakerja_number: str
    balance: int


class DrawResultSignal(BaseModel):
    wave_id: str
    selected: bool
    terms: ProgrammeTerms | None = None
    # The card the draw awarded a winner (journeys since the written-ahead release use it instead of an award
    # activity); None from older draws.
    award: AwardResult | None = None
    # The wave's `WaveCalendar` runs: it tells the journeys that need it of the purchase deadline and the programme's
    # close, so those need no timer of their own (journeys since the lean-journey patch).
    calendar: bool = False


class CalendarEvent(StrEnum):
    PURCHASE_DEADLINE = "PURCHASE_DEADLINE"
    PROGRAMME_CLOSE = "PROGRAMME_CLOSE"


class WaveCalendarInput(BaseModel):
    wave_id: str
    purchase_deadline_at: datetime
    closes_at: datetime
    batch_size: int = 500


class CalendarBatchInput(BaseModel):
    wave_id: str
    event: CalendarEvent
    after: str | None = None
    batch_size: int = 500


class CalendarBatchResult(BaseModel):
    told: int
    next_cursor: str | None


class AwardInput(BaseModel):
    registration_id: str
    wave_id: str
    terms: ProgrammeTerms


class RevokeSignal(BaseModel):
    reason: str
    requested_by: str
    # The reason code the journey ends with (a life event: DECEASED, NIK_DEACTIVATED); None = an operator's.
    reason_code: str | None = None


class RevokeInput(BaseModel):
    registration_id: str
    nik_hash: str
    reasons: list[str]
    prakerja_number: str | None = None
    open_purchases: list[str] = Field(default_factory=list)


class UnsettledPayment(BaseModel):
    """A ledger row a revocation found neither paid nor stopped: a payment whose partner call may be in flight."""

    payment_id: str
    kind: PaymentKind
    number: int
    amount: int
    partner_client_code: str
    account_number: str  # personal data: in (encrypted) payloads only


class RevokeResult(BaseModel):
    returned_to_treasury: int = 0
    clawback_amount: int = 0
    # Since LOCAL_PAYMENTS the journey resolves those it did not start itself (`IncentivePhase.resolve_unrecorded`).
    unsettled: list[UnsettledPayment] = Field(default_factory=list)


class WaveDrawInput(BaseModel):
    wave_id: str
    seed: str
    # Continue-as-new carries the notification cursor (last registration id notified).
    cursor: str | None = None
    notified: int = 0
    # Journeys signalled per batch, and batches per run before continue-as-new keeps the history small.
    batch_size: int = Field(500, gt=0)
    batches_per_run: int = Field(100, gt=0)


class SelectWinnersInput(BaseModel):
    wave_id: str
    seed: str


class DrawSummary(BaseModel):
    wave_id: str
    pool_size: int
    selected: int


class NotifyBatchInput(BaseModel):
    wave_id: str
    after: str | None = None
    batch_size: int = 500


class NotifyBatchResult(BaseModel):
    notified: int
    missing: int
    next_cursor: str | None


class PurchaseUpdate(BaseModel):
    purchase_ref: str
    course_id: str
    price: int
    marketplace_client_code: str
    provider_client_code: str


class PurchaseResult(BaseModel):
    purchase_ref: str
    price: int
    balance_remaining: int


class RecordPurchaseInput(BaseModel):
    registration_id: str
    purchase: PurchaseUpdate
    # The journey takes its survey windows from the API, which records them with the first completion (journeys since
    # the written-ahead release): the purchase marks the beneficiary's row so, before any completion can come.
    surveys_at_completion: bool = False


class CancelPurchaseUpdate(BaseModel):
    purchase_ref: str
    # Set by the journey when its balance already went back to the treasury (programme closed, journey ending):
    # the refund then follows it there instead of reviving a balance nobody can spend.
    balance_returned: bool = False


class CancelPurchaseResult(BaseModel):
    purchase_ref: str
    balance_remaining: int


class CompletionSignal(BaseModel):
    purchase_ref: str
    certificate_number: str
    completed_at: datetime
    # When the survey windows open, as the API recorded them with the beneficiary's first completion (journeys that
    # asked for it with a purchase, `RecordPurchaseInput.surveys_at_completion`); None from older senders and others.
    surveys_from: datetime | None = None


class ReviewSignal(BaseModel):
    purchase_ref: str
    rating: int


class ReturnBalanceInput(BaseModel):
    registration_id: str
    reference: str
    status: JourneyStatus | None = None
    reasons: list[str] = Field(default_factory=list)


class SurveyWindow(BaseModel):
    survey_no: int
    opens_at: datetime
    closes_at: datetime


def survey_windows(terms: ProgrammeTerms, first_completion_at: datetime) -> list[SurveyWindow]:
    """The programme's survey windows, counted from the first completed training (the API and the journey both
    count them so: the same anchor gives the same windows)."""
    windows = []
    for k, offset in enumerate(terms.survey_offsets_days[: terms.survey_count], start=1):
        opens = first_completion_at + terms.days(offset)
        closes = opens + terms.days(terms.survey_window_days)
        windows.append(SurveyWindow(survey_no=k, opens_at=opens, closes_at=closes))
    return windows


class ScheduleSurveysInput(BaseModel):
    registration_id: str
    surveys: list[SurveyWindow]


class SurveySignal(BaseModel):
    survey_no: int
    submitted_at: datetime


class PaymentAccount(BaseModel):
    """An account at a payment partner: what a beneficiary links, where a payment goes, where support moves it."""

    partner_client_code: str
    account_number: str


# Linking an account sends the account itself.
LinkAccountUpdate = PaymentAccount


class LinkAccountResult(BaseModel):
    verified: bool
    reason: str | None = None


class JourneyState(BaseModel):
    """What the journey's `view` query shows operators (no personal data)."""

    registration_id: str
    status: JourneyStatus
    reasons: list[str] = Field(default_factory=list)
    balance: int = 0
    purchases: dict[str, str] = Field(default_factory=dict)
    completed: list[str] = Field(default_factory=list)
    reviewed: list[str] = Field(default_factory=list)
    ignored_signals: list[str] = Field(default_factory=list)
    payment_partner: str | None = None
    payments: dict[str, str] = Field(default_factory=dict)
    surveys_submitted: list[int] = Field(default_factory=list)
