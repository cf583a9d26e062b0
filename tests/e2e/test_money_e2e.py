"""Journey part 3 end to end, over real sockets, with four programme "months" passing in about twelve seconds.

Simulators and API under uvicorn, the Temporal dev server, the journey worker and one worker per payment
partner with HTTP adapters. The e-wallet settles asynchronously: every outcome reaches the platform as a
signed callback to the live API. The test speaks HTTP only and checks the money three ways: the payment
partners' own records (`/sim/payments/...`), the beneficiary's ledger view, and the reconciliation report.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.contracts import journey_id
from db.models import AuditLog, Payment, PaymentAttempt
from db.session import make_sessionmaker
from tests.api.helpers import signed
from tests.e2e.stack import Stack, ok, poll, register, stack, staff_headers
from tests.workflows.harness import NO_PURCHASE_RACE, Person

MONTH_S = 3  # one programme month of real time: the 2020 schedule (4 instalments, surveys to day 120) ≈ 12 s
TIME_SCALE = 30 * 86400 / MONTH_S
INCENTIVE, SURVEY = 600_000, 50_000


class Programme:
    """The partners the admin registered, and the HTTP calls each party makes."""

    def __init__(self, live: Stack, suffix: str, keys: dict[str, str]) -> None:
        self.live, self.keys = live, keys
        self.market, self.provider = f"MKT-{suffix}", f"PRV-{suffix}"
        self.ewallet, self.bank = f"EWALLET-{suffix}", f"BANK-{suffix}"

    async def partner(self, code: str, path: str, body: dict[str, Any], status: int) -> Any:
        return ok(await signed(self.live.http, "POST", path, code, self.keys[code], body), status)

    async def train(self, card: str, ref: str) -> None:
        order = {"prakerja_number": card, "course_id": f"COURSE-{self.market}", "purchase_ref": ref}
        await self.partner(self.market, "/v1/partners/purchases", order, 201)

    async def complete(self, ref: str) -> None:
        done = {"purchase_ref": ref, "certificate_number": f"SERT-{ref}", "completed_at": datetime.now(UTC).isoformat()}
        await self.partner(self.provider, "/v1/partners/completions", done, 200)

    async def account(self, partner: str, number: str, person: Person, status: str = "ACTIVE") -> None:
        body = {"partner_client_code": partner, "account_number": number, "nik": person.nik, "kyc": True}
        await self.live.sim("POST", "/sim/payment-accounts", body | {"status": status}, 201)

    async def received(self, partner: str, registration_id: str) -> list[dict[str, Any]]:
        """What the partner itself recorded for this beneficiary (attempt keys start with the payment id)."""
        records = await self.live.sim("GET", f"/sim/payments/{partner}")
        return [r for r in records if r["idempotency_key"].startswith(f"PAY-{registration_id}-")]


class Beneficiary:
    def __init__(self, programme: Programme, person: Person, registration: dict[str, Any]) -> None:
        self.programme, self.http, self.person = programme, programme.live.http, person
        self.registration_id = registration["registration_id"]
        self.headers = {"Authorization": f"Bearer {registration['beneficiary_token']}"}

    async def me(self) -> dict[str, Any]:
        return ok(await self.http.get("/v1/me", headers=self.headers), 200)

    async def until(self, done: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
        return await poll(self.me, done, timeout)

    async def link(self, partner: str, number: str) -> None:
        body = {"partner_client_code": partner, "account_number": number}
        linked = ok(await self.http.put("/v1/me/payment-account", json=body, headers=self.headers), 200)
        assert linked["status"] == "VERIFIED"

    async def review(self, ref: str) -> None:
        body = {"rating": 5, "text": "Bermanfaat"}
        ok(await self.http.post(f"/v1/me/trainings/{ref}/review", json=body, headers=self.headers), 200)

    async def answer_surveys_until_completed(self) -> tuple[dict[str, Any], list[int]]:
        """Answer each survey while it is open, as a beneficiary checking the app would, until COMPLETED."""
        answered: list[int] = []

        async def look() -> dict[str, Any]:
            view = await self.me()
            for survey in view["surveys"]:
                if survey["status"] == "OPEN" and survey["survey_no"] not in answered:
                    path = f"/v1/me/surveys/{survey['survey_no']}"
                    answers = {"employed": True, "skills_used": "pemasaran digital"}
                    ok(await self.http.post(path, json={"answers": answers}, headers=self.headers), 200)
                    answered.append(survey["survey_no"])
            return view

        return await poll(look, lambda v: v["status"] == "COMPLETED", timeout=45), answered


async def open_programme(live: Stack) -> Programme:
    """The admin registers the partners and a course; the simulators learn the payment partners' keys."""
    suffix = uuid.uuid4().hex[:6].upper()  # partner codes name task queues: unique per test run
    codes = {
        f"MKT-{suffix}": "marketplace",
        f"PRV-{suffix}": "training_provider",
        f"EWALLET-{suffix}": "payment",
        f"BANK-{suffix}": "payment",
    }
    keys = {}
    for code, kind in codes.items():
        body = {"client_code": code, "kind": kind, "name": f"{code} Ltd"}
        keys[code] = ok(await live.http.post("/v1/admin/partners", json=body, headers=live.admin), 201)["sign_key"]
    programme = Programme(live, suffix, keys)
    course = {"course_id": f"COURSE-{programme.market}", "title": "Pemasaran Digital", "price": 350_000}
    course |= {"provider_client_code": programme.provider}
    ok(await live.http.post("/v1/admin/courses", json=course, headers=live.admin), 201)
    for code, mode in ((programme.ewallet, "async"), (programme.bank, "sync")):
        partner = {"client_code": code, "sign_key": keys[code], "mode": mode}
        await live.sim("POST", "/sim/payment-partners", partner, 201)
    # A worker process finds new payment partners within REFRESH_INTERVAL_S (10 s); don't wait for it here.
    assert set(await live.payment_workers.refresh()) >= {programme.ewallet, programme.bank}
    return programme


async def awarded(programme: Programme, people: list[Person]) -> list[Beneficiary]:
    """Register everyone, draw one wave with room for all of them, and wait until all are awarded."""
    live = programme.live
    beneficiaries = [Beneficiary(programme, p, await register(live.http, live.simulators, p)) for p in people]
    for b in beneficiaries:
        await b.until(lambda v: v["status"] == "WAITING_FOR_WAVE")
    operator = await staff_headers(live.http, live.settings.admin_token, "operator")
    wave = ok(await live.http.post("/v1/waves", json={"name": "E2E", "quota": len(people)}, headers=operator), 201)
    ok(await live.http.post(f"/v1/waves/{wave['wave_id']}/draw", json={}, headers=operator), 202)
    for b in beneficiaries:
        await b.until(lambda v: v["status"] == "AWARDED")
    return beneficiaries


async def paid_in_full(b: Beneficiary, ref: str) -> None:
    """Links an e-wallet, trains, reviews, answers every survey: 4 × 600k + 3 × 50k, each exactly once."""
    programme, account = b.programme, "081200001111"
    await programme.account(programme.ewallet, account, b.person)
    await b.link(programme.ewallet, account)
    await programme.complete(ref)
    await b.review(ref)

    view, answered = await b.answer_surveys_until_completed()

    assert sorted(answered) == [1, 2, 3]
    assert [s["status"] for s in view["surveys"]] == ["SUBMITTED"] * 3
    received = await programme.received(programme.ewallet, b.registration_id)
    assert sorted(r["amount"] for r in received) == sorted([INCENTIVE] * 4 + [SURVEY] * 3)
    assert {(r["account_number"], r["status"]) for r in received} == {(account, "SUCCEEDED")}
    ledger = view["payments"]
    assert sorted((p["kind"], p["number"], p["amount"]) for p in ledger) == sorted(
        [("INCENTIVE", n, INCENTIVE) for n in range(1, 5)] + [("SURVEY", n, SURVEY) for n in range(1, 4)]
    )
    assert {(p["status"], p["partner_client_code"]) for p in ledger} == {("PAID", programme.ewallet)}
    # Key by key: one attempt per ledger row, and that attempt's key is the only one the partner ever saw.
    assert sorted(r["idempotency_key"] for r in received) == sorted(f"{p['payment_id']}-A1" for p in ledger)
    assert (await programme.received(programme.bank, b.registration_id)) == []


async def held_then_retried(b: Beneficiary, ref: str, dev_env) -> None:  # type: ignore[no-untyped-def]
    """The e-wallet account is closed after linking: incentive 1 waits ON_HOLD until support sends it elsewhere."""
    programme, live = b.programme, b.programme.live
    closing, new_account = "081200002222", "1234567890"
    await programme.account(programme.ewallet, closing, b.person)
    await programme.account(programme.bank, new_account, b.person)
    await b.link(programme.ewallet, closing)
    await programme.account(programme.ewallet, closing, b.person, status="CLOSED")
    await programme.complete(ref)
    await b.review(ref)
    support = await staff_headers(live.http, live.settings.admin_token, "support")

    async def on_hold() -> list[dict[str, Any]]:
        page = ok(await live.http.get("/v1/support/payments?status=ON_HOLD", headers=support), 200)
        return [p for p in page["items"] if p["registration_id"] == b.registration_id]

    [held] = await poll(on_hold, bool)
    assert (held["kind"], held["number"], held["amount"]) == ("INCENTIVE", 1, INCENTIVE)
    assert (held["reason"], held["partner_client_code"], held["attempts"]) == ("ACCOUNT_CLOSED", programme.ewallet, 1)
    view = await b.until(lambda v: v["status"] == "PAYMENT_ON_HOLD")
    assert [(p["number"], p["status"]) for p in view["payments"] if p["kind"] == "INCENTIVE"][0] == (1, "ON_HOLD")

    retry = {"partner_client_code": programme.bank, "account_number": new_account}
    path = f"/v1/support/payments/{held['payment_id']}/retry"
    ok(await live.http.post(path, json=retry, headers=support), 202)
    view = await b.until(
        lambda v: any(p["payment_id"] == held["payment_id"] and p["status"] == "PAID" for p in v["payments"])
    )

    [first] = [p for p in view["payments"] if p["payment_id"] == held["payment_id"]]
    assert first["partner_client_code"] == programme.bank
    [paid] = await programme.received(programme.bank, b.registration_id)
    assert (paid["idempotency_key"], paid["amount"]) == (f"{held['payment_id']}-A2", INCENTIVE)
    assert (paid["account_number"], paid["status"]) == (new_account, "SUCCEEDED")
    failed = [
        r
        for r in await programme.received(programme.ewallet, b.registration_id)
        if r["idempotency_key"].endswith("-I1-A1")
    ]
    assert [(r["status"], r["reason"]) for r in failed] == [("FAILED", "ACCOUNT_CLOSED")]
    # Later instalments follow the payment to the account support moved it to, and the view says so.
    assert view["payment_account"]["partner_client_code"] == programme.bank
    await dev_env.client.get_workflow_handle(journey_id(b.registration_id)).terminate("end-to-end test finished")


async def partner_calls(engine, client_code: str, action: str) -> list[AuditLog]:  # type: ignore[no-untyped-def]
    async with make_sessionmaker(engine)() as session:
        rows = await session.scalars(select(AuditLog).where(AuditLog.actor_id == client_code))
        return [r for r in rows if r.action.startswith(action)]


async def ledger_days(engine, *registration_ids: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The UTC days the ledger dates these journeys' payments and failed attempts on (two if they ran past
    midnight): the days a reconciliation of them must cover."""
    async with make_sessionmaker(engine)() as session:
        paid = await session.scalars(
            select(Payment.paid_at).where(Payment.registration_id.in_(registration_ids), Payment.paid_at.is_not(None))
        )
        failed = await session.scalars(
            select(PaymentAttempt.resolved_at)
            .join(Payment, Payment.payment_id == PaymentAttempt.payment_id)
            .where(Payment.registration_id.in_(registration_ids), PaymentAttempt.resolved_at.is_not(None))
        )
        return sorted({at.date().isoformat() for at in [*paid, *failed] if at is not None})


def summed(reports: list[dict[str, Any]], code: str) -> dict[str, Any]:
    """One partner's figures over the reports of several days."""
    rows = [next(p for p in r["partners"] if p["partner_client_code"] == code) for r in reports]
    figures = ("paid_count", "paid_sum", "partner_paid_count", "partner_paid_sum", "failed")
    return {f: sum(row[f] for row in rows) for f in figures} | {"matches": all(row["matches"] for row in rows)}


async def test_incentives_and_surveys_are_paid_exactly_once_end_to_end(dev_env, engine):
    # A programme month is 3 s here; awards pin a first-purchase deadline a slow machine cannot miss.
    async with stack(dev_env, engine, "e2e-money", terms=NO_PURCHASE_RACE, time_scale=TIME_SCALE) as live:
        programme = await open_programme(live)
        full, held = await awarded(programme, [Person(), Person()])
        try:
            for b, ref in ((full, "TOKO-A"), (held, "TOKO-B")):
                await programme.train((await b.me())["prakerja_number"], ref)
            await asyncio.gather(paid_in_full(full, "TOKO-A"), held_then_retried(held, "TOKO-B", dev_env))

            support = await staff_headers(live.http, live.settings.admin_token, "support")
            reports = [
                ok(await live.http.get(f"/v1/support/reconciliation?date={day}", headers=support), 200)
                for day in await ledger_days(engine, full.registration_id, held.registration_id)
            ]
            ewallet, bank = summed(reports, programme.ewallet), summed(reports, programme.bank)
            assert (ewallet["paid_count"], ewallet["paid_sum"]) == (7, 4 * INCENTIVE + 3 * SURVEY)
            assert (ewallet["partner_paid_count"], ewallet["partner_paid_sum"]) == (7, 4 * INCENTIVE + 3 * SURVEY)
            assert ewallet["failed"] >= 1  # the closed account's attempt
            assert (bank["paid_count"], bank["paid_sum"], bank["partner_paid_sum"]) == (1, INCENTIVE, INCENTIVE)
            assert (ewallet["matches"], bank["matches"]) == (True, True)
            assert all(r["matches"] for r in reports)
            # The e-wallet settled every one of those by a signed callback to the live API (audited).
            callbacks = await partner_calls(engine, programme.ewallet, "POST /v1/partners/disbursements/")
            assert {f"PAY-{full.registration_id}-{k}" for k in ("I1", "I2", "I3", "I4", "S1", "S2", "S3")} <= {
                c.detail["payment_id"] for c in callbacks if c.status_code == 200
            }
        finally:
            for b in (full, held):
                try:
                    await dev_env.client.get_workflow_handle(journey_id(b.registration_id)).terminate("test finished")
                except Exception:  # already completed or terminated
                    pass
