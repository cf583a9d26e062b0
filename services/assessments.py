"""Course assessment: marketplaces submit courses, operators decide (through the submission's workflow) or
withdraw approved ones. Only APPROVED courses are on sale."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.catalogue import (
    AssessmentDecision,
    AssessmentStatus,
    CourseStatus,
    DecideAssessmentUpdate,
    Decision,
    StartAssessmentInput,
    assessment_id,
)
from core.domain import PartnerKind
from core.problems import ProblemCode
from core.temporal import started
from db.models import Course, CourseAssessment, Partner
from db.session import rows_matched
from services.errors import Refused
from services.paging import decode_cursor, encode_cursor
from workflows.assessment import CourseAssessment as AssessmentWorkflow

RESUBMITTABLE = (CourseStatus.REJECTED, CourseStatus.WITHDRAWN)
ALREADY = {CourseStatus.PENDING: ProblemCode.COURSE_PENDING, CourseStatus.APPROVED: ProblemCode.COURSE_APPROVED}


@dataclass(frozen=True)
class SubmitCourse:
    course_id: str
    title: str
    description: str
    provider_client_code: str
    price: int
    category: str
    mode: str
    province: str | None
    duration_hours: int
    marketplace_client_code: str


@dataclass(frozen=True)
class Submitted:
    course_id: str
    submission_no: int
    workflow_id: str


async def submit_course(
    session: AsyncSession, client: Client, task_queue: str, sla_seconds: float, cmd: SubmitCourse
) -> Submitted:
    """A new course, or a new version of a rejected (or withdrawn) one: a new submission and its assessment."""
    provider = await session.get(Partner, cmd.provider_client_code)
    if provider is None or provider.kind != PartnerKind.TRAINING_PROVIDER:
        raise Refused(422, ProblemCode.UNKNOWN_PROVIDER, "provider_client_code is not a registered training provider.")
    course = await session.get(Course, cmd.course_id)
    previous = None if course is None else CourseStatus(course.status)
    if course is not None and course.marketplace_client_code != cmd.marketplace_client_code:
        raise Refused(409, ProblemCode.COURSE_EXISTS, f"Course {cmd.course_id} belongs to another seller.")
    if previous is not None and previous not in RESUBMITTABLE:
        raise Refused(409, ALREADY[previous], f"Course {cmd.course_id} is {previous}: nothing to resubmit.")
    number = await _next_submission(session, cmd.course_id)
    now = datetime.now(UTC)
    _write_course(session, course, cmd)
    session.add(
        CourseAssessment(
            course_id=cmd.course_id,
            submission_no=number,
            status=AssessmentStatus.PENDING,
            submitted_by=cmd.marketplace_client_code,
            submitted_at=now,
            due_at=now + timedelta(seconds=sla_seconds),
            reasons=[],
        )
    )
    try:
        await session.commit()  # the (course, submission) key lets one of two racing submissions through
    except IntegrityError:
        await session.rollback()
        raise Refused(
            409, ProblemCode.COURSE_PENDING, f"Course {cmd.course_id} was submitted at the same time."
        ) from None
    start = StartAssessmentInput(course_id=cmd.course_id, submission_no=number, sla_seconds=sla_seconds)
    await _start(session, client, task_queue, start, previous)
    return Submitted(cmd.course_id, number, assessment_id(cmd.course_id, number))


async def _next_submission(session: AsyncSession, course_id: str) -> int:
    last = await session.scalar(
        select(func.max(CourseAssessment.submission_no)).where(CourseAssessment.course_id == course_id)
    )
    return (last or 0) + 1


def _write_course(session: AsyncSession, course: Course | None, cmd: SubmitCourse) -> None:
    values = {
        "title": cmd.title,
        "description": cmd.description,
        "provider_client_code": cmd.provider_client_code,
        "price": cmd.price,
        "category": cmd.category,
        "mode": cmd.mode,
        "province": cmd.province,
        "duration_hours": cmd.duration_hours,
        "marketplace_client_code": cmd.marketplace_client_code,
        "status": CourseStatus.PENDING,
    }
    if course is None:
        session.add(Course(course_id=cmd.course_id, **values))
        return
    for name, value in values.items():
        setattr(course, name, value)


async def _start(
    session: AsyncSession, client: Client, task_queue: str, start: StartAssessmentInput, previous: CourseStatus | None
) -> None:
    workflow_id = assessment_id(start.course_id, start.submission_no)
    try:
        await client.start_workflow(
            AssessmentWorkflow.run,
            start,
            id=workflow_id,
            task_queue=task_queue,
            # The database numbers submissions, so a closed workflow of this id belongs to a database that no
            # longer knows it (restored, or reset in development): the new submission takes the id over.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=f"Assessment of course {start.course_id} (submission {start.submission_no})",
        )
    except WorkflowAlreadyStartedError:  # ... but one still running is left alone
        await _take_back(session, start, previous)
        raise Refused(
            409, ProblemCode.COURSE_PENDING, f"An assessment of {start.course_id} is already running."
        ) from None
    except (RPCError, RuntimeError) as err:  # RuntimeError: the client could not (re)connect at all
        # Take the submission back only if it really did not start: a lost answer leaves it running.
        if not await started(client, workflow_id):
            await _take_back(session, start, previous)
            raise Refused(
                503, ProblemCode.TEMPORAL_UNAVAILABLE, "The assessment could not be started; try again."
            ) from err


async def _take_back(session: AsyncSession, start: StartAssessmentInput, previous: CourseStatus | None) -> None:
    row = await session.get(CourseAssessment, (start.course_id, start.submission_no))
    if row is not None:
        await session.delete(row)
    course = await session.get(Course, start.course_id)
    if course is not None and previous is None:
        await session.delete(course)
    elif course is not None and previous is not None:
        course.status = previous
    await session.commit()


async def decide(
    session: AsyncSession, client: Client, course_id: str, decision: Decision, reasons: list[str], staff_id: str
) -> AssessmentDecision:
    """The operator's decision on the course's pending submission, taken by its workflow (which refuses a
    second one); the course is listed (or not) before this returns."""
    row = await latest_assessment(session, course_id)
    if row.status != AssessmentStatus.PENDING:
        raise Refused(
            409, ProblemCode.ASSESSMENT_NOT_PENDING, f"The assessment of {course_id} is already {row.status}."
        )
    if decision is Decision.REJECTED and not reasons:
        raise Refused(422, ProblemCode.REASONS_REQUIRED, "A rejection needs its reasons.")
    cmd = DecideAssessmentUpdate(decision=decision, reasons=reasons, decided_by=staff_id)
    handle = client.get_workflow_handle(assessment_id(course_id, row.submission_no))
    try:
        return await handle.execute_update(AssessmentWorkflow.decide, cmd)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        code = cause.type if isinstance(cause, ApplicationError) and cause.type else "ASSESSMENT_NOT_PENDING"
        raise Refused(
            422 if code == ProblemCode.REASONS_REQUIRED else 409, code, "The assessment refused the decision."
        ) from None
    except RuntimeError as err:
        raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The decision could not be delivered; try again.") from err
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise Refused(409, ProblemCode.ASSESSMENT_NOT_PENDING, "The assessment is no longer running.") from None
        raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The decision could not be delivered; try again.") from err


async def latest_assessment(session: AsyncSession, course_id: str) -> CourseAssessment:
    row = await session.scalar(
        select(CourseAssessment)
        .where(CourseAssessment.course_id == course_id)
        .order_by(CourseAssessment.submission_no.desc())
        .limit(1)
    )
    if row is None:
        raise Refused(404, ProblemCode.ASSESSMENT_NOT_FOUND, f"No assessment of course {course_id}.")
    return row


async def withdraw(session: AsyncSession, course_id: str) -> Course:
    """Take an approved course off sale: no new purchases; trainings already bought continue."""
    done = await session.execute(
        update(Course)
        .where(Course.course_id == course_id, Course.status == CourseStatus.APPROVED)
        .values(status=CourseStatus.WITHDRAWN)
    )
    await session.commit()
    course = await session.get(Course, course_id)
    if course is None:
        raise Refused(404, ProblemCode.COURSE_NOT_FOUND, f"No course {course_id}.")
    if rows_matched(done) != 1:
        raise Refused(409, ProblemCode.COURSE_NOT_APPROVED, f"Course {course_id} is {course.status}, not APPROVED.")
    await session.refresh(course)
    return course


def on_sale(course: Course) -> None:
    """Only approved courses can be bought."""
    if course.status != CourseStatus.APPROVED:
        raise Refused(
            409, ProblemCode.COURSE_NOT_APPROVED, f"Course {course.course_id} is {course.status}, not on sale."
        )


@dataclass(frozen=True)
class QueueRow:
    assessment: CourseAssessment
    course: Course


async def assessment_queue(
    session: AsyncSession, status: AssessmentStatus | None, limit: int, cursor: str | None = None
) -> tuple[list[QueueRow], str | None]:
    """Submissions oldest first (the queue's order: the longest waiting, overdue ones, come first), paged."""
    key = (CourseAssessment.submitted_at, CourseAssessment.course_id, CourseAssessment.submission_no)
    query = select(CourseAssessment, Course).join(Course).order_by(*key).limit(limit + 1)
    if status is not None:
        query = query.where(CourseAssessment.status == status)
    if cursor:
        query = query.where(tuple_(*key) > tuple_(*_parse_cursor(cursor)))
    rows = [QueueRow(a, c) for a, c in (await session.execute(query)).all()]
    page, more = rows[:limit], len(rows) > limit
    if not more:
        return page, None
    last = page[-1].assessment
    return page, encode_cursor(last.submitted_at.isoformat(), last.course_id, last.submission_no)


def _parse_cursor(cursor: str) -> tuple[datetime, str, int]:
    at, course_id, number = decode_cursor(cursor, 3)
    try:
        return datetime.fromisoformat(at), str(course_id), int(number)
    except (ValueError, TypeError):
        raise Refused(422, ProblemCode.INVALID_CURSOR, "The cursor is not one this list gave out.") from None
