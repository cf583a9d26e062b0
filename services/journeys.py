"""Operators' actions on one journey."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.contracts import RevokeSignal, journey_id
from core.domain import FINAL_STATUSES
from core.problems import ProblemCode
from db.models import Beneficiary
from services.errors import Refused
from workflows.journey import BeneficiaryJourney


@dataclass(frozen=True)
class Revoke:
    registration_id: str
    reason: str
    requested_by: str  # staff id


async def get_beneficiary(session: AsyncSession, registration_id: str) -> Beneficiary:
    beneficiary = await session.get(Beneficiary, registration_id)
    if beneficiary is None:
        raise Refused(404, ProblemCode.REGISTRATION_NOT_FOUND, f"No registration {registration_id}.")
    return beneficiary


async def revoke(session: AsyncSession, client: Client, cmd: Revoke) -> None:
    """Ask the journey to revoke: future purchases and payments stop; what was paid becomes a clawback claim."""
    beneficiary = await get_beneficiary(session, cmd.registration_id)
    if beneficiary.status in FINAL_STATUSES:
        raise Refused(409, ProblemCode.JOURNEY_FINISHED, f"The journey is already {beneficiary.status}.")
    try:
        await client.get_workflow_handle(journey_id(cmd.registration_id)).signal(
            BeneficiaryJourney.revoke, RevokeSignal(reason=cmd.reason, requested_by=cmd.requested_by)
        )
    except RuntimeError as err:  # the client could not (re)connect at all
        raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The revocation could not be sent; try again.") from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise Refused(409, ProblemCode.JOURNEY_FINISHED, "The journey is no longer running.") from err
        raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The revocation could not be sent; try again.") from err
