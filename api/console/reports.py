"""Console page of the payment-partner SLA report (support, operators): the same service as
`GET /v1/reports/payment-partners`, for a date range picked on the page."""

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from api.console.pages import REDIRECTS, STAFF_PAGES, ConsoleDep, guard, render, rupiah
from api.console.query import page_query
from api.deps import SnapshotDep
from core.problems import ProblemCode
from services.errors import Refused
from services.reports import PartnerSla, payment_partner_sla, report_range

router = APIRouter(prefix="/console", tags=["console"], dependencies=[Depends(page_query)], responses=REDIRECTS)


@router.get("/reports/payment-partners", response_class=HTMLResponse)
async def partner_report(
    page: ConsoleDep,
    snapshot: SnapshotDep,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """Per payment partner: attempts, success rate, p50/p95 time to the final status, pending (and past the SLA
    age), on hold and rupiah paid, for payments first attempted between two UTC days."""
    if (refused := guard(page, *STAFF_PAGES)) is not None:
        return refused
    error = None
    try:
        first, last = report_range(_day(start), _day(end), datetime.now(UTC).date())
    except Refused:
        error = page.t("report.invalid_range")
        first, last = report_range(None, None, datetime.now(UTC).date())
    sla_s = page.settings.payment_sla_s / page.settings.time_scale
    rows = await payment_partner_sla(snapshot, first, last, sla_s)
    notice = {"kind": "error" if error else None, "text": error}
    values: dict[str, Any] = {"rows": [_row(r) for r in rows], "start": first.isoformat(), "end": last.isoformat()}
    return render(page, "partner_report.html", notice=notice, sla=_duration(sla_s), **values)


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refused(422, ProblemCode.INVALID_RANGE, "not a date") from None


def _row(r: PartnerSla) -> dict[str, str | int]:
    return {
        "partner": r.partner_client_code,
        "attempts": r.attempts,
        "succeeded": r.succeeded,
        "failed": r.failed,
        "success_rate": "" if r.success_rate is None else f"{r.success_rate * 100:.1f} %",
        "p50": _duration(r.p50_seconds_to_final),
        "p95": _duration(r.p95_seconds_to_final),
        "pending": r.pending,
        "pending_over_sla": r.pending_over_sla,
        "on_hold": r.on_hold,
        "paid": rupiah(r.paid_rupiah),
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
