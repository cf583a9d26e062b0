"""Marketplace and training-provider endpoints: purchases (updates), cancellations, completions (signals)."""

import asyncio
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update

from api import journeys
from api.audit import add_audit_detail
from api.deps import MarketplaceDep, MarketplaceOrProviderDep, SessionDep, TemporalDep
from api.errors import ProblemError, problem_responses
from core.contracts import CancelPurchaseResult, CancelPurchaseUpdate, CompletionSignal, PurchaseResult, PurchaseUpdate
from core.domain import JourneyStatus, PartnerKind, PurchaseStatus
from core.problems import ProblemCode
from db.models import Beneficiary, Course, Purchase
from services.assessments import on_sale
from workflows.journey import BeneficiaryJourney

router = APIRouter(prefix="/v1/partners", tags=["partner"], responses=problem_responses(401, 403, 404, 409, 422))

AWARD_GAP_RETRIES = 10
REF = r"^[A-Za-z0-9._:-]{1,128}$"


class PurchaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prakerja_number: str = Field(pattern=r"^\d{16}$")
    course_id: str = Field(min_length=1, max_length=64)
    purchase_ref: str = Field(pattern=REF)


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purchase_ref: str = Field(pattern=REF)
    certificate_number: str = Field(min_length=1, max_length=128)
    completed_at: AwareDatetime  # RFC 3339: a time without an offset is ambiguous

    @field_validator("completed_at")
    @classmethod
    def _storable(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)  # stored in UTC: 9999-12-31T23:59:59-14:00 has no UTC form
        except OverflowError:
            raise ValueError("completed_at is out of range") from None


class CompletionResponse(BaseModel):
    purchase_ref: str
    status: PurchaseStatus


@router.post("/purchases", status_code=status.HTTP_201_CREATED)
async def purchase(
    body: PurchaseRequest, partner: MarketplaceDep, session: SessionDep, client: TemporalDep, request: Request
) -> PurchaseResult:
    """Buy a course with a card's training balance. Repeating a purchase_ref returns the same body, one debit."""
    add_audit_detail(request, purchase_ref=body.purchase_ref)  # refused calls too
    course = await session.get(Course, body.course_id)
    if course is None:
        raise ProblemError(404, ProblemCode.COURSE_NOT_FOUND, f"No course {body.course_id} in the catalogue.")
    beneficiary = await session.scalar(select(Beneficiary).where(Beneficiary.prakerja_number == body.prakerja_number))
    if beneficiary is None:
        raise ProblemError(404, ProblemCode.CARD_NOT_FOUND, "No card with that number.")
    add_audit_detail(request, registration_id=beneficiary.registration_id)
    existing = await session.get(Purchase, body.purchase_ref)
    if existing is not None and (existing.registration_id, existing.course_id, existing.marketplace_client_code) != (
        beneficiary.registration_id,
        body.course_id,
        partner.client_code,
    ):
        raise ProblemError(
            409, ProblemCode.PURCHASE_REF_CONFLICT, "purchase_ref was already used for another purchase."
        )
    if beneficiary.status == JourneyStatus.REVOKED:
        raise ProblemError(409, ProblemCode.REVOKED, "The card is revoked.")
    if existing is None:  # a repeat of a purchase made before a withdrawal still gets its 201
        on_sale(course)  # 409 COURSE_NOT_APPROVED
    order = PurchaseUpdate(
        purchase_ref=body.purchase_ref,
        course_id=course.course_id,
        price=course.price,
        marketplace_client_code=partner.client_code,
        provider_client_code=course.provider_client_code,
    )
    # Idempotency lives in the journey (keyed by purchase_ref, under its money lock), not in the update id:
    # Temporal would also replay a cached refusal (say INSUFFICIENT_BALANCE) after a cancel freed balance.
    for attempt in range(AWARD_GAP_RETRIES):
        update_id = f"purchase-{body.purchase_ref}-{uuid.uuid4().hex}"
        try:
            return await journeys.update(
                client, beneficiary.registration_id, BeneficiaryJourney.purchase, order, update_id
            )
        except ProblemError as err:
            # The card exists (the award activity wrote it) but the journey has not applied the award yet:
            # a gap of one workflow task, so try again shortly instead of refusing the marketplace.
            if err.code != ProblemCode.NOT_AWARDED or attempt == AWARD_GAP_RETRIES - 1:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


async def _purchase_for(session: SessionDep, purchase_ref: str) -> Purchase:
    purchase = await session.get(Purchase, purchase_ref)
    if purchase is None:
        raise ProblemError(404, ProblemCode.PURCHASE_NOT_FOUND, f"No purchase {purchase_ref}.")
    return purchase


@router.post("/purchases/{purchase_ref}/cancel")
async def cancel(
    purchase_ref: str, partner: MarketplaceDep, session: SessionDep, client: TemporalDep, request: Request
) -> CancelPurchaseResult:
    """The selling marketplace cancels a purchase not yet completed; the price is refunded once."""
    purchase = await _purchase_for(session, purchase_ref)
    if purchase.marketplace_client_code != partner.client_code:
        raise ProblemError(403, ProblemCode.FORBIDDEN_PARTNER, "Only the selling marketplace may cancel this purchase.")
    add_audit_detail(request, purchase_ref=purchase_ref, registration_id=purchase.registration_id)
    if purchase.status == PurchaseStatus.COMPLETED:
        raise ProblemError(409, ProblemCode.PURCHASE_COMPLETED, "A completed training cannot be cancelled.")
    return await journeys.update(
        client,
        purchase.registration_id,
        BeneficiaryJourney.cancel_purchase,
        CancelPurchaseUpdate(purchase_ref=purchase_ref),
        f"cancel-{purchase_ref}",
    )


@router.post("/completions")
async def complete(
    body: CompletionRequest,
    partner: MarketplaceOrProviderDep,
    session: SessionDep,
    client: TemporalDep,
    request: Request,
) -> CompletionResponse:
    """The selling marketplace or the course's provider reports a completed training. Repeats change nothing."""
    add_audit_detail(request, purchase_ref=body.purchase_ref)  # refused calls too
    purchase = await _purchase_for(session, body.purchase_ref)
    seller = partner.kind == PartnerKind.MARKETPLACE and purchase.marketplace_client_code == partner.client_code
    provider = partner.kind == PartnerKind.TRAINING_PROVIDER and purchase.provider_client_code == partner.client_code
    if not (seller or provider):
        raise ProblemError(
            403, ProblemCode.FORBIDDEN_PARTNER, "Only the selling marketplace or the course's provider may report this."
        )
    add_audit_detail(request, registration_id=purchase.registration_id)
    if purchase.status == PurchaseStatus.CANCELLED:
        raise ProblemError(409, ProblemCode.PURCHASE_CANCELLED, "The purchase was cancelled.")
    repeat = purchase.status == PurchaseStatus.COMPLETED
    beneficiary = await session.get(Beneficiary, purchase.registration_id)
    if not repeat and beneficiary is not None and beneficiary.status == JourneyStatus.REVOKED:
        raise ProblemError(409, ProblemCode.REVOKED, "The card is revoked.")
    await session.execute(
        update(Purchase)
        .where(Purchase.purchase_ref == body.purchase_ref, Purchase.status == PurchaseStatus.PURCHASED)
        .values(
            status=PurchaseStatus.COMPLETED, certificate_number=body.certificate_number, completed_at=body.completed_at
        )
    )
    await session.commit()
    # A cancellation may have landed between the read above and this write: then nothing was completed.
    now = await session.scalar(select(Purchase.status).where(Purchase.purchase_ref == body.purchase_ref))
    if now == PurchaseStatus.CANCELLED:
        raise ProblemError(409, ProblemCode.PURCHASE_CANCELLED, "The purchase was cancelled.")
    # Sent on repeats too: the journey applies it once per purchase_ref, and a lost first signal is healed.
    signal = CompletionSignal(
        purchase_ref=body.purchase_ref, certificate_number=body.certificate_number, completed_at=body.completed_at
    )
    try:
        await journeys.signal(client, purchase.registration_id, BeneficiaryJourney.completion, signal)
    except ProblemError as err:
        # A repeat after the journey ended changes nothing either way: still the same 200.
        if not (repeat and err.code == ProblemCode.JOURNEY_FINISHED):
            raise
    return CompletionResponse(purchase_ref=body.purchase_ref, status=PurchaseStatus.COMPLETED)
