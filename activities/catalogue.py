"""The course assessment's side effects: its decision and its escalation, written to the projection."""

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.catalogue import AssessmentDecision, AssessmentStatus, CourseStatus, Decision, MarkOverdueInput
from db.models import Course, CourseAssessment
from db.session import rows_matched


class AssessmentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    async def record_decision(self, decision: AssessmentDecision) -> None:
        """Record who decided what, and list (or not) the course; a retry finds nothing pending and changes nothing."""
        async with self.sessions.begin() as session:
            decided = await session.execute(
                update(CourseAssessment)
                .where(
                    CourseAssessment.course_id == decision.course_id,
                    CourseAssessment.submission_no == decision.submission_no,
                    CourseAssessment.status == AssessmentStatus.PENDING,
                )
                .values(
                    status=decision.decision.value,
                    decided_by=decision.decided_by,
                    decided_at=decision.decided_at,
                    reasons=decision.reasons,
                )
            )
            if rows_matched(decided) != 1:
                return
            approved = decision.decision is Decision.APPROVED
            await session.execute(
                update(Course)
                .where(Course.course_id == decision.course_id, Course.status == CourseStatus.PENDING)
                .values(
                    status=CourseStatus.APPROVED if approved else CourseStatus.REJECTED,
                    **({"listed_at": decision.decided_at} if approved else {}),
                )
            )

    @activity.defn
    async def mark_overdue(self, input: MarkOverdueInput) -> None:
        """Flag a still-pending assessment OVERDUE (the operators' queue shows it)."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(CourseAssessment)
                .where(
                    CourseAssessment.course_id == input.course_id,
                    CourseAssessment.submission_no == input.submission_no,
                    CourseAssessment.status == AssessmentStatus.PENDING,
                    CourseAssessment.overdue_at.is_(None),
                )
                .values(overdue_at=input.at)
            )
