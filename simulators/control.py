"""Control API (`/sim/...`): seed partner records, inject faults, and observe what the partners received."""

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulators.deps import World
from simulators.faults import Fault
from simulators.payments import AccountStatus, PartnerMode
from simulators.world import MarketplaceNotification

router = APIRouter(prefix="/sim", tags=["simulator control"])

Digits16 = Annotated[str, Field(pattern=r"^\d{16}$")]


class CitizenIn(BaseModel):
    nik: Digits16
    kk_number: Digits16
    full_name: str = Field(min_length=1)
    date_of_birth: date
    photo_id: str | None = None
    deceased: bool = False


class SocialAssistanceIn(BaseModel):
    nik: Digits16
    programme: str = Field(min_length=1)


class OccupationIn(BaseModel):
    nik: Digits16
    occupation: str = Field(min_length=1)


class BiometricsIn(BaseModel):
    nik: Digits16
    liveness: bool
    match_score: float = Field(ge=0, le=1)


class PaymentAccountIn(BaseModel):
    partner_client_code: str = Field(min_length=1)
    account_number: str = Field(min_length=1)
    nik: Digits16
    kyc: bool = True
    status: AccountStatus = AccountStatus.ACTIVE


class PaymentPartnerIn(BaseModel):
    client_code: str = Field(min_length=1)
    sign_key: str | None = None
    mode: PartnerMode = PartnerMode.SYNC
    callback_delay_ms: int = Field(0, ge=0)


class RegistryPartnerIn(BaseModel):
    client_code: str = Field(min_length=1)
    sign_key: str = Field(min_length=1)
    api_url: str = Field(pattern=r"^https?://")


class RegistryEvent(StrEnum):
    DECEASED = "DECEASED"
    NIK_DEACTIVATED = "NIK_DEACTIVATED"


class RegistryEventIn(BaseModel):
    nik: Digits16
    event: RegistryEvent
    occurred_on: date | None = None


# Seeding answers acknowledge the record without echoing personal data back.
def _created(**fields: Any) -> dict[str, Any]:
    return {"created": True, **fields}


@router.post("/citizens", status_code=201)
async def add_citizen(body: CitizenIn, world: World) -> dict[str, Any]:
    """Add or replace a civil-registry record."""
    world.add_citizen(**body.model_dump())
    return _created()


@router.post("/social-assistance", status_code=201)
async def add_social_assistance(body: SocialAssistanceIn, world: World) -> dict[str, Any]:
    """List a NIK as a recipient of another programme in the social-affairs database."""
    world.add_social_assistance(body.nik, body.programme)
    return _created(programme=body.programme)


@router.post("/occupations", status_code=201)
async def add_occupation(body: OccupationIn, world: World) -> dict[str, Any]:
    """Set the occupation the civil registry holds for a NIK."""
    world.add_occupation(body.nik, body.occupation)
    return _created(occupation=body.occupation)


@router.post("/biometrics", status_code=201)
async def set_biometrics(body: BiometricsIn, world: World) -> dict[str, Any]:
    """Override the next face check for a NIK."""
    world.set_biometrics(body.nik, body.liveness, body.match_score)
    return _created(liveness=body.liveness, match_score=body.match_score)


@router.post("/payment-accounts", status_code=201)
async def add_payment_account(body: PaymentAccountIn, world: World) -> dict[str, Any]:
    """Add or replace an account at a payment partner."""
    world.add_payment_account(**body.model_dump())
    return _created(partner_client_code=body.partner_client_code, kyc=body.kyc, status=body.status)


@router.post("/payment-partners", status_code=201)
async def configure_payment_partner(body: PaymentPartnerIn, world: World) -> dict[str, Any]:
    """Set a payment partner's callback key and whether it settles synchronously or by callback."""
    world.configure_payment_partner(**body.model_dump())
    return _created(client_code=body.client_code, mode=body.mode, callback_delay_ms=body.callback_delay_ms)


@router.post("/registry-partners", status_code=201)
async def configure_registry_partner(body: RegistryPartnerIn, world: World) -> dict[str, Any]:
    """Set the civil registry's client code and sign key, and the platform URL its events go to."""
    world.registry_events.configure(body.client_code, body.sign_key, body.api_url)
    return _created(client_code=body.client_code, api_url=body.api_url)


@router.post("/registry-events", status_code=202, response_model=None)
async def send_registry_event(body: RegistryEventIn, world: World) -> dict[str, Any] | JSONResponse:
    """Make the civil registry send a signed life event for a NIK to the platform (`POST /v1/registry/events`)."""
    occurred_on = body.occurred_on or datetime.now(UTC).date()
    if world.registry_events.partner is None:
        return _sim_problem(409, "REGISTRY_NOT_CONFIGURED", "Configure POST /sim/registry-partners first.")
    try:
        await world.send_registry_event(body.nik, body.event, occurred_on)
    except Exception as exc:  # the platform refused it or was unreachable: say so, without the NIK
        return _sim_problem(502, "DELIVERY_FAILED", f"The platform did not accept the event ({type(exc).__name__}).")
    return {"sent": True, "event": body.event, "occurred_on": occurred_on.isoformat()}


def _sim_problem(status: int, code: str, detail: str) -> JSONResponse:
    body = {"type": "about:blank", "title": code, "status": status, "detail": detail, "code": code}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@router.post("/faults", status_code=201)
async def add_fault(body: Fault, world: World) -> Fault:
    """Inject a fault at one partner system (or one payment partner)."""
    return world.faults.add(body)


@router.get("/faults")
async def list_faults(world: World) -> list[Fault]:
    return world.faults.faults


@router.delete("/faults")
async def clear_faults(world: World) -> dict[str, int]:
    """Remove every injected fault."""
    return {"cleared": world.clear_faults()}


@router.get("/payments/{partner_client_code}")
async def list_payments(partner_client_code: str, world: World) -> list[dict[str, Any]]:
    """Every disbursement the partner received, one per idempotency key (proof nothing was paid twice)."""
    return [
        r.model_dump(mode="json", exclude={"nik", "callback_url"}) for r in world.payments.received(partner_client_code)
    ]


@router.get("/marketplace-notifications")
async def list_notifications(world: World) -> list[MarketplaceNotification]:
    """Card blocks and voided purchases the marketplaces were told about."""
    return world.notifications


@router.post("/reset")
async def reset(world: World) -> dict[str, bool]:
    """Forget every record, fault and payment."""
    world.reset()
    return {"reset": True}
