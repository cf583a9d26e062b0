"""Signed-request probe: lets a partner check its HMAC signing before calling real endpoints."""

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import PartnerDep
from api.errors import problem_responses
from core.domain import PartnerKind

router = APIRouter(prefix="/v1/partners", tags=["partner"], responses=problem_responses(401))


class PartnerView(BaseModel):
    client_code: str
    kind: PartnerKind
    name: str


@router.get("/me")
async def partner_me(partner: PartnerDep) -> PartnerView:
    """The calling partner as the platform knows it (signed like every partner call)."""
    return PartnerView(client_code=partner.client_code, kind=partner.kind, name=partner.name)
