"""Payment partners (e-wallets, banks): e-KYC of a beneficiary's account and idempotent disbursements."""

from datetime import date, datetime
from enum import StrEnum
from typing import Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from adapters._http import parse, parse_list, problem_code, send
from adapters.errors import DuplicateKey, PartnerError
from core.contracts import LinkAccountResult

# The partner's "I never received that key" answer, as opposed to a 404 from a wrong route.
DISBURSEMENT_NOT_FOUND = "DISBURSEMENT_NOT_FOUND"


# e-KYC answers with the platform's own model (reasons: ACCOUNT_NOT_FOUND, KYC_NOT_COMPLETED, NIK_MISMATCH,
# ACCOUNT_CLOSED): one model from the partner port to the journey's account link, not two parallel ones.
KycResult = LinkAccountResult


class DisbursementStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"


class DisburseRequest(BaseModel):
    # The partner pays at most once per key, however often the request is repeated.
    idempotency_key: str
    account_number: str
    nik: str
    amount: int
    # Where an asynchronous partner POSTs the signed outcome later.
    callback_url: str | None = None


class DisbursementResult(BaseModel):
    status: DisbursementStatus
    # ACCOUNT_NOT_FOUND, NIK_MISMATCH, ACCOUNT_CLOSED, LIMIT_EXCEEDED
    reason: str | None = None
    partner_reference: str | None = None


class StatementLine(BaseModel):
    idempotency_key: str
    amount: int
    status: DisbursementStatus
    received_at: datetime


class PaymentGateway(Protocol):
    """One gateway for every payment partner; `partner` is the partner's client code."""

    async def verify_account(self, partner: str, account_number: str, nik: str) -> KycResult: ...

    async def disburse(self, partner: str, request: DisburseRequest) -> DisbursementResult: ...

    async def status(self, partner: str, idempotency_key: str) -> DisbursementResult | None:
        """The partner's record for that key, or None when it never received it."""
        ...

    async def statement(self, partner: str, day: date) -> list[StatementLine]: ...


class HttpPaymentGateway:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    def _url(self, partner: str, *parts: str) -> str:
        return "/".join([self._base, "payments", *(quote(p, safe="") for p in (partner, *parts))])

    async def verify_account(self, partner: str, account_number: str, nik: str) -> KycResult:
        body = {"account_number": account_number, "nik": nik}
        return parse(await send(self._http, "POST", self._url(partner, "ekyc"), json=body, system="payment"), KycResult)

    async def disburse(self, partner: str, request: DisburseRequest) -> DisbursementResult:
        url = self._url(partner, "disbursements")
        response = await send(self._http, "POST", url, json=request.model_dump(mode="json"), system="payment")
        if response.status_code == 409:
            # A partner that refuses a repeated key instead of repeating its answer: the key's record is the answer.
            raise DuplicateKey(f"{response.request.url.path}: idempotency key already received", 409)
        return parse(response, DisbursementResult)

    async def status(self, partner: str, idempotency_key: str) -> DisbursementResult | None:
        response = await send(self._http, "GET", self._url(partner, "disbursements", idempotency_key), system="payment")
        if response.status_code == 404:
            # Only the partner's own "never received" may mean None: callers answer it with a new attempt.
            if problem_code(response) == DISBURSEMENT_NOT_FOUND:
                return None
            raise PartnerError(f"{response.request.url.path}: 404 without {DISBURSEMENT_NOT_FOUND}")
        return parse(response, DisbursementResult)

    async def statement(self, partner: str, day: date) -> list[StatementLine]:
        params = {"date": day.isoformat()}
        response = await send(self._http, "GET", self._url(partner, "statement"), params=params, system="payment")
        return parse_list(response, StatementLine)
