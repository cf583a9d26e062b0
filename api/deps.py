"""`Annotated` dependency aliases: what a route handler may ask for."""

from typing import Annotated

import httpx
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.auth import (
    AuthenticatedPartner,
    Staff,
    current_beneficiary,
    current_beneficiary_in_snapshot,
    current_partner,
    current_staff,
    current_staff_or_cookie,
    require_partner,
    require_role,
)
from api.context import AppContext, get_ctx, get_session, get_settings, get_snapshot, get_temporal
from core.domain import PartnerKind, Role
from core.settings import Settings
from db.models import Beneficiary


def get_http(ctx: Annotated[AppContext, Depends(get_ctx)]) -> httpx.AsyncClient:
    return ctx.http


ContextDep = Annotated[AppContext, Depends(get_ctx)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
SnapshotDep = Annotated[AsyncSession, Depends(get_snapshot)]  # read-only, one consistent state
TemporalDep = Annotated[Client, Depends(get_temporal)]  # 503 TEMPORAL_UNAVAILABLE while unreachable
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]

# Staff (admin passes every role check).
StaffDep = Annotated[Staff, Depends(current_staff)]
StaffOrCookieDep = Annotated[Staff, Depends(current_staff_or_cookie)]
AdminDep = Annotated[Staff, Depends(require_role(Role.ADMIN))]
OperatorDep = Annotated[Staff, Depends(require_role(Role.OPERATOR))]
SupportDep = Annotated[Staff, Depends(require_role(Role.SUPPORT))]
SupportOrOperatorDep = Annotated[Staff, Depends(require_role(Role.SUPPORT, Role.OPERATOR))]

BeneficiaryDep = Annotated[Beneficiary, Depends(current_beneficiary)]
# For a view read from SnapshotDep: the token is looked up in the same snapshot (one connection, one read).
SnapshotBeneficiaryDep = Annotated[Beneficiary, Depends(current_beneficiary_in_snapshot)]

# Signed partners, any kind or one kind.
PartnerDep = Annotated[AuthenticatedPartner, Depends(current_partner)]
MarketplaceDep = Annotated[AuthenticatedPartner, Depends(require_partner(PartnerKind.MARKETPLACE))]
TrainingProviderDep = Annotated[AuthenticatedPartner, Depends(require_partner(PartnerKind.TRAINING_PROVIDER))]
PaymentPartnerDep = Annotated[AuthenticatedPartner, Depends(require_partner(PartnerKind.PAYMENT))]
CivilRegistryDep = Annotated[AuthenticatedPartner, Depends(require_partner(PartnerKind.CIVIL_REGISTRY))]
MarketplaceOrProviderDep = Annotated[
    AuthenticatedPartner, Depends(require_partner(PartnerKind.MARKETPLACE, PartnerKind.TRAINING_PROVIDER))
]
