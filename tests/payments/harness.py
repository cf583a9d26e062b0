"""Payments under test: SimWorld partners behind a recording gateway, a real database, workers on the test server."""

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.payments import PaymentActivities
from adapters.errors import PartnerError, PartnerTimeout
from adapters.payment import DisbursementResult, DisburseRequest, KycResult, StatementLine
from core.domain import JourneyStatus, PartnerKind, PaymentKind
from core.payments import (
    AttemptStatusSignal,
    DisburseInput,
    DisburseResult,
    PaymentState,
    SettleAttemptInput,
    payment_id_for,
    payment_workflow_id,
)
from core.security import seal
from core.settings import Settings
from db.models import Beneficiary, Partner, Payment, PaymentAttempt
from simulators.inprocess import SimulatedPaymentGateway
from simulators.payments import CallbackSender
from simulators.world import SimWorld
from tests.api.ledger import beneficiary as beneficiary_row
from workers.payments import PAYMENT_WORKFLOWS
from workflows.disbursement import Disbursement

NIK = "3201010101900001"
OTHER_NIK = "3201010101900002"


class RecordingGateway:
    """The simulated gateway (same world, same faults), recording every call it passes on.

    `heal_after(n)` clears the world's faults after n failed calls, so a fault strikes a bounded number of
    times; `lose_before(n)` makes the next n disbursements time out before the partner sees them.
    """

    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.inner = SimulatedPaymentGateway(world)
        self.calls: list[tuple[str, str, str]] = []  # (operation, partner, idempotency key or account)
        self._heal_after: int | None = None
        self._lost = 0

    def heal_after(self, failures: int) -> None:
        self._heal_after = failures

    def lose_before(self, n: int) -> None:
        self._lost = n

    def count(self, operation: str) -> int:
        return sum(1 for op, _, _ in self.calls if op == operation)

    async def _call(self, coro):  # type: ignore[no-untyped-def]
        try:
            return await coro
        except PartnerError:
            if self._heal_after is not None:
                self._heal_after -= 1
                if self._heal_after <= 0:
                    self.world.clear_faults()
                    self._heal_after = None
            raise

    async def verify_account(self, partner: str, account_number: str, nik: str) -> KycResult:
        self.calls.append(("verify_account", partner, account_number))
        return await self._call(self.inner.verify_account(partner, account_number, nik))

    async def disburse(self, partner: str, request: DisburseRequest) -> DisbursementResult:
        self.calls.append(("disburse", partner, request.idempotency_key))
        if self._lost > 0:
            self._lost -= 1
            raise PartnerTimeout("simulated: the request was lost on the way")
        return await self._call(self.inner.disburse(partner, request))

    async def status(self, partner: str, idempotency_key: str) -> DisbursementResult | None:
        self.calls.append(("status", partner, idempotency_key))
        return await self._call(self.inner.status(partner, idempotency_key))

    async def statement(self, partner: str, day: date) -> list[StatementLine]:
        self.calls.append(("statement", partner, day.isoformat()))
        return await self._call(self.inner.statement(partner, day))


def signalling_sender(client: Client) -> CallbackSender:
    """Deliver a partner's callback straight to the payment workflow (the API's job, tested separately)."""

    async def send(url: str, headers: dict[str, str], body: bytes) -> None:
        attempt_id = httpx.URL(url).path.split("/")[-2]
        payload = json.loads(body)
        signal = AttemptStatusSignal(
            attempt_id=attempt_id,
            partner_client_code=headers["X-Client-Code"],
            status=payload["status"],
            reason=payload.get("reason"),
            partner_reference=payload.get("partner_reference"),
        )
        payment_id = attempt_id.rsplit("-A", 1)[0]
        await client.get_workflow_handle(payment_workflow_id(payment_id)).signal(Disbursement.attempt_status, signal)

    return send


@dataclass
class PaymentsHarness:
    client: Client
    settings: Settings
    world: SimWorld
    gateway: RecordingGateway
    sessions: async_sessionmaker[AsyncSession]
    partner_a: str
    partner_b: str
    started: list[WorkflowHandle] = field(default_factory=list)
    partner_workers: Any = None  # the PaymentWorkers serving this test's partner queues

    async def stop_all(self) -> None:
        """Terminate what the test left running: a workflow waiting on the time-skipping server pins its clock."""
        for handle in self.started:
            try:
                await handle.terminate("test finished")
            except Exception:  # already closed
                pass
        self.world.payments.cancel()

    async def add_partner(self, code: str, kind: PartnerKind = PartnerKind.PAYMENT, sign_key: str = "k" * 32) -> None:
        async with self.sessions.begin() as session:
            session.add(
                Partner(
                    client_code=code,
                    kind=kind,
                    name=code,
                    sign_key_sealed=seal(self.settings.secret_key, sign_key),
                )
            )

    async def beneficiary(self, status: JourneyStatus = JourneyStatus.INCENTIVES) -> str:
        row = beneficiary_row(status=status)
        async with self.sessions.begin() as session:
            session.add(row)
        return row.registration_id

    def account(self, partner: str, account: str | None = None, nik: str = NIK, **kw: object) -> str:
        account = account or "ACC-" + uuid.uuid4().hex[:10]
        self.world.add_payment_account(partner, account, nik, **kw)  # type: ignore[arg-type]
        return account

    async def start(
        self,
        *,
        account: str | None = None,
        partner: str | None = None,
        kind: PaymentKind = PaymentKind.INCENTIVE,
        number: int = 1,
        amount: int = 600_000,
        registration_id: str | None = None,
        task_queue: str | None = None,
    ) -> WorkflowHandle:
        partner = partner or self.partner_a
        registration_id = registration_id or await self.beneficiary()
        payment_id = payment_id_for(registration_id, kind, number)
        handle = await self.client.start_workflow(
            Disbursement.run,
            DisburseInput(
                payment_id=payment_id,
                registration_id=registration_id,
                kind=kind,
                number=number,
                amount=amount,
                partner_client_code=partner,
                account_number=account or self.account(partner),
                nik=NIK,
            ),
            id=payment_workflow_id(payment_id),
            task_queue=task_queue or self.settings.task_queue,
            result_type=DisburseResult,
        )
        self.started.append(handle)
        return handle

    async def payment(self, handle: WorkflowHandle) -> Payment:
        async with self.sessions() as session:
            found = await session.get(Payment, handle.id.removeprefix("payment-"))
            assert found is not None
            return found

    async def attempts(self, handle: WorkflowHandle) -> list[PaymentAttempt]:
        payment_id = handle.id.removeprefix("payment-")
        async with self.sessions() as session:
            rows = await session.scalars(
                select(PaymentAttempt)
                .where(PaymentAttempt.payment_id == payment_id)
                .order_by(PaymentAttempt.attempt_id)
            )
            return list(rows)

    async def status_of(self, registration_id: str) -> tuple[str, dict]:
        async with self.sessions() as session:
            b = await session.get(Beneficiary, registration_id)
            assert b is not None
            return b.status, dict(b.detail or {})

    def received(self, partner: str, status: str | None = None) -> list[str]:
        """Idempotency keys the partner itself recorded (optionally of one status)."""
        return [r.idempotency_key for r in self.world.payments.received(partner) if status in (None, r.status)]

    def assert_paid_at_most_once(self) -> None:
        """Every payment id was paid at most once across all partners, by the partners' own records."""
        paid = Counter(
            r.idempotency_key.rsplit("-A", 1)[0]
            for ledger in self.world.payments.ledgers.values()
            for r in ledger.values()
            if r.status == "SUCCEEDED"
        )
        assert all(n == 1 for n in paid.values()), paid


class HeldHold:
    """A `mark_on_hold` that commits the hold, then keeps its result from the workflow until `release()`:
    the moment the ledger (and the console) already shows ON_HOLD but the workflow has not heard it yet."""

    def __init__(self, harness: PaymentsHarness) -> None:
        self.ledger = PaymentActivities(harness.gateway, harness.sessions, harness.settings.api_public_url)
        self.committed = asyncio.Event()
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    @activity.defn(name="mark_on_hold")
    async def mark_on_hold(self, input: SettleAttemptInput) -> None:
        await self.ledger.mark_on_hold(input)
        self.committed.set()
        await self._released.wait()


@asynccontextmanager
async def queue_holding_back(harness: PaymentsHarness, held: HeldHold) -> AsyncIterator[str]:
    """A journey queue of its own whose workers run `held.mark_on_hold`; yields its name for `start(task_queue=)`."""
    queue = f"{harness.settings.task_queue}-held-{uuid.uuid4().hex[:6]}"
    ledger = held.ledger
    activities = [ledger.open_payment, ledger.mark_paid, held.mark_on_hold, ledger.cancel, ledger.record_late_success]
    async with Worker(harness.client, task_queue=queue, workflows=list(PAYMENT_WORKFLOWS), activities=activities):
        yield queue


async def wait_state(handle: WorkflowHandle, *statuses: str, timeout: float = 10) -> PaymentState:
    """Poll the workflow's query in real time (polling does not skip time on the test server)."""
    async with asyncio.timeout(timeout):
        while True:
            state = await handle.query(Disbursement.state)
            if state.status in statuses:
                return state
            await asyncio.sleep(0.05)


async def until(predicate: Callable[[], object], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def waiting_on_timer(handle: WorkflowHandle, timeout: float = 10) -> None:
    """Until the workflow's history shows a timer started: it waits, with no activity or task in flight."""
    async with asyncio.timeout(timeout):
        while True:
            history = await handle.fetch_history()
            if any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in history.events):
                return
            await asyncio.sleep(0.05)
