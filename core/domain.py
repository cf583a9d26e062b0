"""Names shared by the API, the database and the workflows (exposed in the public contract)."""

from enum import StrEnum


class JourneyStatus(StrEnum):
    PENDING_VERIFICATION = "PENDING_VERIFICATION"  # registered, phone not confirmed yet: no journey runs
    REGISTERED = "REGISTERED"
    VERIFYING = "VERIFYING"
    REJECTED = "REJECTED"
    INELIGIBLE = "INELIGIBLE"
    WAITING_FOR_WAVE = "WAITING_FOR_WAVE"
    NOT_SELECTED = "NOT_SELECTED"
    AWARDED = "AWARDED"
    TRAINING = "TRAINING"
    INCENTIVES = "INCENTIVES"
    PAYMENT_ON_HOLD = "PAYMENT_ON_HOLD"
    COMPLETED = "COMPLETED"
    REVOKED = "REVOKED"


POOL_STATUSES = (JourneyStatus.WAITING_FOR_WAVE, JourneyStatus.NOT_SELECTED)
FINAL_STATUSES = (
    JourneyStatus.REJECTED,
    JourneyStatus.INELIGIBLE,
    JourneyStatus.COMPLETED,
    JourneyStatus.REVOKED,
)


class Reason(StrEnum):
    NIK_NOT_FOUND = "NIK_NOT_FOUND"
    NAME_DOB_MISMATCH = "NAME_DOB_MISMATCH"
    KK_MISMATCH = "KK_MISMATCH"
    DECEASED = "DECEASED"
    LIVENESS_FAILED = "LIVENESS_FAILED"
    FACE_MISMATCH = "FACE_MISMATCH"
    DUPLICATE_FACE = "DUPLICATE_FACE"
    UNDER_AGE = "UNDER_AGE"
    OVER_AGE = "OVER_AGE"
    EXCLUDED_OCCUPATION = "EXCLUDED_OCCUPATION"
    STUDENT = "STUDENT"
    KK_LIMIT_REACHED = "KK_LIMIT_REACHED"
    RECEIVES_OTHER_ASSISTANCE = "RECEIVES_OTHER_ASSISTANCE"
    PREVIOUSLY_REVOKED = "PREVIOUSLY_REVOKED"
    PURCHASE_DEADLINE_MISSED = "PURCHASE_DEADLINE_MISSED"
    REVOKED_BY_OPERATOR = "REVOKED_BY_OPERATOR"
    NIK_DEACTIVATED = "NIK_DEACTIVATED"
    NO_TRAINING_COMPLETED = "NO_TRAINING_COMPLETED"


class LifeEvent(StrEnum):
    """What a civil registry reports about a NIK; each is also the revocation's reason code."""

    DECEASED = "DECEASED"
    NIK_DEACTIVATED = "NIK_DEACTIVATED"


class Role(StrEnum):
    SUPPORT = "support"
    OPERATOR = "operator"
    ADMIN = "admin"


class PartnerKind(StrEnum):
    MARKETPLACE = "marketplace"
    TRAINING_PROVIDER = "training_provider"
    PAYMENT = "payment"
    CIVIL_REGISTRY = "civil_registry"


class WaveStatus(StrEnum):
    OPEN = "OPEN"
    DRAWING = "DRAWING"
    DRAWN = "DRAWN"


class PurchaseStatus(StrEnum):
    PURCHASED = "PURCHASED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class PaymentKind(StrEnum):
    INCENTIVE = "INCENTIVE"
    SURVEY = "SURVEY"


class PaymentStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    PAID = "PAID"
    ON_HOLD = "ON_HOLD"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class SurveyStatus(StrEnum):
    PENDING = "PENDING"
    OPEN = "OPEN"
    SUBMITTED = "SUBMITTED"
    EXPIRED = "EXPIRED"


class BalanceEntryKind(StrEnum):
    AWARD = "AWARD"
    PURCHASE = "PURCHASE"
    REFUND = "REFUND"
    TREASURY_RETURN = "TREASURY_RETURN"
