"""Sending updates and signals to a journey, and Temporal's answers as refusals (`Refused`)."""

from typing import Any, TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodSyncOrAsyncSingleParam
from temporalio.workflow import UpdateMethodMultiParam

from core.contracts import journey_id
from core.problems import ProblemCode
from services.errors import Refused

ArgT = TypeVar("ArgT")
T = TypeVar("T")

# Refusals that are not about the journey's state (409): the request's content, or a partner's outage.
STATUS_OF: dict[str, int] = {ProblemCode.EKYC_FAILED: 422, ProblemCode.PARTNER_UNAVAILABLE: 503}


async def update(
    client: Client,
    registration_id: str,
    handler: UpdateMethodMultiParam[[Any, ArgT], T],
    arg: ArgT,
    update_id: str,
) -> T:
    """Execute an update (`BeneficiaryJourney.purchase`); the update id makes a repeated request (same business
    key) a no-op in Temporal."""
    handle = client.get_workflow_handle(journey_id(registration_id))
    try:
        return await handle.execute_update(handler, arg, id=update_id)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type:
            status = STATUS_OF.get(cause.type, 409)
            raise Refused(status, cause.type, cause.message) from None
        raise Refused(409, ProblemCode.UPDATE_REJECTED, "The journey refused the request.") from None
    except RPCError as err:
        raise _rpc_problem(err) from None


async def signal(
    client: Client, registration_id: str, handler: MethodSyncOrAsyncSingleParam[Any, ArgT, None], arg: ArgT
) -> None:
    """Send a signal (`BeneficiaryJourney.completion`). Signals are accepted by the server even while workers
    are down: the partner is never turned away."""
    try:
        await client.get_workflow_handle(journey_id(registration_id)).signal(handler, arg)
    except RPCError as err:
        raise _rpc_problem(err) from None


def _rpc_problem(err: RPCError) -> Refused:
    if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
        return Refused(409, ProblemCode.JOURNEY_FINISHED, "The journey is no longer running.")
    return Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The journey could not be reached; try again.")
