"""SQLAlchemy 2 models: the payment ledger (financial source of truth), projections and the audit log."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[Any]: JSON}


class Partner(Base):
    __tablename__ = "partners"
    client_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    # Sealed (AES-GCM under PRAKERJA_SECRET_KEY): HMAC verification needs the key itself, never logged.
    sign_key_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffToken(Base):
    __tablename__ = "staff_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Course(Base):
    """A catalogue course: on sale only while APPROVED. Full-text search over title and description is
    dialect-specific DDL in migration 0007 (a GIN expression index; an FTS5 table kept in step by triggers)."""

    __tablename__ = "courses"
    __table_args__ = (
        # One index per catalogue sort, each led by the status every catalogue query filters on (keyset paging).
        Index("ix_courses_rating", "status", "rating_avg", "course_id"),
        Index("ix_courses_price", "status", "price", "course_id"),
        Index("ix_courses_newest", "status", "listed_at", "course_id"),
    )
    course_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    provider_client_code: Mapped[str] = mapped_column(ForeignKey("partners.client_code"))
    price: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="GENERAL")
    mode: Mapped[str] = mapped_column(String(16), default="ONLINE")
    province: Mapped[str | None] = mapped_column(String(64), nullable=True)
    duration_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    marketplace_client_code: Mapped[str | None] = mapped_column(String(64), nullable=True)  # who submitted it
    status: Mapped[str] = mapped_column(String(16))
    listed_at: Mapped[datetime | None] = mapped_column(nullable=True)  # last approval: "newest" in the catalogue
    # Kept incrementally by the review route (never recomputed over all reviews).
    rating_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_avg: Mapped[float] = mapped_column(Float, default=0.0)


class CourseAssessment(Base):
    """Projection of one submission's assessment workflow (`assessment-<course_id>-<submission_no>`)."""

    __tablename__ = "course_assessments"
    __table_args__ = (Index("ix_course_assessments_queue", "status", "submitted_at", "course_id"),)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.course_id"), primary_key=True)
    submission_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    submitted_by: Mapped[str] = mapped_column(String(64))  # the marketplace's client code
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column()
    overdue_at: Mapped[datetime | None] = mapped_column(nullable=True)  # set by the workflow's SLA timer
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a staff id
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ProgrammeProfile(Base):
    """Programme terms defined by an admin; immutable once written (journeys pin them at award)."""

    __tablename__ = "programme_profiles"
    profile: Mapped[str] = mapped_column(String(32), primary_key=True)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Wave(Base):
    __tablename__ = "waves"
    wave_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    quota: Mapped[int] = mapped_column(Integer)
    province_quotas: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    profile: Mapped[str] = mapped_column(String(32))
    seed: Mapped[str | None] = mapped_column(String(128), nullable=True)
    pool_size: Mapped[int] = mapped_column(Integer, default=0)
    selected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    drawn_at: Mapped[datetime | None] = mapped_column(nullable=True)


class WaveEntry(Base):
    """One applicant in one wave's draw: the recorded pool, so the draw can be re-derived from its seed."""

    __tablename__ = "wave_entries"
    wave_id: Mapped[str] = mapped_column(ForeignKey("waves.wave_id"), primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    province: Mapped[str] = mapped_column(String(64))
    selected: Mapped[bool] = mapped_column(default=False)
    notified: Mapped[bool] = mapped_column(default=False)


class Beneficiary(Base):
    """Projection of a journey for lookups and listings; the workflow is the source of truth for its state."""

    __tablename__ = "beneficiaries"
    __table_args__ = (Index("ix_beneficiaries_province_wave", "province", "wave_id"),)  # transparency figures
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nik_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kk_hash: Mapped[str] = mapped_column(String(64), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    province: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(32))
    in_pool: Mapped[bool] = mapped_column(default=False, index=True)
    wave_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prakerja_number: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    balance: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    payment_partner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payment_account: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PendingSelfie(Base):
    """The selfie waits here, encrypted with the secret key, only until the biometric partner has answered;
    then it is deleted."""

    __tablename__ = "pending_selfies"
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    selfie_sealed: Mapped[str] = mapped_column("selfie_b64", Text)  # column named before it was sealed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NikBlacklist(Base):
    __tablename__ = "nik_blacklist"
    nik_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KkSlot(Base):
    """Race-safe cap per family card: a journey holds one of `max_per_kk` numbered slots."""

    __tablename__ = "kk_slots"
    kk_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64), unique=True)


class BalanceEntry(Base):
    """Training-balance ledger: award credits, purchases debit, refunds and treasury returns."""

    __tablename__ = "balance_entries"
    __table_args__ = (UniqueConstraint("registration_id", "kind", "reference"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registration_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Purchase(Base):
    __tablename__ = "purchases"
    __table_args__ = (Index("ix_purchases_course_reviews", "course_id", "reviewed_at"),)  # a course's latest reviews
    purchase_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64), index=True)
    marketplace_client_code: Mapped[str] = mapped_column(String(64))
    provider_client_code: Mapped[str] = mapped_column(String(64))
    course_id: Mapped[str] = mapped_column(String(64))
    price: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    certificate_number: Mapped[str | None] = mapped_column(String(128), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    review_rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    review_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Payment(Base):
    """The payment ledger: one row per (beneficiary, kind, number), created before any partner call."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("registration_id", "kind", "number"),
        Index("ix_payments_status_id", "status", "payment_id"),
        Index("ix_payments_created_at_id", "created_at", "payment_id"),  # the console's newest-first pages
    )
    payment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    partner_client_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    account_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    paid_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PaymentAttempt(Base):
    __tablename__ = "payment_attempts"
    attempt_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.payment_id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    partner_client_code: Mapped[str] = mapped_column(String(64))
    account_number: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    partner_reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # the SLA report by day
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Clawback(Base):
    __tablename__ = "clawbacks"
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    payment_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Append-only: partner calls and staff writes. Holds ids and outcomes, never personal data."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(200))
    status_code: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The registration the call concerns, when known: a journey's timeline reads its rows through this index.
    resource: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class SurveyResponse(Base):
    """A submitted survey: the primary key makes a second submission of the same survey fail, race-free."""

    __tablename__ = "survey_responses"
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    survey_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
