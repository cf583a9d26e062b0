"""Course assessment messages and states. Imported by the assessment workflow, so: pydantic, stdlib and core only."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class CourseStatus(StrEnum):
    PENDING = "PENDING"  # submitted, under assessment
    APPROVED = "APPROVED"  # listed and on sale
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"  # taken off sale by an operator; bought trainings continue


class AssessmentStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class Decision(StrEnum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


def assessment_id(course_id: str, submission_no: int) -> str:
    """Workflow id of one submission's assessment: course ids are catalogue codes, never personal data."""
    return f"assessment-{course_id}-{submission_no}"


class StartAssessmentInput(BaseModel):
    course_id: str
    submission_no: int
    # Pinned at submission: PRAKERJA_ASSESSMENT_SLA_DAYS in seconds, divided by the time scale.
    sla_seconds: float


class DecideAssessmentUpdate(BaseModel):
    decision: Decision
    reasons: list[str] = Field(default_factory=list)
    decided_by: str  # a staff id


class AssessmentDecision(BaseModel):
    course_id: str
    submission_no: int
    decision: Decision
    reasons: list[str] = Field(default_factory=list)
    decided_by: str
    decided_at: datetime
    overdue: bool = False


class MarkOverdueInput(BaseModel):
    course_id: str
    submission_no: int
    at: datetime
