"""A journey's timeline ("why was I not paid?"), derived from what the system records.

Read from the projection row, the balance and payment ledgers, purchases, surveys, the clawback, the wave draws
and the audit rows naming the registration: a fixed handful of indexed queries however long the journey, and
no walk of the workflow's history. Items carry codes, amounts, partner codes and masked account numbers only:
never a NIK, KK, name, phone, full account number or text a person typed (a review's text, a revocation's note).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import BalanceEntryKind, JourneyStatus, PaymentStatus
from core.payments import AttemptStatus
from core.problems import ProblemCode
from core.security import mask
from db.models import (
    AuditLog,
    BalanceEntry,
    Beneficiary,
    Clawback,
    Payment,
    PaymentAttempt,
    Purchase,
    SurveyResponse,
    Wave,
    WaveEntry,
)


class TimelineKind(StrEnum):
    """Stable codes, in journey order (which also orders two events recorded at the same instant)."""

    REGISTERED = "REGISTERED"
    IDENTITY_CHECKED = "IDENTITY_CHECKED"
    ELIGIBILITY_CHECKED = "ELIGIBILITY_CHECKED"
    POOLED = "POOLED"
    DRAWN = "DRAWN"
    AWARDED = "AWARDED"
    PURCHASED = "PURCHASED"
    PURCHASE_CANCELLED = "PURCHASE_CANCELLED"
    COMPLETED = "COMPLETED"
    REVIEWED = "REVIEWED"
    ACCOUNT_LINKED = "ACCOUNT_LINKED"
    PAYMENT_RETRIED = "PAYMENT_RETRIED"
    PAYMENT_ATTEMPTED = "PAYMENT_ATTEMPTED"
    PAYMENT_ON_HOLD = "PAYMENT_ON_HOLD"
    PAYMENT_PAID = "PAYMENT_PAID"
    PAYMENT_CANCELLED = "PAYMENT_CANCELLED"
    SURVEY_SUBMITTED = "SURVEY_SUBMITTED"
    LIFE_EVENT = "LIFE_EVENT"  # a civil registry's event (death, NIK deactivated)
    REVOKED = "REVOKED"
    CLAWBACK_RECORDED = "CLAWBACK_RECORDED"
    BALANCE_RETURNED = "BALANCE_RETURNED"


Detail = dict[str, str | int | bool | list[str] | None]


class TimelineItem(BaseModel):
    at: datetime
    kind: TimelineKind
    detail: Detail = {}
    actor: str | None = None  # a staff id or partner client code, where one acted


_RANK = {kind: n for n, kind in enumerate(TimelineKind)}
# Why the unused training balance went back to the treasury, by the ledger reference the journey booked it under.
_RETURN_REASONS = {
    "revocation": "REVOKED",
    "journey-completed": "JOURNEY_COMPLETED",
    "programme-close": "PROGRAMME_CLOSED",
    "draw-unclaimed": "AWARD_UNCLAIMED",  # the draw found no running journey to tell of its award
}
# The audited calls a timeline reads (route templates; a console form posting to another path is matched below
# by what its row carries, not by its path).
LINK_ACCOUNT = "PUT /v1/me/payment-account"
REVIEW = "POST /v1/me/trainings/{purchase_ref}/review"
COMPLETION = "POST /v1/partners/completions"
CANCEL_PURCHASE = "POST /v1/partners/purchases/{purchase_ref}/cancel"
LIFE_EVENT = "POST /v1/registry/events"


def _utc(at: datetime) -> datetime:
    """SQLite hands timestamps back naive (they were written in UTC); PostgreSQL, aware."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _parsed(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _ok(row: AuditLog) -> bool:
    return 200 <= row.status_code < 300


@dataclass
class _Records:
    """Everything the timeline is derived from, read in a fixed number of indexed queries."""

    beneficiary: Beneficiary
    entries: list[BalanceEntry]
    purchases: list[Purchase]
    payments: list[Payment]
    attempts: list[PaymentAttempt]
    surveys: list[SurveyResponse]
    clawback: Clawback | None
    draws: list[tuple[str, bool, datetime | None]]  # (wave_id, selected, drawn_at)
    audit: list[AuditLog]

    def calls(self, action: str) -> Iterator[AuditLog]:
        return (row for row in self.audit if row.action == action)


async def journey_timeline(session: AsyncSession, registration_id: str) -> list[TimelineItem] | None:
    """The journey's events, oldest first; None for an unknown registration. `session` should be a read
    snapshot (`db.session.read_snapshot`), so a payment is never seen paid in one table and held in another."""
    records = await _read(session, registration_id)
    if records is None:
        return None
    items = [
        *_checks(records.beneficiary),
        *_draws(records),
        *_balance(records),
        *_training(records),
        *_accounts(records),
        *_payments(records),
        *_surveys(records),
        *_ending(records),
    ]
    return sorted(items, key=lambda item: (item.at, _RANK[item.kind]))


async def _read(session: AsyncSession, registration_id: str) -> _Records | None:
    b = await session.get(Beneficiary, registration_id)
    if b is None:
        return None

    async def rows(model: Any, *order: Any) -> list[Any]:
        query = select(model).where(model.registration_id == registration_id).order_by(*order)
        return list(await session.scalars(query))

    payments = await rows(Payment, Payment.kind, Payment.number)
    attempts = []
    if payments:
        ids = [p.payment_id for p in payments]
        attempts = list(await session.scalars(select(PaymentAttempt).where(PaymentAttempt.payment_id.in_(ids))))
    # The few waves first, then this registration's entries by the (wave_id, registration_id) key.
    waves: dict[str, datetime | None] = {w: at for w, at in await session.execute(select(Wave.wave_id, Wave.drawn_at))}
    entries = await session.execute(
        select(WaveEntry.wave_id, WaveEntry.selected).where(
            WaveEntry.wave_id.in_(list(waves)), WaveEntry.registration_id == registration_id
        )
    )
    return _Records(
        beneficiary=b,
        entries=await rows(BalanceEntry, BalanceEntry.id),
        purchases=await rows(Purchase, Purchase.created_at),
        payments=payments,
        attempts=attempts,
        surveys=await rows(SurveyResponse, SurveyResponse.survey_no),
        clawback=await session.get(Clawback, registration_id),
        draws=[(wave_id, selected, waves.get(wave_id)) for wave_id, selected in entries],
        audit=list(
            await session.scalars(select(AuditLog).where(AuditLog.resource == registration_id).order_by(AuditLog.id))
        ),
    )


def _checks(b: Beneficiary) -> Iterator[TimelineItem]:
    registered = _utc(b.created_at)
    yield TimelineItem(at=registered, kind=TimelineKind.REGISTERED)
    detail = b.detail or {}
    if isinstance(identity := detail.get("identity"), dict):
        reasons = list(identity.get("reasons") or [])
        at = _parsed(identity.get("at")) or registered  # checked before "at" was recorded
        yield TimelineItem(
            at=at, kind=TimelineKind.IDENTITY_CHECKED, detail={"passed": not reasons, "reasons": reasons}
        )
    if isinstance(eligibility := detail.get("eligibility"), dict):
        reasons = list(eligibility.get("reasons") or [])
        at = _parsed(eligibility.get("at")) or registered
        wave_id = eligibility.get("wave_id")
        checked = {"eligible": not reasons, "reasons": reasons, "wave_id": wave_id}
        yield TimelineItem(at=at, kind=TimelineKind.ELIGIBILITY_CHECKED, detail=checked)
        if not reasons:
            yield TimelineItem(at=at, kind=TimelineKind.POOLED, detail={"wave_id": wave_id})


def _draws(r: _Records) -> Iterator[TimelineItem]:
    awarded = {e.reference: _utc(e.created_at) for e in r.entries if e.kind == BalanceEntryKind.AWARD}
    for wave_id, selected, drawn_at in r.draws:
        # A wave is marked drawn after its last journey heard; a winner's award may come first.
        times = [t for t in (drawn_at and _utc(drawn_at), awarded.get(wave_id) if selected else None) if t]
        if times:  # else the draw is still telling its journeys: it shows once it is done
            yield TimelineItem(
                at=min(times), kind=TimelineKind.DRAWN, detail={"wave_id": wave_id, "selected": selected}
            )


def _balance(r: _Records) -> Iterator[TimelineItem]:
    cancellers = {row.detail.get("purchase_ref"): row.actor_id for row in r.calls(CANCEL_PURCHASE) if _ok(row)}
    courses = {p.purchase_ref: p.course_id for p in r.purchases}
    for e in r.entries:
        at = _utc(e.created_at)
        if e.kind == BalanceEntryKind.AWARD:
            detail: Detail = {"amount": e.amount, "profile": r.beneficiary.profile, "wave_id": e.reference}
            yield TimelineItem(at=at, kind=TimelineKind.AWARDED, detail=detail)
        elif e.kind == BalanceEntryKind.REFUND:
            detail = {"purchase_ref": e.reference, "course_id": courses.get(e.reference), "amount": e.amount}
            yield TimelineItem(
                at=at, kind=TimelineKind.PURCHASE_CANCELLED, detail=detail, actor=cancellers.get(e.reference)
            )
        elif e.kind == BalanceEntryKind.TREASURY_RETURN:
            reason = "PURCHASE_CANCELLED" if e.reference.startswith("cancel:") else _RETURN_REASONS.get(e.reference)
            detail = {"amount": -e.amount, "reason": reason or e.reference}
            yield TimelineItem(at=at, kind=TimelineKind.BALANCE_RETURNED, detail=detail)


def _training(r: _Records) -> Iterator[TimelineItem]:
    reported = _first_by_purchase(row for row in r.calls(COMPLETION) if _ok(row))
    reviews = [row for row in r.calls(REVIEW) if _ok(row)]
    reviewed = {row.detail.get("purchase_ref") for row in reviews}
    for p in r.purchases:
        ids: Detail = {"purchase_ref": p.purchase_ref, "course_id": p.course_id}
        detail: Detail = {**ids, "price": p.price, "provider": p.provider_client_code}
        yield TimelineItem(
            at=_utc(p.created_at), kind=TimelineKind.PURCHASED, detail=detail, actor=p.marketplace_client_code
        )
        if p.completed_at is None:
            continue
        # Dated when the platform heard it; the partner's own date (which may be earlier) is in the detail.
        call = reported.get(p.purchase_ref)
        at, actor = (_utc(call.at), call.actor_id) if call else (_utc(p.completed_at), p.provider_client_code)
        detail = {**ids, "completed_at": _utc(p.completed_at).isoformat()}
        yield TimelineItem(at=at, kind=TimelineKind.COMPLETED, detail=detail, actor=actor)
        if p.review_rating is not None and p.purchase_ref not in reviewed:  # an audit row without `resource`
            yield TimelineItem(at=at, kind=TimelineKind.REVIEWED, detail={**ids, "rating": p.review_rating})
    ratings: dict[str | None, tuple[str | None, int | None]] = {
        p.purchase_ref: (p.course_id, p.review_rating) for p in r.purchases
    }
    for row in reviews:
        course_id, rating = ratings.get(row.detail.get("purchase_ref"), (None, None))
        detail = {"purchase_ref": row.detail.get("purchase_ref"), "course_id": course_id, "rating": rating}
        yield TimelineItem(at=_utc(row.at), kind=TimelineKind.REVIEWED, detail=detail)


def _first_by_purchase(rows: Iterable[AuditLog]) -> dict[Any, AuditLog]:
    first: dict[Any, AuditLog] = {}
    for row in rows:
        first.setdefault(row.detail.get("purchase_ref"), row)
    return first


def _accounts(r: _Records) -> Iterator[TimelineItem]:
    """Links the beneficiary asked for: verified, or refused by the partner's e-KYC with its reason."""
    for row in r.calls(LINK_ACCOUNT):
        if _ok(row):
            detail: Detail = {"verified": True, "partner": row.detail.get("partner_client_code")}
        elif row.detail.get("code") == ProblemCode.EKYC_FAILED:
            detail = {"verified": False, "reason": row.detail.get("reason")}
        else:
            continue  # refused before any partner looked at it (not awarded yet, malformed)
        yield TimelineItem(at=_utc(row.at), kind=TimelineKind.ACCOUNT_LINKED, detail=detail)


def _payments(r: _Records) -> Iterator[TimelineItem]:
    payments = {p.payment_id: p for p in r.payments}
    for a in sorted(r.attempts, key=lambda a: a.created_at):
        p = payments[a.payment_id]
        ids: Detail = {
            "payment_id": p.payment_id,
            "kind": p.kind,
            "number": p.number,
            "attempt": _attempt_no(a.attempt_id),
        }
        sent: Detail = {**ids, "partner": a.partner_client_code, "account": mask(a.account_number), "amount": a.amount}
        yield TimelineItem(at=_utc(a.created_at), kind=TimelineKind.PAYMENT_ATTEMPTED, detail=sent)
        if a.resolved_at is None:
            continue
        at, partner = _utc(a.resolved_at), a.partner_client_code
        if a.status == AttemptStatus.SUCCEEDED:
            yield TimelineItem(
                at=at, kind=TimelineKind.PAYMENT_PAID, detail={**sent, "reason": a.reason}, actor=partner
            )
        else:  # FAILED (LATE_SUCCEEDED: failed, then reported paid after the payment had settled otherwise)
            held: Detail = {
                **ids,
                "partner": partner,
                "reason": a.reason,
                "late_success": a.status == AttemptStatus.LATE_SUCCEEDED,
            }
            yield TimelineItem(at=at, kind=TimelineKind.PAYMENT_ON_HOLD, detail=held, actor=partner)
    for p in r.payments:
        if p.status == PaymentStatus.CANCELLED:
            detail: Detail = {
                "payment_id": p.payment_id,
                "kind": p.kind,
                "number": p.number,
                "amount": p.amount,
                "reason": p.reason,
            }
            yield TimelineItem(at=_utc(p.updated_at), kind=TimelineKind.PAYMENT_CANCELLED, detail=detail)
    for row in r.audit:
        # Support's retry, from the JSON API or a console form: a staff write on a payment ending in /retry.
        if row.actor_kind == "staff" and _ok(row) and row.action.endswith("/retry") and "payment_id" in row.detail:
            detail = {"payment_id": row.detail["payment_id"], "partner": row.detail.get("partner_client_code")}
            yield TimelineItem(at=_utc(row.at), kind=TimelineKind.PAYMENT_RETRIED, detail=detail, actor=row.actor_id)


def _attempt_no(attempt_id: str) -> int | None:
    number = attempt_id.rpartition("-A")[2]
    return int(number) if number.isdigit() else None


def _surveys(r: _Records) -> Iterator[TimelineItem]:
    for s in r.surveys:
        yield TimelineItem(
            at=_utc(s.submitted_at), kind=TimelineKind.SURVEY_SUBMITTED, detail={"survey_no": s.survey_no}
        )


def _ending(r: _Records) -> Iterator[TimelineItem]:
    b, claw = r.beneficiary, r.clawback
    events = [row for row in r.calls(LIFE_EVENT) if _ok(row)]
    for row in events:  # the registry's call: the event's code and date, never the NIK it named
        detail: Detail = {"event": row.detail.get("event"), "occurred_on": row.detail.get("occurred_on")}
        yield TimelineItem(at=_utc(row.at), kind=TimelineKind.LIFE_EVENT, detail=detail, actor=row.actor_id)
    if claw is not None:
        detail = {"amount": claw.amount, "payment_ids": [str(i) for i in claw.payment_ids], "reason": claw.reason}
        yield TimelineItem(at=_utc(claw.created_at), kind=TimelineKind.CLAWBACK_RECORDED, detail=detail)
    if b.status != JourneyStatus.REVOKED:
        return
    # Dated by the operator's (or the civil registry's) call when there was one (it precedes everything the
    # revocation caused), else by what the revocation itself wrote; the operator's note is free text and stays out.
    call = next(
        (row for row in r.audit if row.actor_kind == "staff" and _ok(row) and row.action.endswith("/revoke")), None
    )
    if call is None and set(b.reasons or []) & {row.detail.get("event") for row in events}:
        call = events[0]  # revoked for the civil registry's event
    written = [_utc(e.created_at) for e in r.entries if e.reference == "revocation"]
    written += [_utc(claw.created_at)] if claw else []
    at = _utc(call.at) if call else min(written, default=_utc(b.updated_at))
    detail = {"reasons": list(b.reasons or [])}
    yield TimelineItem(at=at, kind=TimelineKind.REVOKED, detail=detail, actor=call.actor_id if call else None)
