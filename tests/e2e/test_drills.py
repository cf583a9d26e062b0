"""Fault drills on the money path, with every part a real OS process speaking real HTTP (tests/e2e/processes.py).

Each drill takes a new beneficiary (awarded in one shared wave) and its own payment partner, so a fault injected
for one drill touches nothing else, brings the beneficiary's first incentive to the partner, breaks something on
the way and then checks what a finance officer would: the ledger (payments, payment_attempts) equals the partner's
own records, no payment was paid under two keys and no key twice, and the journey is where it should be.
Written against behaviour (HTTP, database, simulator records) so they hold across a redesign of the payment path.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from db.models import AuditLog, Payment, PaymentAttempt
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import signed
from tests.e2e.processes import ProcessStack, process_stack
from tests.e2e.stack import ok, poll, register, staff_headers
from tests.workflows.harness import Person

pytestmark = pytest.mark.timeout(180)  # per drill, the shared stack's start included

# A programme month is ten real minutes: no second incentive, survey payment or deadline comes due while the
# drills run, so each drill sees exactly the one payment it provoked.
TIME_SCALE = 30 * 86400 / 600
INCENTIVE = 600_000
DRILLS = ("kill-worker", "restart-temporal", "storm", "after-commit", "conflict", "callbacks")
ASYNC_DRILLS = {"restart-temporal", "callbacks"}


@dataclass
class Drill:
    """One beneficiary and the payment partner its money goes to."""

    programme: "Programme"
    partner: str
    person: Person
    registration_id: str
    token: str

    @property
    def ref(self) -> str:
        return f"REF-{self.registration_id}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def payment_id(self) -> str:
        return f"PAY-{self.registration_id}-I1"

    async def me(self) -> dict[str, Any]:
        return ok(await self.programme.stack.http.get("/v1/me", headers=self.headers), 200)

    async def until(self, done: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
        return await poll(self.me, done, timeout)

    async def received(self) -> list[dict[str, Any]]:
        """What the partner itself recorded for this beneficiary."""
        records = await self.programme.stack.sim("GET", f"/sim/payments/{self.partner}")
        return [r for r in records if r["idempotency_key"].startswith(f"PAY-{self.registration_id}-")]

    async def fault(self, kind: str, **extra: Any) -> None:
        await self.programme.stack.sim(
            "POST", "/sim/faults", {"target": f"payment:{self.partner}", "kind": kind} | extra, 201
        )

    async def fired(self, kind: str) -> int:
        faults = await self.programme.stack.sim("GET", "/sim/faults")
        return sum(f["fired"] for f in faults if f["target"] == f"payment:{self.partner}" and f["kind"] == kind)

    async def link_account(self) -> None:
        """The beneficiary bought a course and links an account at the drill's partner (its e-KYC must pass)."""
        stack = self.programme.stack
        account = "0812" + self.person.nik[-8:]
        body = {"partner_client_code": self.partner, "account_number": account, "nik": self.person.nik, "kyc": True}
        await stack.sim("POST", "/sim/payment-accounts", body, 201)
        link = {"partner_client_code": self.partner, "account_number": account}
        linked = ok(await stack.http.put("/v1/me/payment-account", json=link, headers=self.headers), 200)
        assert linked["status"] == "VERIFIED"

    async def earn_incentive(self) -> None:
        """Completion and review: the journey now owes incentive 1 and sends it to the partner."""
        ref = self.ref
        done = {"purchase_ref": ref, "certificate_number": f"SERT-{ref}", "completed_at": datetime.now(UTC).isoformat()}
        await self.programme.partner_call(self.programme.provider, "/v1/partners/completions", done, 200)
        body = {"rating": 5, "text": "Bermanfaat"}
        ok(await self.programme.stack.http.post(f"/v1/me/trainings/{ref}/review", json=body, headers=self.headers), 200)

    async def paid(self, timeout: float = 30) -> dict[str, Any]:
        return await self.until(
            lambda v: any(p["number"] == 1 and p["status"] == "PAID" for p in v["payments"]), timeout
        )


class Programme:
    """The admin's partners and course, one payment partner per drill, registered before the worker starts."""

    def __init__(self, stack: ProcessStack) -> None:
        self.stack = stack
        suffix = uuid.uuid4().hex[:6].upper()
        self.market, self.provider = f"MKT-{suffix}", f"PRV-{suffix}"
        self.partners = {name: f"PAY-{name.upper()}-{suffix}" for name in DRILLS}
        self.keys: dict[str, str] = {}
        self.drills: dict[str, Drill] = {}
        self.settling: dict[str, asyncio.Task[dict[str, Any]]] = {}  # drills whose last wait overlaps others

    async def partner_call(self, code: str, path: str, body: dict[str, Any], status: int) -> Any:
        return ok(await signed(self.stack.http, "POST", path, code, self.keys[code], body), status)

    async def open(self) -> None:
        kinds = {self.market: "marketplace", self.provider: "training_provider"}
        for code, kind in (kinds | dict.fromkeys(self.partners.values(), "payment")).items():
            body = {"client_code": code, "kind": kind, "name": f"{code} Ltd"}
            created = ok(await self.stack.http.post("/v1/admin/partners", json=body, headers=self.stack.admin), 201)
            self.keys[code] = created["sign_key"]
        course = {"course_id": f"COURSE-{self.market}", "title": "Pemasaran Digital", "price": 350_000}
        course |= {"provider_client_code": self.provider}
        ok(await self.stack.http.post("/v1/admin/courses", json=course, headers=self.stack.admin), 201)
        for name, code in self.partners.items():
            # Asynchronous partners settle a second later by a signed callback to the live API.
            mode = "async" if name in ASYNC_DRILLS else "sync"
            config = {"client_code": code, "sign_key": self.keys[code], "mode": mode, "callback_delay_ms": 1000}
            await self.stack.sim("POST", "/sim/payment-partners", config, 201)

    async def award_all(self) -> None:
        """One registration per drill, one wave with room for all, each buys the course."""
        await asyncio.gather(*(self._register(name, code) for name, code in self.partners.items()))
        operator = await staff_headers(self.stack.http, self.stack.settings.admin_token, "operator")
        wave = {"name": "DRILLS", "quota": len(self.drills)}
        created = ok(await self.stack.http.post("/v1/waves", json=wave, headers=operator), 201)
        ok(await self.stack.http.post(f"/v1/waves/{created['wave_id']}/draw", json={}, headers=operator), 202)
        await asyncio.gather(*(self._buy(drill) for drill in self.drills.values()))

    async def _register(self, name: str, code: str) -> None:
        person = Person()
        registration = await register(self.stack.http, self.stack.simulators, person)
        drill = Drill(self, code, person, registration["registration_id"], registration["beneficiary_token"])
        await drill.until(lambda v: v["status"] == "WAITING_FOR_WAVE")
        self.drills[name] = drill

    async def _buy(self, drill: Drill) -> None:
        view = await drill.until(lambda v: v["status"] == "AWARDED")
        order = {"prakerja_number": view["prakerja_number"], "course_id": f"COURSE-{self.market}"}
        await self.partner_call(self.market, "/v1/partners/purchases", order | {"purchase_ref": drill.ref}, 201)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def programme(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Programme]:
    root = tmp_path_factory.mktemp("drills")
    async with process_stack(root, PRAKERJA_TIME_SCALE=str(TIME_SCALE)) as stack:
        live = Programme(stack)
        await live.open()
        await stack.start("worker")  # after the partners exist: it serves each one's queue from the start
        await live.award_all()
        yield live


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 20) -> Any:
    return await poll(check, bool, timeout)


# ---- what every drill ends with ------------------------------------------------------------------------------


async def ledger(stack: ProcessStack, registration_id: str) -> tuple[list[Payment], list[PaymentAttempt]]:
    engine = make_engine(stack.env["DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            payments = list(await session.scalars(select(Payment).where(Payment.registration_id == registration_id)))
            attempts = list(
                await session.scalars(
                    select(PaymentAttempt).where(PaymentAttempt.payment_id.in_([p.payment_id for p in payments]))
                )
            )
            return payments, attempts
    finally:
        await engine.dispose()


async def assert_books_balance(drill: Drill) -> None:
    """Ledger = partner records; one paid key per paid payment; the journey receives incentives."""
    stack = drill.programme.stack
    payments, attempts = await ledger(stack, drill.registration_id)
    received = {r["idempotency_key"]: r for r in await drill.received()}
    by_key = {a.idempotency_key: a for a in attempts}
    # Every key the partner holds is an attempt of the ledger, with the same partner, account and amount.
    assert received.keys() <= by_key.keys()
    for key, record in received.items():
        attempt = by_key[key]
        assert (attempt.partner_client_code, attempt.account_number) == (drill.partner, record["account_number"])
        assert attempt.amount == record["amount"]
        assert attempt.status == record["status"], (key, attempt.status, record)
    # And every success the ledger recorded is a payment the partner made.
    assert {a.idempotency_key for a in attempts if a.status == "SUCCEEDED"} <= received.keys()
    paid = [p for p in payments if p.status == "PAID"]
    assert [(p.kind, p.number, p.amount) for p in paid] == [("INCENTIVE", 1, INCENTIVE)]
    for payment in payments:
        succeeded = [r for k, r in received.items() if by_key[k].payment_id == payment.payment_id]
        succeeded = [r for r in succeeded if r["status"] == "SUCCEEDED"]
        # No payment was paid twice under two keys (a key is paid at most once: the partner dedupes by key).
        assert len(succeeded) == (1 if payment.status == "PAID" else 0), (payment.payment_id, succeeded)
    view = await drill.me()
    assert view["status"] == "INCENTIVES"
    shown = {(p["kind"], p["number"]): p["status"] for p in view["payments"]}
    assert shown.pop(("INCENTIVE", 1)) == "PAID"
    assert set(shown.values()) <= {"SCHEDULED"}  # the later ones are due in programme months, not yet sent
    stack.check()  # and every process is still the one the drill left running


# ---- the drills --------------------------------------------------------------------------------------------------


async def test_worker_killed_after_the_partner_paid(programme: Programme) -> None:
    """First half: the kill. The second half (`test_the_killed_workers_payment_is_paid_once`) runs last: the
    interrupted partner call is retried only when the server times it out (its start-to-close timeout), and
    that wait overlaps the other drills instead of adding to the file's wall time."""
    drill, stack = programme.drills["kill-worker"], programme.stack
    await drill.link_account()
    # The partner records and pays, then holds its answer back: the worker is killed while it waits for it.
    await drill.fault("timeout", ms=60_000)
    await drill.earn_incentive()
    [record] = await until(drill.received)
    assert record["status"] == "SUCCEEDED"
    payments, _ = await ledger(stack, drill.registration_id)
    assert [p.status for p in payments if p.kind == "INCENTIVE" and p.number == 1] != ["PAID"]
    stack.kill("worker")
    await stack.sim("DELETE", "/sim/faults")
    await stack.start("worker")
    programme.settling["kill-worker"] = asyncio.create_task(drill.paid(timeout=150))


async def test_dev_server_restarted_in_the_callback_window_pays_once(programme: Programme) -> None:
    drill, stack = programme.drills["restart-temporal"], programme.stack
    await drill.link_account()
    await drill.earn_incentive()
    [pending] = await until(drill.received)
    assert pending["status"] == "PENDING"
    stack.kill("temporal")
    # The partner settles and calls back while Temporal is down: the API answers 503 once its own retries give
    # up, and the partner does not call again. Only asking the partner for the key's status can settle it now.
    await until(lambda: _callback_refused(drill), timeout=30)
    await stack.start("temporal")
    await drill.paid(timeout=60)
    await assert_books_balance(drill)


async def _callback_refused(drill: Drill) -> bool:
    engine = make_engine(drill.programme.stack.env["DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            calls = await session.scalars(select(AuditLog).where(AuditLog.actor_id == drill.partner))
            return any(c.action.startswith("POST /v1/partners/disbursements/") and c.status_code == 503 for c in calls)
    finally:
        await engine.dispose()


async def test_a_long_5xx_storm_then_healing_pays_once(programme: Programme) -> None:
    drill = programme.drills["storm"]
    await drill.link_account()
    await drill.fault("error_5xx")
    started = time.monotonic()
    await drill.earn_incentive()
    # The storm lasts until the platform has been refused several times over at least a few seconds.
    await until(lambda: _refused_for(drill, started, times=3, seconds=4))
    assert await drill.received() == []
    await programme.stack.sim("DELETE", "/sim/faults")
    await drill.paid()
    await assert_books_balance(drill)


async def _refused_for(drill: Drill, started: float, times: int, seconds: float) -> bool:
    return await drill.fired("error_5xx") >= times and time.monotonic() - started >= seconds


async def test_a_5xx_after_the_partner_committed_pays_once(programme: Programme) -> None:
    drill = programme.drills["after-commit"]
    await drill.link_account()
    await drill.fault("error_5xx_after_commit", times=2)
    await drill.earn_incentive()
    await drill.paid()
    assert await drill.fired("error_5xx_after_commit") >= 1  # at least one answer was lost after the payment
    [record] = await drill.received()
    assert record["status"] == "SUCCEEDED"
    await assert_books_balance(drill)


async def test_a_409_on_the_repeated_key_is_resolved_by_asking_and_pays_once(programme: Programme) -> None:
    drill = programme.drills["conflict"]
    await drill.link_account()
    # The first answer is lost after the partner paid; every resend of the key is then refused with 409.
    await drill.fault("error_5xx_after_commit", times=1)
    await drill.fault("conflict_on_repeat")
    await drill.earn_incentive()
    await until(lambda: _fired(drill, "conflict_on_repeat"))
    await drill.paid(timeout=10)  # a status query answers at once: no backoff, no callback window to wait out
    await assert_books_balance(drill)


async def _fired(drill: Drill, kind: str) -> bool:
    return await drill.fired(kind) > 0


async def test_50_concurrent_duplicate_callbacks_settle_once(programme: Programme) -> None:
    drill, stack = programme.drills["callbacks"], programme.stack
    await drill.link_account()
    # The partner's own callback is lost; 50 copies of it then arrive at once, signed as the partner signs.
    await drill.fault("drop_callback")
    await drill.earn_incentive()
    [record] = await until(lambda: _settled_records(drill))
    path = f"/v1/partners/disbursements/{record['idempotency_key']}/status"
    body = {"status": record["status"], "reason": record["reason"], "partner_reference": record["partner_reference"]}
    key = programme.keys[drill.partner]
    answers = await asyncio.gather(*(signed(stack.http, "POST", path, drill.partner, key, body) for _ in range(50)))
    assert sorted({a.status_code for a in answers}) == [200], [a.text for a in answers if a.status_code != 200][:3]
    await drill.paid(timeout=10)  # well inside the callback window: the callbacks settled it, not a status check
    await assert_books_balance(drill)
    payments, attempts = await ledger(stack, drill.registration_id)
    assert [(a.idempotency_key, a.status) for a in attempts] == [(record["idempotency_key"], "SUCCEEDED")]


async def _settled_records(drill: Drill) -> list[dict[str, Any]]:
    return [r for r in await drill.received() if r["status"] != "PENDING"]


async def test_the_killed_workers_payment_is_paid_once(programme: Programme) -> None:
    """Second half of the worker kill: the server retried the interrupted call, the partner answered the key it
    already held, and the ledger recorded the one payment."""
    if "kill-worker" not in programme.settling:
        pytest.skip("runs after test_worker_killed_after_the_partner_paid")
    await programme.settling.pop("kill-worker")
    drill = programme.drills["kill-worker"]
    [record] = await drill.received()
    assert (record["idempotency_key"], record["status"]) == (f"{drill.payment_id}-A1", "SUCCEEDED")
    await assert_books_balance(drill)
