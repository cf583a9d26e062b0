"""The course assessment workflow on the time-skipping server: an operator's decision (once), a rejected course
resubmitted as a new assessment, and the OVERDUE escalation on the SLA's durable timer.

Each test has a time-skipping server of its own (`own_clock`): one test skips 14 days, which would move the
timers of tests sharing a server."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.catalogue import AssessmentActivities
from core.catalogue import AssessmentDecision, Decision, assessment_id
from db.models import Course, CourseAssessment, Partner
from db.session import make_sessionmaker
from services import assessments
from services.errors import Refused
from tests.payments.harness import waiting_on_timer
from workflows.assessment import CourseAssessment as AssessmentWorkflow

SLA = timedelta(days=14)


@dataclass
class Desk:
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    task_queue: str

    async def submit(self, course_id: str = "C-1", title: str = "Dasar Excel") -> assessments.Submitted:
        cmd = assessments.SubmitCourse(
            course_id=course_id,
            title=title,
            description="Rumus dan tabel pivot",
            provider_client_code="PRV",
            price=450_000,
            category="OFFICE",
            mode="ONLINE",
            province=None,
            duration_hours=8,
            marketplace_client_code="MKT",
        )
        async with self.sessions() as session:
            return await assessments.submit_course(session, self.client, self.task_queue, SLA.total_seconds(), cmd)

    async def decide(self, course_id: str, decision: Decision, *reasons: str) -> AssessmentDecision:
        async with self.sessions() as session:
            return await assessments.decide(session, self.client, course_id, decision, list(reasons), "operator-7")

    async def rows(self, course_id: str = "C-1") -> tuple[str, list[tuple[int, str, str | None, bool]]]:
        async with self.sessions() as session:
            course = await session.get(Course, course_id)
            found = await session.scalars(
                select(CourseAssessment)
                .where(CourseAssessment.course_id == course_id)
                .order_by(CourseAssessment.submission_no)
            )
            assert course is not None
            return course.status, [(a.submission_no, a.status, a.decided_by, a.overdue_at is not None) for a in found]


@pytest_asyncio.fixture
async def desk(own_clock, engine) -> AsyncIterator[Desk]:
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        session.add(Partner(client_code="PRV", kind="training_provider", name="Provider", sign_key_sealed="-"))
    task_queue = f"assess-{uuid.uuid4().hex[:8]}"
    activities = AssessmentActivities(sessions)
    async with Worker(
        own_clock.client,
        task_queue=task_queue,
        workflows=[AssessmentWorkflow],
        activities=[activities.record_decision, activities.mark_overdue],
    ):
        yield Desk(own_clock.client, sessions, task_queue)


async def test_an_approved_course_is_on_sale_and_records_who_decided(desk):
    submitted = await desk.submit()
    assert (submitted.submission_no, submitted.workflow_id) == (1, "assessment-C-1-1")
    assert await desk.rows() == ("PENDING", [(1, "PENDING", None, False)])

    decision = await desk.decide("C-1", Decision.APPROVED)
    result = await desk.client.get_workflow_handle_for(AssessmentWorkflow.run, submitted.workflow_id).result()

    assert (decision.decision, decision.decided_by, decision.overdue) == ("APPROVED", "operator-7", False)
    assert result == decision
    assert await desk.rows() == ("APPROVED", [(1, "APPROVED", "operator-7", False)])
    with pytest.raises(Refused) as again:
        await desk.decide("C-1", Decision.REJECTED, "too late")
    assert again.value.code == "ASSESSMENT_NOT_PENDING"
    with pytest.raises(Refused) as resubmitted:
        await desk.submit()
    assert (resubmitted.value.status, resubmitted.value.code) == (409, "COURSE_APPROVED")


async def test_two_operators_deciding_at_once_make_one_decision(desk):
    """Both pass the service's pending check; the workflow admits one decision (its validator refuses the other)."""
    await desk.submit()

    results = await asyncio.gather(
        desk.decide("C-1", Decision.REJECTED, "no syllabus"),
        desk.decide("C-1", Decision.APPROVED),
        return_exceptions=True,
    )

    [decision] = [r for r in results if isinstance(r, AssessmentDecision)]
    [refused] = [r for r in results if isinstance(r, Refused)]
    assert (refused.status, refused.code) == (409, "ASSESSMENT_NOT_PENDING")
    assert await desk.rows() == (
        "APPROVED" if decision.decision == "APPROVED" else "REJECTED",
        [(1, decision.decision, "operator-7", False)],
    )


async def test_a_rejected_course_is_resubmitted_as_a_new_assessment(desk):
    await desk.submit()
    with pytest.raises(Refused) as pending:
        await desk.submit()
    assert (pending.value.status, pending.value.code) == (409, "COURSE_PENDING")
    with pytest.raises(Refused) as no_reasons:
        await desk.decide("C-1", Decision.REJECTED)
    assert no_reasons.value.code == "REASONS_REQUIRED"
    rejected = await desk.decide("C-1", Decision.REJECTED, "no syllabus", "price too high")

    again = await desk.submit(title="Dasar Excel (revisi)")
    approved = await desk.decide("C-1", Decision.APPROVED)

    assert rejected.reasons == ["no syllabus", "price too high"]
    assert (again.submission_no, again.workflow_id) == (2, assessment_id("C-1", 2))
    assert approved.submission_no == 2
    assert await desk.rows() == (
        "APPROVED",
        [(1, "REJECTED", "operator-7", False), (2, "APPROVED", "operator-7", False)],
    )
    async with desk.sessions() as session:
        first = await session.get(CourseAssessment, ("C-1", 1))
        assert first is not None and first.reasons == ["no syllabus", "price too high"]


async def test_a_pending_assessment_escalates_overdue_after_the_sla(desk, own_clock):
    submitted = await desk.submit()
    await waiting_on_timer(desk.client.get_workflow_handle(submitted.workflow_id))
    await own_clock.sleep(SLA - timedelta(minutes=1))
    assert await desk.rows() == ("PENDING", [(1, "PENDING", None, False)])

    await own_clock.sleep(timedelta(minutes=2))
    await _until_overdue(desk)
    decision = await desk.decide("C-1", Decision.APPROVED)

    assert decision.overdue is True
    result = await desk.client.get_workflow_handle_for(AssessmentWorkflow.run, submitted.workflow_id).result()
    assert result.overdue is True
    assert await desk.rows() == ("APPROVED", [(1, "APPROVED", "operator-7", True)])


async def _until_overdue(desk: Desk) -> None:
    """The escalation is an activity after the timer: poll the projection (real time) until it shows."""
    async with asyncio.timeout(10):
        while not (await desk.rows())[1][0][3]:
            await asyncio.sleep(0.05)
