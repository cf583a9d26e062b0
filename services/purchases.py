"""A marketplace's purchases and cancellations, and a partner's report of a completed training.

Each use case comes in two steps, like support's retry: the first finds what the request names and checks who
may ask (so the route can audit the registration it concerns, refused or not), the second checks the rules and
tells the journey.
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from core.contracts import CancelPurchaseResult, CancelPurchaseUpdate, CompletionSignal, PurchaseResult, PurchaseUpdate
from core.domain import JourneyStatus, PartnerKind, PurchaseStatus
from core.problems import ProblemCode
from db import projection
from db.models import Beneficiary, Course, Purchase
from services import journey_calls
from services.assessments import on_sale
from services.errors import Refused
from workflows.journey import BeneficiaryJourney

AWARD_GAP_RETRIES = 10
AWARD_GAP_PAUSE_S = 0.2


@dataclass(frozen=True)
class Buy:
    prakerja_number: str
    course_id: str
    purchase_ref: str
    marketplace_client_code: str


@dataclass(frozen=True)
class PurchasePlan:
    """The course and the card a purchase names, found."""

    cmd: Buy
    course: Course
    beneficiary: Beneficiary

    @property
    def registration_id(self) -> str:
        return self.beneficiary.registration_id


@dataclass(frozen=True)
class Cancel:
    purchase_ref: str
    marketplace_client_code: str


@dataclass(frozen=True)
class Complete:
    purchase_ref: str
    certificate_number: str
    completed_at: datetime
    partner_client_code: str
    partner_kind: PartnerKind


async def plan_purchase(session: AsyncSession, cmd: Buy) -> PurchasePlan:
    """Find the course (404 COURSE_NOT_FOUND) and the card (404 CARD_NOT_FOUND)."""
    course = await session.get(Course, cmd.course_id)
    if course is None:
        raise Refused(404, ProblemCode.COURSE_NOT_FOUND, f"No course {cmd.course_id} in the catalogue.")
    beneficiary = await session.scalar(select(Beneficiary).where(Beneficiary.prakerja_number == cmd.prakerja_number))
    if beneficiary is None:
        raise Refused(404, ProblemCode.CARD_NOT_FOUND, "No card with that number.")
    return PurchasePlan(cmd, course, beneficiary)


async def execute_purchase(session: AsyncSession, client: Client, plan: PurchasePlan) -> PurchaseResult:
    """Check the purchase_ref, the card and the course, then buy through the journey (which debits once per
    purchase_ref and refuses what the balance does not cover)."""
    cmd, course = plan.cmd, plan.course
    existing = await session.get(Purchase, cmd.purchase_ref)
    if existing is not None and (existing.registration_id, existing.course_id, existing.marketplace_client_code) != (
        plan.registration_id,
        cmd.course_id,
        cmd.marketplace_client_code,
    ):
        raise Refused(409, ProblemCode.PURCHASE_REF_CONFLICT, "purchase_ref was already used for another purchase.")
    if plan.beneficiary.status == JourneyStatus.REVOKED:
        raise Refused(409, ProblemCode.REVOKED, "The card is revoked.")
    if existing is None:  # a repeat of a purchase made before a withdrawal still gets its 201
        on_sale(course)  # 409 COURSE_NOT_APPROVED
    order = PurchaseUpdate(
        purchase_ref=cmd.purchase_ref,
        course_id=course.course_id,
        price=course.price,
        marketplace_client_code=cmd.marketplace_client_code,
        provider_client_code=course.provider_client_code,
    )
    return await purchase_once_awarded(client, plan.registration_id, order)


async def purchase_once_awarded(client: Client, registration_id: str, order: PurchaseUpdate) -> PurchaseResult:
    """Send the purchase update, retrying a NOT_AWARDED refusal for a moment: the card exists (the award
    activity wrote it) but the journey may not have applied the award yet, a gap of one workflow task, so try
    again shortly instead of refusing the marketplace."""
    for attempt in range(AWARD_GAP_RETRIES):
        # Idempotency lives in the journey (keyed by purchase_ref, under its money lock), not in the update id:
        # Temporal would also replay a cached refusal (say INSUFFICIENT_BALANCE) after a cancel freed balance.
        update_id = f"purchase-{order.purchase_ref}-{uuid.uuid4().hex}"
        try:
            return await journey_calls.update(client, registration_id, BeneficiaryJourney.purchase, order, update_id)
        except Refused as err:
            if err.code != ProblemCode.NOT_AWARDED or attempt == AWARD_GAP_RETRIES - 1:
                raise
            await asyncio.sleep(AWARD_GAP_PAUSE_S)
    raise AssertionError("unreachable")


async def purchase_for(session: AsyncSession, purchase_ref: str) -> Purchase:
    purchase = await session.get(Purchase, purchase_ref)
    if purchase is None:
        raise Refused(404, ProblemCode.PURCHASE_NOT_FOUND, f"No purchase {purchase_ref}.")
    return purchase


async def plan_cancel(session: AsyncSession, cmd: Cancel) -> Purchase:
    """Find the purchase (404) and check the caller sold it (403 FORBIDDEN_PARTNER)."""
    purchase = await purchase_for(session, cmd.purchase_ref)
    if purchase.marketplace_client_code != cmd.marketplace_client_code:
        raise Refused(403, ProblemCode.FORBIDDEN_PARTNER, "Only the selling marketplace may cancel this purchase.")
    return purchase


async def execute_cancel(client: Client, purchase: Purchase) -> CancelPurchaseResult:
    """Cancel through the journey (which refunds once); a completed training is 409 PURCHASE_COMPLETED."""
    if purchase.status == PurchaseStatus.COMPLETED:
        raise Refused(409, ProblemCode.PURCHASE_COMPLETED, "A completed training cannot be cancelled.")
    return await journey_calls.update(
        client,
        purchase.registration_id,
        BeneficiaryJourney.cancel_purchase,
        CancelPurchaseUpdate(purchase_ref=purchase.purchase_ref),
        f"cancel-{purchase.purchase_ref}",
    )


async def plan_completion(session: AsyncSession, cmd: Complete) -> Purchase:
    """Find the purchase (404) and check the caller sold it or provides its course (403 FORBIDDEN_PARTNER)."""
    purchase = await purchase_for(session, cmd.purchase_ref)
    seller = cmd.partner_kind == PartnerKind.MARKETPLACE and purchase.marketplace_client_code == cmd.partner_client_code
    provider = (
        cmd.partner_kind == PartnerKind.TRAINING_PROVIDER and purchase.provider_client_code == cmd.partner_client_code
    )
    if not (seller or provider):
        raise Refused(
            403, ProblemCode.FORBIDDEN_PARTNER, "Only the selling marketplace or the course's provider may report this."
        )
    return purchase


async def execute_completion(session: AsyncSession, client: Client, purchase: Purchase, cmd: Complete) -> None:
    """Mark the purchase completed (once: repeats change nothing) and tell the journey."""
    if purchase.status == PurchaseStatus.CANCELLED:
        raise Refused(409, ProblemCode.PURCHASE_CANCELLED, "The purchase was cancelled.")
    repeat = purchase.status == PurchaseStatus.COMPLETED
    beneficiary = await session.get(Beneficiary, purchase.registration_id)
    if not repeat and beneficiary is not None and beneficiary.status == JourneyStatus.REVOKED:
        raise Refused(409, ProblemCode.REVOKED, "The card is revoked.")
    surveys_from = await _mark_completed(session, cmd, purchase.registration_id)
    signal = CompletionSignal(
        purchase_ref=cmd.purchase_ref,
        certificate_number=cmd.certificate_number,
        completed_at=cmd.completed_at,
        surveys_from=surveys_from,
    )
    try:
        # Sent on repeats too: the journey applies it once per purchase_ref, and a lost first signal is healed.
        await journey_calls.signal(client, purchase.registration_id, BeneficiaryJourney.completion, signal)
    except Refused as err:
        # A repeat after the journey ended changes nothing either way: still the same answer.
        if not (repeat and err.code == ProblemCode.JOURNEY_FINISHED):
            raise
        return
    if surveys_from is not None:  # the journey knows: its survey windows may open to answers now
        await projection.record_survey_windows(session, purchase.registration_id)
        await session.commit()


async def _mark_completed(session: AsyncSession, cmd: Complete, registration_id: str) -> datetime | None:
    """Complete the purchase and, with the beneficiary's first completion, fix when its survey windows open (for
    journeys that take them from the API); that anchor for the journey's signal, or None."""
    # The beneficiary's row first, then the purchase's, in the order a revocation takes them (it voids open purchases
    # under the beneficiary's lock): the other order deadlocks with it on PostgreSQL. (SQLite ignores it; its write
    # lock, taken by the UPDATE below, orders the two.)
    await projection.held_status(session, registration_id)
    await session.execute(
        update(Purchase)
        .where(Purchase.purchase_ref == cmd.purchase_ref, Purchase.status == PurchaseStatus.PURCHASED)
        .values(
            status=PurchaseStatus.COMPLETED, certificate_number=cmd.certificate_number, completed_at=cmd.completed_at
        )
    )
    # In the same write: a cancellation may have landed between the caller's read and it, then nothing was completed.
    now = await session.scalar(select(Purchase.status).where(Purchase.purchase_ref == cmd.purchase_ref))
    if now == PurchaseStatus.CANCELLED:
        await session.rollback()
        raise Refused(409, ProblemCode.PURCHASE_CANCELLED, "The purchase was cancelled.")
    surveys_from = await projection.survey_anchor(session, registration_id, datetime.now(UTC))
    await session.commit()
    return surveys_from
