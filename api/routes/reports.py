"""Programme office: the payment-partner SLA report (operators and support)."""

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import SettingsDep, SnapshotDep, SupportOrOperatorDep
from api.errors import problem_responses
from api.schemas import IsoDay
from services.reports import payment_partner_sla, report_range

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=problem_responses(401, 403, 422))


class PartnerSlaItem(BaseModel):
    partner_client_code: str
    attempts: int = Field(description="Attempts sent to this partner in the range.")
    succeeded: int
    failed: int
    success_rate: float | None = Field(description="succeeded / (succeeded + failed); null before any answer.")
    p50_seconds_to_final: float | None = Field(description="Median time from a payment's first attempt to PAID/FAILED.")
    p95_seconds_to_final: float | None
    pending: int = Field(description="Payments first attempted in the range, PENDING now.")
    pending_over_sla: int = Field(description="Of those, pending longer than PRAKERJA_PAYMENT_SLA_S (time-scaled).")
    on_hold: int
    paid_rupiah: int


class PartnerSlaReport(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    sla_seconds: float
    items: list[PartnerSlaItem]


@router.get("/payment-partners", response_model=PartnerSlaReport, response_model_by_alias=True)
async def payment_partners_report(
    snapshot: SnapshotDep,
    settings: SettingsDep,
    staff: SupportOrOperatorDep,
    start: Annotated[
        IsoDay | None, Query(alias="from", description="First UTC day (default: 6 days before `to`)")
    ] = None,
    end: Annotated[IsoDay | None, Query(alias="to", description="Last UTC day, included (default: today)")] = None,
) -> PartnerSlaReport:
    """Per payment partner, for payments first attempted in [from, to]: attempts, success rate, p50/p95 seconds
    from the first attempt to the final status, pending (and pending past the SLA age), on hold, rupiah paid."""
    start, end = report_range(start, end, datetime.now(UTC).date())
    sla_s = settings.payment_sla_s / settings.time_scale
    rows = await payment_partner_sla(snapshot, start, end, sla_s)
    items = [PartnerSlaItem.model_validate(row, from_attributes=True) for row in rows]
    return PartnerSlaReport.model_validate({"from": start, "to": end, "sla_seconds": sla_s, "items": items})
