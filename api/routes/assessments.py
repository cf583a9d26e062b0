"""Course submissions (signed marketplaces) and their assessment by operators: decide, list, withdraw."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from pydantic.json_schema import JsonDict

from api.audit import add_audit_detail
from api.deps import MarketplaceDep, OperatorDep, SessionDep, SettingsDep, TemporalDep
from api.errors import problem_responses
from api.routes.admin import MAX_PRICE
from api.schemas import WHITESPACE
from core.catalogue import AssessmentStatus, CourseStatus, Decision
from services import assessments

router = APIRouter(prefix="/v1", tags=["catalogue"], responses=problem_responses(401, 403, 404, 409, 422))

CODE = r"^[A-Za-z0-9_-]{1,64}$"


class SubmitCourseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    course_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=5000)
    provider_client_code: str = Field(min_length=1, max_length=64)
    price: Annotated[StrictInt, Field(gt=0, le=MAX_PRICE, description="Integer rupiah.")]
    category: str = Field(pattern=CODE)
    mode: str = Field(pattern=r"^(ONLINE|OFFLINE)$")
    province: str | None = Field(None, min_length=1, max_length=64)
    duration_hours: StrictInt = Field(gt=0, le=10_000)


class SubmittedResponse(BaseModel):
    course_id: str
    status: str = "SUBMITTED"
    submission_no: int


@router.post("/partners/courses", status_code=status.HTTP_202_ACCEPTED)
async def submit_course(
    body: SubmitCourseRequest,
    partner: MarketplaceDep,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    request: Request,
) -> SubmittedResponse:
    """Submit a course (or a new version of a rejected one) for assessment; 409 while it is pending or approved."""
    add_audit_detail(request, course_id=body.course_id)
    cmd = assessments.SubmitCourse(**body.model_dump(), marketplace_client_code=partner.client_code)
    sla_seconds = settings.assessment_sla_days * 86400 / settings.time_scale
    done = await assessments.submit_course(session, client, settings.task_queue, sla_seconds, cmd)
    add_audit_detail(request, submission_no=done.submission_no)
    return SubmittedResponse(course_id=done.course_id, submission_no=done.submission_no)


class AssessmentView(BaseModel):
    course_id: str
    submission_no: int
    title: str
    provider_client_code: str
    submitted_by: str = Field(description="The marketplace that submitted it.")
    status: AssessmentStatus
    flag: str | None = Field(None, description="`OVERDUE` once pending past PRAKERJA_ASSESSMENT_SLA_DAYS.")
    submitted_at: datetime
    due_at: datetime
    overdue_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    reasons: list[str]
    course_status: CourseStatus


class AssessmentList(BaseModel):
    items: list[AssessmentView]
    next_cursor: str | None


def _view(row: assessments.QueueRow) -> AssessmentView:
    a, c = row.assessment, row.course
    return AssessmentView(
        course_id=a.course_id,
        submission_no=a.submission_no,
        title=c.title,
        provider_client_code=c.provider_client_code,
        submitted_by=a.submitted_by,
        status=AssessmentStatus(a.status),
        flag="OVERDUE" if a.overdue_at is not None and a.status == AssessmentStatus.PENDING else None,
        submitted_at=a.submitted_at,
        due_at=a.due_at,
        overdue_at=a.overdue_at,
        decided_by=a.decided_by,
        decided_at=a.decided_at,
        reasons=list(a.reasons or []),
        course_status=CourseStatus(c.status),
    )


@router.get("/assessments")
async def list_assessments(
    _: OperatorDep,
    session: SessionDep,
    status: AssessmentStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> AssessmentList:
    """Submissions, oldest first, by status; a pending one past the SLA carries `flag: OVERDUE`."""
    rows, next_cursor = await assessments.assessment_queue(session, status, limit, cursor)
    return AssessmentList(items=[_view(r) for r in rows], next_cursor=next_cursor)


# A rejection states its reasons (422 REASONS_REQUIRED otherwise, from the service): said in the schema too.
_REJECTION_NEEDS_REASONS: JsonDict = {
    "if": {"properties": {"decision": {"const": Decision.REJECTED.value}}, "required": ["decision"]},
    "then": {"properties": {"reasons": {"minItems": 1}}, "required": ["reasons"]},
}


class DecisionRequest(BaseModel):
    # A reason of whitespace only is none: stripped, it is empty.
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, regex_engine="python-re", json_schema_extra=_REJECTION_NEEDS_REASONS
    )
    decision: Decision
    reasons: list[Annotated[str, Field(min_length=1, max_length=500, pattern=f"[^{WHITESPACE}]")]] = Field(
        default_factory=list, max_length=20
    )


class DecisionResponse(BaseModel):
    course_id: str
    submission_no: int
    status: AssessmentStatus
    reasons: list[str]
    decided_by: str
    decided_at: datetime
    overdue: bool


@router.post("/assessments/{course_id}/decision")
async def decide(
    course_id: str, body: DecisionRequest, who: OperatorDep, session: SessionDep, client: TemporalDep, request: Request
) -> DecisionResponse:
    """Approve the course's pending submission (it goes on sale) or reject it with reasons (it may be resubmitted)."""
    add_audit_detail(request, course_id=course_id, decision=body.decision.value)
    done = await assessments.decide(session, client, course_id, body.decision, body.reasons, who.staff_id)
    return DecisionResponse(
        course_id=done.course_id,
        submission_no=done.submission_no,
        status=AssessmentStatus(done.decision.value),
        reasons=done.reasons,
        decided_by=done.decided_by,
        decided_at=done.decided_at,
        overdue=done.overdue,
    )


class WithdrawResponse(BaseModel):
    course_id: str
    status: CourseStatus


@router.post("/assessments/{course_id}/withdraw")
async def withdraw(course_id: str, _: OperatorDep, session: SessionDep, request: Request) -> WithdrawResponse:
    """Take an approved course off sale: no new purchases; trainings already bought continue."""
    add_audit_detail(request, course_id=course_id)
    course = await assessments.withdraw(session, course_id)
    return WithdrawResponse(course_id=course.course_id, status=CourseStatus(course.status))
