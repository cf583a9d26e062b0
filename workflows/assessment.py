"""One course submission's assessment: wait for an operator's decision, escalate OVERDUE after the SLA."""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.catalogue import AssessmentActivities
    from core.catalogue import (
        AssessmentDecision,
        DecideAssessmentUpdate,
        Decision,
        MarkOverdueInput,
        StartAssessmentInput,
    )
    from core.problems import ProblemCode
    from workflows.options import DATABASE_CALL


@workflow.defn
class CourseAssessment:
    @workflow.init
    def __init__(self, input: StartAssessmentInput) -> None:
        self.input = input
        self.claimed: DecideAssessmentUpdate | None = None  # set before the decision is recorded: one decision
        self.decision: AssessmentDecision | None = None
        self.overdue = False

    @workflow.run
    async def run(self, input: StartAssessmentInput) -> AssessmentDecision:
        try:
            await workflow.wait_condition(
                lambda: self.claimed is not None, timeout=timedelta(seconds=input.sla_seconds)
            )
        except TimeoutError:
            self.overdue = True
            overdue = MarkOverdueInput(course_id=input.course_id, submission_no=input.submission_no, at=workflow.now())
            await workflow.execute_activity_method(AssessmentActivities.mark_overdue, overdue, **DATABASE_CALL)
        await workflow.wait_condition(lambda: self.decision is not None and workflow.all_handlers_finished())
        assert self.decision is not None
        return self.decision

    @workflow.update
    async def decide(self, cmd: DecideAssessmentUpdate) -> AssessmentDecision:
        """An operator's decision; recorded (course listed or not) before the update answers."""
        self.claimed = cmd
        decision = AssessmentDecision(
            course_id=self.input.course_id,
            submission_no=self.input.submission_no,
            decision=cmd.decision,
            reasons=cmd.reasons,
            decided_by=cmd.decided_by,
            decided_at=workflow.now(),
            overdue=self.overdue,
        )
        await workflow.execute_activity_method(AssessmentActivities.record_decision, decision, **DATABASE_CALL)
        self.decision = decision
        return decision

    @decide.validator
    def _pending_only(self, cmd: DecideAssessmentUpdate) -> None:
        if self.claimed is not None:
            raise ApplicationError("The assessment was already decided.", type=ProblemCode.ASSESSMENT_NOT_PENDING)
        if cmd.decision is Decision.REJECTED and not cmd.reasons:
            raise ApplicationError("A rejection needs its reasons.", type=ProblemCode.REASONS_REQUIRED)
