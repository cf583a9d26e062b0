"""Seeding the projection and the payment ledger directly, for the programme-office reports and figures."""

import uuid
from datetime import datetime
from typing import Any

from core.domain import JourneyStatus, PurchaseStatus
from db.models import Beneficiary, Partner, Payment, PaymentAttempt, Purchase, Wave


def partner(code: str, kind: str = "payment") -> Partner:
    return Partner(client_code=code, kind=kind, name=f"{code} Ltd", sign_key_sealed="x")


def wave(wave_id: str, name: str | None = None, *, status: str = "DRAWN", quota: int = 100, **fields: Any) -> Wave:
    """A wave row (drawn, unless told otherwise); `fields` set any other column."""
    row = {"profile": "prakerja-2020"} | fields
    return Wave(wave_id=wave_id, name=name or wave_id, status=status, quota=quota, **row)


def beneficiary(
    province: str = "Jawa Barat",
    status: JourneyStatus = JourneyStatus.INCENTIVES,
    wave_id: str | None = None,
    awarded: bool = False,
    **fields: Any,
) -> Beneficiary:
    """A projection row with a fresh registration id and unique hashes; `fields` set any other column."""
    registration_id = "REG-" + uuid.uuid4().hex[:16].upper()
    row = {
        "registration_id": registration_id,
        "nik_hash": uuid.uuid4().hex,
        "kk_hash": uuid.uuid4().hex,
        "token_hash": uuid.uuid4().hex,
        "status": status,
        "province": province,
        "profile": "prakerja-2020",
        "wave_id": wave_id,
        "prakerja_number": uuid.uuid4().hex[:16] if awarded else None,
        "detail": {},
    }
    return Beneficiary(**(row | fields))


def completed_training(registration_id: str) -> Purchase:
    return Purchase(
        purchase_ref=f"REF-{uuid.uuid4().hex[:12]}",
        registration_id=registration_id,
        marketplace_client_code="MKT",
        provider_client_code="LPK",
        course_id="C-1",
        price=500_000,
        status=PurchaseStatus.COMPLETED,
    )


def payment(
    registration_id: str,
    status: str,
    partner_code: str | None,
    *,
    kind: str = "INCENTIVE",
    number: int = 1,
    amount: int = 600_000,
    paid_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> Payment:
    values = {"updated_at": updated_at} if updated_at else {}
    return Payment(
        payment_id=f"PAY-{registration_id}-{kind[0]}{number}",
        registration_id=registration_id,
        kind=kind,
        number=number,
        amount=amount,
        status=status,
        partner_client_code=partner_code,
        account_number="0811000011112222" if partner_code else None,
        attempts=1,
        paid_at=paid_at,
        **values,
    )


def attempt(pay: Payment, n: int, partner_code: str, status: str, created_at: datetime) -> PaymentAttempt:
    return PaymentAttempt(
        attempt_id=f"{pay.payment_id}-A{n}",
        payment_id=pay.payment_id,
        idempotency_key=f"{pay.payment_id}-A{n}",
        partner_client_code=partner_code,
        account_number="0811000011112222",
        amount=pay.amount,
        status=status,
        created_at=created_at,
    )
