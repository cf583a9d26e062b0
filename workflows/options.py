"""Activity options shared by workflows: explicit timeouts and retry policies, typed non-retryable errors."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypedDict, TypeVar

from temporalio.common import RetryPolicy

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")
# An activity method by reference (`PaymentActivities.mark_paid`): the instance is the worker's, hence Any.
ActivityMethod = Callable[[Any, ArgT], Awaitable[ResultT]]


class ActivityOptions(TypedDict, total=False):
    """The keyword options of `workflow.execute_activity_method` that this project sets, typed so that
    `**DATABASE_CALL` is checked against the SDK's signature."""

    start_to_close_timeout: timedelta
    schedule_to_close_timeout: timedelta
    heartbeat_timeout: timedelta
    retry_policy: RetryPolicy


class QueuedActivityOptions(ActivityOptions, total=False):
    """The options with the task queue they run on (a partner's own queue)."""

    task_queue: str


# Partner systems fail transiently (5xx, timeouts): back off up to a minute and keep trying with no overall
# deadline, so an outage of any length delays journeys (visible as a retrying activity in the UI) instead of
# failing them, which would leave the applicant's NIK registered to a dead journey.
PARTNER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["InvalidInput"],
)
PARTNER_CALL: ActivityOptions = {
    "start_to_close_timeout": timedelta(seconds=60),
    "retry_policy": PARTNER_RETRY,
}
# Two partner calls in one activity (the civil registry and the face check, then the social-affairs registry).
SCREENING_CALL: ActivityOptions = {**PARTNER_CALL, "start_to_close_timeout": timedelta(seconds=120)}
DATABASE_CALL: ActivityOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)),
}
