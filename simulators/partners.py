"""The partner-side endpoints the HTTP adapters call. Personal data travels only in JSON bodies."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, model_validator

from simulators.deps import World
from simulators.payments import (
    DISBURSEMENT_NOT_FOUND,
    DisbursementAnswer,
    DisbursementRequest,
    EkycAnswer,
    EkycRequest,
    StatementEntry,
)
from simulators.wire import AssistanceAnswer, CitizenAnswer, FaceAnswer, NotificationKind

router = APIRouter(tags=["partner systems"])


class VerifyCitizenIn(BaseModel):
    nik: str
    kk_number: str
    full_name: str
    date_of_birth: date


class FaceAnswerIn(BaseModel):
    nik: str
    selfie_b64: str


class NikIn(BaseModel):
    nik: str


class NotificationIn(BaseModel):
    kind: NotificationKind
    reason: str
    prakerja_number: str | None = None
    purchase_ref: str | None = None

    @model_validator(mode="after")
    def _names_its_subject(self) -> "NotificationIn":
        needed = "prakerja_number" if self.kind is NotificationKind.CARD_BLOCKED else "purchase_ref"
        if getattr(self, needed) is None:
            raise ValueError(f"{self.kind} needs {needed}")
        return self


@router.post("/civil-registry/verify")
async def verify_citizen(body: VerifyCitizenIn, world: World) -> CitizenAnswer:
    """Civil registry: match NIK, family card, name and birth date."""
    return await world.verify_citizen(body.nik, body.kk_number, body.full_name, body.date_of_birth)


@router.post("/biometrics/check")
async def check_face(body: FaceAnswerIn, world: World) -> FaceAnswer:
    """Biometrics: liveness, 1:1 match and 1:N duplicate search."""
    return await world.check_face(body.nik, body.selfie_b64)


@router.post("/social-affairs/check")
async def check_assistance(body: NikIn, world: World) -> AssistanceAnswer:
    """Social-affairs database: other assistance programmes received."""
    return await world.check_assistance(body.nik)


@router.post("/marketplaces/{client_code}/notifications")
async def notify_marketplace(client_code: str, body: NotificationIn, world: World) -> dict[str, bool]:
    """Marketplace: a card was blocked or a purchase voided (idempotent)."""
    subject = body.model_dump(include={"prakerja_number", "purchase_ref"})
    await world.notify_marketplace(client_code, body.kind, body.reason, **subject)
    return {"accepted": True}


@router.post("/payments/{client_code}/ekyc")
async def verify_account(client_code: str, body: EkycRequest, world: World) -> EkycAnswer:
    """Payment partner: is this a KYC'd, open account of this NIK?"""
    return await world.payments.verify_account(client_code, body.account_number, body.nik)


@router.post("/payments/{client_code}/disbursements")
async def disburse(client_code: str, body: DisbursementRequest, world: World) -> DisbursementAnswer:
    """Payment partner: pay once per idempotency key (a repeat returns the stored result)."""
    return await world.payments.disburse(client_code, body)


@router.get("/payments/{client_code}/disbursements/{idempotency_key:path}", response_model=DisbursementAnswer)
async def disbursement_status(
    client_code: str, idempotency_key: str, world: World
) -> DisbursementAnswer | JSONResponse:
    """Payment partner: the stored result for a key; 404 DISBURSEMENT_NOT_FOUND when never received."""
    result = await world.payments.status(client_code, idempotency_key)
    if result is None:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": "no disbursement with this idempotency key",
                "code": DISBURSEMENT_NOT_FOUND,
            },
            status_code=404,
            media_type="application/problem+json",
        )
    return result


@router.get("/payments/{client_code}/statement")
async def statement(client_code: str, day: Annotated[date, Query(alias="date")], world: World) -> list[StatementEntry]:
    """Payment partner: every disbursement received on a UTC day."""
    return await world.payments.statement(client_code, day)
