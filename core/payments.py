"""Payment messages and ids. Imported by workflows, so: pydantic, stdlib and core only.

Exactly-once rests on two deterministic keys: the payment id (one per registration, kind and number: the
Disbursement workflow id and the ledger row's key) and the attempt id (the partner's idempotency key).
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from core.contracts import PaymentAccount
from core.domain import PaymentKind, PaymentStatus


def payment_id_for(registration_id: str, kind: PaymentKind, number: int) -> str:
    return f"PAY-{registration_id}-{'I' if kind is PaymentKind.INCENTIVE else 'S'}{number}"


# PAY-<registration_id>-I<n> or -S<n> (payment_id_for), optionally -A<n> for one attempt (attempt_id_for).
_PAYMENT_ID = re.compile(r"^PAY-(?P<registration_id>.+)-(?P<label>[IS]\d+)(?:-A\d+)?$")


def registration_of_payment(payment_id: str) -> str | None:
    """The registration a payment (or payment attempt) id belongs to; None if it is not one."""
    found = _PAYMENT_ID.match(payment_id)
    return found["registration_id"] if found else None


def payment_label(payment_id: str) -> str:
    """`I1`, `S3`: the kind and number of a payment (or payment attempt) id; the id itself if it is not one."""
    found = _PAYMENT_ID.match(payment_id)
    return found["label"] if found else payment_id


def payment_workflow_id(payment_id: str) -> str:
    return f"payment-{payment_id}"


def attempt_id_for(payment_id: str, n: int) -> str:
    """Attempt n of a payment; also its idempotency key at the partner (retries of one attempt reuse it)."""
    return f"{payment_id}-A{n}"


def payment_task_queue(client_code: str) -> str:
    """Each payment partner's bulk calls (disbursements, their status, statements) have their own queue, so each
    can be rate-limited: a payday backlog waits here."""
    return f"payments-{client_code}"


def interactive_task_queue(client_code: str) -> str:
    """The partner's calls that someone is waiting for (e-KYC when a beneficiary links an account or support
    retries to a new one): their own queue and rate, never behind a disbursement backlog."""
    return f"payments-{client_code}-interactive"


_ATTEMPT_ID = re.compile(r"^(?P<payment_id>.+)-A(?P<n>[1-9]\d*)$")


def attempt_no_of(attempt_id: str) -> int:
    """n of attempt_id_for(payment_id, n)."""
    found = _ATTEMPT_ID.match(attempt_id)
    if found is None:
        raise ValueError(f"not an attempt id: {attempt_id}")
    return int(found["n"])


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day: reconciliation counts by UTC day on both sides."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def reconciliation_id(day: date) -> str:
    """One report per day at a time: concurrent requests for the same day share the run."""
    return f"reconciliation-{day.isoformat()}"


class AttemptStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    # The partner reported success for an attempt the ledger had closed as failed, after the payment was
    # paid by another attempt or cancelled: money moved twice or after cancellation. Reconciliation lists it.
    LATE_SUCCEEDED = "LATE_SUCCEEDED"


class PaymentReason(StrEnum):
    """Why a payment or an attempt stopped, when the platform decided it (partners' own reasons pass through)."""

    PARTNER_REJECTED = "PARTNER_REJECTED"  # a 4xx: the partner refused the request; resending cannot help
    PARTNER_PENDING_TOO_LONG = "PARTNER_PENDING_TOO_LONG"  # PENDING past the limit: support takes it from here
    CANCELLED_BEFORE_RECEIVED = "CANCELLED_BEFORE_RECEIVED"  # asked to stop before the partner had the attempt
    LATE_SUCCESS_AFTER_FAILURE = "LATE_SUCCESS_AFTER_FAILURE"  # a success reported for an attempt closed as failed
    WORKFLOW_FAILED = "WORKFLOW_FAILED"  # the payment's workflow failed or was terminated (the journey goes on)


class PartnerAnswer(StrEnum):
    """What the partner said about one attempt; UNKNOWN = no answer in time, NOT_RECEIVED = it never got it."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    UNKNOWN = "UNKNOWN"
    NOT_RECEIVED = "NOT_RECEIVED"


class AttemptAnswer(BaseModel):
    answer: PartnerAnswer
    reason: str | None = None
    partner_reference: str | None = None


class DisburseInput(BaseModel):
    payment_id: str
    registration_id: str
    kind: PaymentKind
    number: int
    amount: int = Field(gt=0)
    partner_client_code: str
    # Personal data: fine in (encrypted) payloads, never in ids, logs or search attributes.
    account_number: str
    nik: str
    time_scale: float = Field(1.0, gt=0)
    # Signal the parent workflow (the journey's `payment_hold`) when the payment goes on hold or leaves it.
    notify_parent: bool = False
    # The journey's one-activity payment (`PaymentActivities.pay`) sent attempt 1 and got this non-final answer:
    # the workflow resolves it from there instead of asking the partner again.
    first_answer: AttemptAnswer | None = None
    # Started stopped (a revocation resolving a payment the journey has no record of): as if cancelled at once.
    stop: bool = False


class PayResult(BaseModel):
    """`PaymentActivities.pay`: PAID, or the ledger row's status and attempt 1's answer for the durable path."""

    status: PaymentStatus
    answer: AttemptAnswer | None = None
    # `pay_in_worker` only: nothing was written or sent, the partner's budget was spent; pay on its queue.
    queued: bool = False


class DisburseResult(BaseModel):
    payment_id: str
    status: PaymentStatus  # PAID or CANCELLED
    attempts: int
    partner_client_code: str | None = None
    amount: int = 0


class PaymentHoldSignal(BaseModel):
    payment_id: str
    on_hold: bool
    reason: str | None = None
    # Support retried the payment to another account that passed e-KYC: the journey's later payments follow it
    # there, unless the beneficiary linked yet another account meanwhile (their choice stands).
    moved_from: PaymentAccount | None = None
    moved_to: PaymentAccount | None = None


class CallbackStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class AttemptStatusSignal(BaseModel):
    """A payment partner's callback for one attempt (validated by the API against the ledger first)."""

    attempt_id: str
    # The partner that sent it (the attempt's partner: the API checked), asked again if the answer is odd.
    partner_client_code: str
    status: CallbackStatus
    reason: str | None = None
    partner_reference: str | None = None


class RetryPaymentInput(BaseModel):
    partner_client_code: str | None = None
    account_number: str | None = None
    requested_by: str


class RetryOutcome(StrEnum):
    ACCEPTED = "ACCEPTED"
    EKYC_FAILED = "EKYC_FAILED"
    PARTNER_UNAVAILABLE = "PARTNER_UNAVAILABLE"


class RetryPaymentResult(BaseModel):
    payment_id: str
    outcome: RetryOutcome
    reason: str | None = None


class PaymentState(BaseModel):
    """The workflow's own view (query `state`)."""

    payment_id: str
    status: PaymentStatus
    attempts: int
    partner_client_code: str
    reason: str | None = None
    cancel_requested: bool = False


# --- activity messages ---


class OpenPaymentInput(BaseModel):
    payment_id: str
    registration_id: str
    kind: PaymentKind
    number: int
    amount: int
    partner_client_code: str
    account_number: str


class LastAttempt(BaseModel):
    attempt_id: str
    status: AttemptStatus
    partner_client_code: str
    account_number: str
    reason: str | None = None
    partner_reference: str | None = None


class OpenPaymentResult(BaseModel):
    """The ledger row as found or created: a rerun of the workflow resumes from it instead of paying again."""

    status: PaymentStatus
    attempts: int
    last_attempt: LastAttempt | None = None


class AttemptInput(BaseModel):
    payment_id: str
    attempt_id: str
    attempt_no: int
    partner_client_code: str
    account_number: str
    nik: str
    amount: int


class CheckStatusInput(BaseModel):
    partner_client_code: str
    attempt_id: str


class SettleAttemptInput(BaseModel):
    payment_id: str
    attempt_id: str
    reason: str | None = None
    partner_reference: str | None = None
    # The partner reported success after we had closed this attempt as failed.
    late: bool = False


class CancelPaymentInput(BaseModel):
    payment_id: str
    # The attempt that was resolved as failed while the cancellation waited for it, if any.
    attempt_id: str | None = None
    reason: str | None = None


class VerifyAccountInput(BaseModel):
    partner_client_code: str
    account_number: str
    nik: str


# --- reconciliation ---


class ReconcileInput(BaseModel):
    day: date
    partner_client_codes: list[str]


class ReconcilePartnerInput(BaseModel):
    partner_client_code: str
    day: date


class ReconciliationDifference(BaseModel):
    idempotency_key: str
    # UNKNOWN_TO_LEDGER, NOT_PAID_IN_LEDGER, LATE_SUCCESS, OTHER_DAY, MISSING_AT_PARTNER, AMOUNT_MISMATCH
    kind: str
    ledger_status: str | None = None
    partner_status: str | None = None
    amount: int = 0  # AMOUNT_MISMATCH: what the ledger sent less what the partner credited
    ledger_amount: int | None = None
    partner_amount: int | None = None


class PartnerStatement(BaseModel):
    partner_client_code: str
    available: bool = True
    count: int = 0
    total: int = 0
    differences: list[ReconciliationDifference] = Field(default_factory=list)
    differences_total: int = 0


class ReconcileResult(BaseModel):
    day: date
    statements: list[PartnerStatement]
