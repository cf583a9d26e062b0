"""The civil registry's signed life events: a death or a deactivated NIK stops that NIK's journey."""

from datetime import date

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.audit import add_audit_detail
from api.deps import CivilRegistryDep, SessionDep, SettingsDep, TemporalDep
from api.errors import problem_responses
from core.domain import LifeEvent
from core.security import nik_hash
from services import life_events

router = APIRouter(prefix="/v1/registry", tags=["civil registry"], responses=problem_responses(401, 403, 422, 503))


class LifeEventRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nik: str = Field(pattern=r"^\d{16}$", description="16-digit national identity number")
    event: LifeEvent
    occurred_on: date


class LifeEventAccepted(BaseModel):
    status: str = "ACCEPTED"


@router.post("/events", status_code=status.HTTP_202_ACCEPTED)
async def life_event(
    body: LifeEventRequest,
    partner: CivilRegistryDep,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    request: Request,
) -> LifeEventAccepted:
    """A death or a deactivated NIK. 202 whether or not the programme knows the NIK (nothing is disclosed);
    a known NIK's journey stops: nothing more is bought or paid, and it ends REVOKED with the event as reason.
    Repeats are harmless."""
    add_audit_detail(request, event=body.event.value, occurred_on=body.occurred_on.isoformat())
    cmd = life_events.ReportLifeEvent(
        nik_hash=nik_hash(settings.secret_key, body.nik),
        event=body.event,
        occurred_on=body.occurred_on,
        reported_by=partner.client_code,
    )
    if registration_id := await life_events.report_life_event(session, client, cmd):
        add_audit_detail(request, registration_id=registration_id)  # the audit row, never the response
    return LifeEventAccepted()
