"""Marketplace and training-provider endpoints: purchases (updates), cancellations, completions (signals)."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from api.audit import add_audit_detail
from api.deps import MarketplaceDep, MarketplaceOrProviderDep, SessionDep, TemporalDep
from api.errors import problem_responses
from core.contracts import CancelPurchaseResult, PurchaseResult
from core.domain import PurchaseStatus
from services import purchases

router = APIRouter(prefix="/v1/partners", tags=["partner"], responses=problem_responses(401, 403, 404, 409, 422))

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
    cmd = purchases.Buy(body.prakerja_number, body.course_id, body.purchase_ref, partner.client_code)
    plan = await purchases.plan_purchase(session, cmd)
    add_audit_detail(request, registration_id=plan.registration_id)
    return await purchases.execute_purchase(session, client, plan)


@router.post("/purchases/{purchase_ref}/cancel")
async def cancel(
    purchase_ref: str, partner: MarketplaceDep, session: SessionDep, client: TemporalDep, request: Request
) -> CancelPurchaseResult:
    """The selling marketplace cancels a purchase not yet completed; the price is refunded once."""
    bought = await purchases.plan_cancel(session, purchases.Cancel(purchase_ref, partner.client_code))
    add_audit_detail(request, purchase_ref=purchase_ref, registration_id=bought.registration_id)
    return await purchases.execute_cancel(client, bought)


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
    cmd = purchases.Complete(
        body.purchase_ref, body.certificate_number, body.completed_at, partner.client_code, partner.kind
    )
    bought = await purchases.plan_completion(session, cmd)
    add_audit_detail(request, registration_id=bought.registration_id)
    await purchases.execute_completion(session, client, bought, cmd)
    return CompletionResponse(purchase_ref=body.purchase_ref, status=PurchaseStatus.COMPLETED)
