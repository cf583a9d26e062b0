"""Console page of the operators' course assessment queue: the same services as `GET /v1/assessments`,
`POST /v1/assessments/{course_id}/decision` and `.../withdraw`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, Response

from api.audit import add_audit_detail
from api.console.pages import (
    REDIRECTS,
    Console,
    ConsoleDep,
    CsrfField,
    MaybeTemporal,
    back_to,
    connected,
    error_params,
    guard,
    notice,
    refuse_post,
    render,
    rupiah,
)
from api.console.query import outcome_query, page_query
from api.deps import SessionDep
from core.catalogue import AssessmentStatus, CourseStatus, Decision
from core.domain import Role
from core.problems import ProblemCode
from services import assessments
from services.errors import Refused

router = APIRouter(prefix="/console", tags=["console"], dependencies=[Depends(page_query)], responses=REDIRECTS)
QUEUE = "/console/assessments"
PAGE_SIZE = 50


@router.get("/assessments", response_class=HTMLResponse, dependencies=[Depends(outcome_query)])
async def queue(
    page: ConsoleDep,
    session: SessionDep,
    status: Annotated[AssessmentStatus, Query()] = AssessmentStatus.PENDING,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """Submissions by status, oldest first, overdue ones flagged; approve or reject a pending one, withdraw an
    approved course (operators)."""
    if (refused := guard(page, Role.OPERATOR)) is not None:
        return refused
    try:
        rows, next_cursor = await assessments.assessment_queue(session, status, PAGE_SIZE, cursor)
    except Refused:
        rows, next_cursor = await assessments.assessment_queue(session, status, PAGE_SIZE)
    return render(
        page,
        "assessments.html",
        rows=[_row(r) for r in rows],
        current=status.value,
        statuses=[s.value for s in AssessmentStatus],
        next_url=f"{QUEUE}?status={status.value}&cursor={next_cursor}" if next_cursor else None,
        notice=notice(page),
    )


def _row(row: assessments.QueueRow) -> dict[str, object]:
    a, c = row.assessment, row.course
    pending = a.status == AssessmentStatus.PENDING
    return {
        "course_id": a.course_id,
        "submission_no": a.submission_no,
        "title": c.title,
        "provider": c.provider_client_code,
        "marketplace": a.submitted_by,
        "price": rupiah(c.price),
        "category": c.category,
        "mode": c.mode,
        "submitted_at": a.submitted_at.strftime("%Y-%m-%d %H:%M"),
        "due_at": a.due_at.strftime("%Y-%m-%d %H:%M"),
        "overdue": pending and a.overdue_at is not None,
        "decided": f"{a.decided_by} {a.decided_at:%Y-%m-%d %H:%M}" if a.decided_at else "",
        "reasons": "; ".join(a.reasons or []),
        "pending": pending,
        "withdrawable": a.status == AssessmentStatus.APPROVED and c.status == CourseStatus.APPROVED,
        "course_status": c.status,
    }


@router.post("/assessments/{course_id}/decision", response_class=HTMLResponse)
async def decide(
    page: ConsoleDep,
    session: SessionDep,
    client: MaybeTemporal,
    course_id: str,
    csrf_field: CsrfField = "",
    decision: Annotated[str, Form(max_length=16)] = "",
    reasons: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Approve, or reject with reasons (one per line): the same service as the JSON API."""
    if (refused := _may_post(page, csrf_field)) is not None:
        return refused
    assert page.staff is not None
    if decision not in Decision.__members__:
        return back_to(QUEUE, error=ProblemCode.INVALID_INPUT, reason="DECISION")
    lines = [line.strip()[:500] for line in reasons.splitlines() if line.strip()][:20]
    add_audit_detail(page.request, course_id=course_id, decision=decision)
    try:
        await assessments.decide(session, connected(client), course_id, Decision(decision), lines, page.staff.staff_id)
    except Refused as refusal:
        return back_to(QUEUE, **error_params(page, refusal))
    return back_to(QUEUE, outcome=f"COURSE_{decision}")


@router.post("/assessments/{course_id}/withdraw", response_class=HTMLResponse)
async def withdraw(page: ConsoleDep, session: SessionDep, course_id: str, csrf_field: CsrfField = "") -> Response:
    """Take an approved course off sale (bought trainings continue)."""
    if (refused := _may_post(page, csrf_field)) is not None:
        return refused
    add_audit_detail(page.request, course_id=course_id)
    try:
        await assessments.withdraw(session, course_id)
    except Refused as refusal:
        return back_to(QUEUE, status="APPROVED", **error_params(page, refusal))
    return back_to(QUEUE, status="APPROVED", outcome="COURSE_WITHDRAWN")


def _may_post(page: Console, csrf_field: str) -> Response | None:
    return refuse_post(page, csrf_field, Role.OPERATOR)
