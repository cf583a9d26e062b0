"""Life events from the civil registry: a death or a deactivated NIK stops that NIK's journey and its money.

The NIK is known here only by its keyed hash. The event is kept in the NIK blacklist (keyed by that hash), so
it stops a journey that is running and refuses a registration that comes later; the journey itself is revoked
through its ordinary `revoke` signal, with the event as reason code.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.contracts import RevokeSignal, journey_id
from core.domain import FINAL_STATUSES, LifeEvent
from core.problems import ProblemCode
from db import registrations
from db.models import Beneficiary, NikBlacklist
from services.errors import Refused
from workflows.journey import BeneficiaryJourney

# A blacklist row needs a registration id; an event for a NIK that never registered has none.
NO_REGISTRATION = "-"
LIFE_EVENTS = frozenset(LifeEvent)


@dataclass(frozen=True)
class ReportLifeEvent:
    nik_hash: str
    event: LifeEvent
    occurred_on: date
    reported_by: str  # the civil registry's client code


async def report_life_event(session: AsyncSession, client: Client, cmd: ReportLifeEvent) -> str | None:
    """Record the event and stop the NIK's journey if one runs; the registration id, or None for a NIK the
    programme does not know (the caller must not tell the two apart). A repeat changes nothing more."""
    await _blacklist(session, cmd)
    beneficiary = await session.scalar(select(Beneficiary).where(Beneficiary.nik_hash == cmd.nik_hash))
    if beneficiary is None:
        return None
    if beneficiary.status not in FINAL_STATUSES:
        await _revoke(client, beneficiary.registration_id, cmd)
    return beneficiary.registration_id


async def _blacklist(session: AsyncSession, cmd: ReportLifeEvent) -> None:
    """Committed before the journey is looked up: a registration committed meanwhile either sees this row
    (`admit_registration`) or is found here, and its eligibility check sees the row in any case."""
    if await session.get(NikBlacklist, cmd.nik_hash) is not None:
        return  # revoked before, or an earlier event: the first reason stays
    registration_id = await session.scalar(
        select(Beneficiary.registration_id).where(Beneficiary.nik_hash == cmd.nik_hash)
    )
    session.add(
        NikBlacklist(nik_hash=cmd.nik_hash, registration_id=registration_id or NO_REGISTRATION, reason=cmd.event)
    )
    try:
        await session.commit()
    except IntegrityError:  # the same event (or the revocation it caused) wrote it concurrently
        await session.rollback()


async def _revoke(client: Client, registration_id: str, cmd: ReportLifeEvent) -> None:
    signal = RevokeSignal(
        reason=f"{cmd.event} reported by the civil registry (occurred on {cmd.occurred_on.isoformat()})",
        requested_by=cmd.reported_by,
        reason_code=cmd.event,
    )
    try:
        await client.get_workflow_handle(journey_id(registration_id)).signal(BeneficiaryJourney.revoke, signal)
    except RuntimeError as err:  # the client could not (re)connect at all
        raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The event could not be applied; send it again.") from err
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: the journey has ended, nothing left to stop
            raise Refused(
                503, ProblemCode.TEMPORAL_UNAVAILABLE, "The event could not be applied; send it again."
            ) from err


async def admit_registration(session: AsyncSession, registration_id: str, nik_hash: str) -> None:
    """Refuse (and withdraw) a registration just committed for a NIK the civil registry reported dead or
    deactivated. The code does not say which event. Checked after the commit, so an event arriving meanwhile
    is seen here or finds the registration (see `_blacklist`)."""
    entry = await session.get(NikBlacklist, nik_hash)
    if entry is None or entry.reason not in LIFE_EVENTS:
        return
    await registrations.withdraw(session, registration_id)
    raise Refused(409, ProblemCode.NIK_NOT_ELIGIBLE, "This NIK cannot register for the programme.")
