"""Payment partners as they behave on their side: accounts, e-KYC, idempotent disbursements, callbacks."""

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

import httpx
from pydantic import BaseModel

from core.security import signed_headers
from simulators.faults import FaultBook, FaultKind

logger = logging.getLogger(__name__)

# (url, headers, body): how the partner delivers a signed callback.
CallbackSender = Callable[[str, dict[str, str], bytes], Awaitable[None]]

# The partner's "I never received that key" answer (the `code` of its 404 problem).
DISBURSEMENT_NOT_FOUND = "DISBURSEMENT_NOT_FOUND"


# --- the partner's wire format, written from the partner's side: the platform's adapter (adapters/payment.py) has
# its own models, so a drift between the two fails the HTTP adapter tests instead of passing unseen.


class DisbursementStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"


class EkycRequest(BaseModel):
    account_number: str
    nik: str


class EkycAnswer(BaseModel):
    verified: bool
    reason: str | None = None


class DisbursementRequest(BaseModel):
    idempotency_key: str
    account_number: str
    nik: str
    amount: int
    callback_url: str | None = None


class DisbursementAnswer(BaseModel):
    """The answer to a disbursement, to a status request and the body of a callback."""

    status: DisbursementStatus
    reason: str | None = None
    partner_reference: str | None = None


class StatementEntry(BaseModel):
    idempotency_key: str
    amount: int
    status: DisbursementStatus
    received_at: datetime


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


class PartnerMode(StrEnum):
    SYNC = "sync"
    ASYNC = "async"


@dataclass
class Account:
    nik: str
    kyc: bool
    status: AccountStatus


@dataclass
class PartnerConfig:
    sign_key: str | None = None
    mode: PartnerMode = PartnerMode.SYNC
    callback_delay_ms: int = 0


class ReceivedDisbursement(BaseModel):
    """One disbursement as the partner recorded it (what GET /sim/payments/{code} lists)."""

    idempotency_key: str
    account_number: str
    amount: int
    status: DisbursementStatus
    reason: str | None = None
    partner_reference: str
    received_at: datetime
    # Kept out of the listing: personal data and routing only.
    nik: str
    callback_url: str | None = None

    def result(self) -> DisbursementAnswer:
        return DisbursementAnswer(status=self.status, reason=self.reason, partner_reference=self.partner_reference)


class PaymentPartners:
    def __init__(self, faults: FaultBook, callback_sender: CallbackSender | None = None) -> None:
        self.faults = faults
        self.callback_sender = callback_sender
        self.accounts: dict[tuple[str, str], Account] = {}
        self.partners: dict[str, PartnerConfig] = {}
        self.ledgers: dict[str, dict[str, ReceivedDisbursement]] = {}
        self._references = itertools.count(1)
        # Strong references: the event loop keeps only weak ones to running tasks.
        self._settling: set[asyncio.Task[None]] = set()

    def add_account(self, client_code: str, account_number: str, nik: str, kyc: bool, status: str) -> None:
        self.accounts[client_code, account_number] = Account(nik, kyc, AccountStatus(status))

    def configure(self, client_code: str, sign_key: str | None, mode: str, callback_delay_ms: int) -> None:
        self.partners[client_code] = PartnerConfig(sign_key, PartnerMode(mode), callback_delay_ms)

    def received(self, client_code: str) -> list[ReceivedDisbursement]:
        return list(self.ledgers.get(client_code, {}).values())

    async def verify_account(self, partner: str, account_number: str, nik: str) -> EkycAnswer:
        await self.faults.before(_targets(partner))
        account = self.accounts.get((partner, account_number))
        reason = _kyc_failure(account, nik)
        self.faults.after(_targets(partner))
        return EkycAnswer(verified=reason is None, reason=reason)

    async def disburse(self, partner: str, request: DisbursementRequest) -> DisbursementAnswer:
        await self.faults.before(_targets(partner))
        ledger = self.ledgers.setdefault(partner, {})
        record = ledger.get(request.idempotency_key)
        if record is None:
            record = ledger[request.idempotency_key] = self._receive(partner, request)
        else:
            self.faults.on_repeat(_targets(partner))
            logger.info("disbursement %s at %s repeated: same answer, no new payment", record.idempotency_key, partner)
        self.faults.after_commit(_targets(partner))
        return record.result()

    async def status(self, partner: str, idempotency_key: str) -> DisbursementAnswer | None:
        await self.faults.before(_targets(partner))
        record = self.ledgers.get(partner, {}).get(idempotency_key)
        self.faults.after(_targets(partner))
        return record.result() if record else None

    async def statement(self, partner: str, day: date) -> list[StatementEntry]:
        await self.faults.before(_targets(partner))
        lines = [
            StatementEntry(
                idempotency_key=r.idempotency_key, amount=r.amount, status=r.status, received_at=r.received_at
            )
            for r in self.received(partner)
            if r.received_at.date() == day
        ]
        self.faults.after(_targets(partner))
        return lines

    async def drain(self) -> None:
        """Wait until every asynchronous disbursement has settled and its callbacks were sent."""
        while self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    def cancel(self) -> None:
        for task in self._settling:
            task.cancel()

    def _receive(self, partner: str, request: DisbursementRequest) -> ReceivedDisbursement:
        status, reason = _outcome(self.accounts.get((partner, request.account_number)), request)
        record = ReceivedDisbursement(
            **request.model_dump(include={"idempotency_key", "account_number", "amount", "nik", "callback_url"}),
            status=status,
            reason=reason,
            partner_reference=f"{partner}-{next(self._references):08d}",
            received_at=datetime.now(UTC),
        )
        if status is DisbursementStatus.SUCCEEDED and (
            fees := self.faults.firing(_targets(partner), FaultKind.FEE_DEDUCTION)
        ):
            record.amount = max(request.amount - (fees[0].amount or 0), 0)
            logger.info("fault: %s credits %s less %s", partner, record.idempotency_key, fees[0].amount)
        config = self.partners.get(partner, PartnerConfig())
        if config.mode is PartnerMode.ASYNC and request.callback_url:
            record.status, record.reason = DisbursementStatus.PENDING, None
            task = asyncio.create_task(self._settle(partner, record, status, reason, config))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
        logger.info("disbursement %s at %s: %s, will be %s", record.idempotency_key, partner, record.status, status)
        return record

    async def _settle(
        self,
        partner: str,
        record: ReceivedDisbursement,
        status: DisbursementStatus,
        reason: str | None,
        config: PartnerConfig,
    ) -> None:
        await asyncio.sleep(config.callback_delay_ms / 1000)
        record.status, record.reason = status, reason
        await self._call_back(partner, record, config)

    async def _call_back(self, partner: str, record: ReceivedDisbursement, config: PartnerConfig) -> None:
        if self.callback_sender is None or record.callback_url is None:
            return
        if self.faults.firing(_targets(partner), FaultKind.DROP_CALLBACK):
            logger.info("fault: callback for %s at %s dropped", record.idempotency_key, partner)
            return
        copies = 2 if self.faults.firing(_targets(partner), FaultKind.DUPLICATE_CALLBACK) else 1
        body = json.dumps(record.result().model_dump(mode="json")).encode()
        for _ in range(copies):
            headers = _callback_headers(partner, config.sign_key, record.callback_url, body)
            try:
                await self.callback_sender(record.callback_url, headers, body)
            except Exception as exc:  # a real partner gives up too; the platform can still ask for the status
                logger.warning("callback for %s at %s failed: %s", record.idempotency_key, partner, exc)


def _targets(partner: str) -> tuple[str, str]:
    return ("payment", f"payment:{partner}")


def _kyc_failure(account: Account | None, nik: str) -> str | None:
    if account is None:
        return "ACCOUNT_NOT_FOUND"
    if account.status is AccountStatus.CLOSED:
        return "ACCOUNT_CLOSED"
    if account.nik != nik:
        return "NIK_MISMATCH"
    return None if account.kyc else "KYC_NOT_COMPLETED"


def _outcome(account: Account | None, request: DisbursementRequest) -> tuple[DisbursementStatus, str | None]:
    if account is None:
        return DisbursementStatus.FAILED, "ACCOUNT_NOT_FOUND"
    if account.status is AccountStatus.CLOSED:
        return DisbursementStatus.FAILED, "ACCOUNT_CLOSED"
    if account.nik != request.nik:
        return DisbursementStatus.FAILED, "NIK_MISMATCH"
    if account.status is AccountStatus.LIMIT_EXCEEDED:
        return DisbursementStatus.FAILED, "LIMIT_EXCEEDED"
    return DisbursementStatus.SUCCEEDED, None


def _callback_headers(partner: str, sign_key: str | None, url: str, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if sign_key is None:
        # An unconfigured partner has no key to sign with; the platform will rightly refuse the callback.
        return headers | {"X-Client-Code": partner}
    path_with_query = httpx.URL(url).raw_path.decode("ascii")
    return headers | signed_headers(sign_key, partner, int(time.time()), "POST", path_with_query, body)
