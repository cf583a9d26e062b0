"""The money endpoints over the real app: linking a payment account (e-KYC), surveys, support's list and retry.

The app, a worker with payment-partner workers and simulated partners (a `SimWorld`) on the Temporal dev
server; tests speak HTTP and check what the beneficiary, support and the payment partners themselves see.
Tests run in real programme time, where nothing is due for 30 days, so every state they look at holds still;
only what needs a window to close compresses programme time (one month = 3 s).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.temporal import data_converter
from db.models import AuditLog
from db.session import make_sessionmaker
from simulators.world import SimWorld
from tests.api.helpers import admin, assert_problem, bearer, register_partner, serve
from tests.api.live import Live
from tests.api.training import Card, Shop, open_shop
from tests.conftest import BIN
from tests.conftest import test_settings as settings_for
from tests.workflows.harness import NO_PURCHASE_RACE, journey_activities_pinning
from workers.composition import build_adapters
from workers.main import build_workers
from workers.payments import build_payment_workers

MONTH_S = 3.0
FAST = 30 * 86400 / MONTH_S
INCENTIVE, SURVEY = 600_000, 50_000
ACCOUNT = "081234567890"


def ref(card: Card) -> str:
    return f"REF-{card.registration_id}"


@dataclass
class Money:
    shop: Shop
    ewallet: str
    bank: str

    @property
    def live(self) -> Live:
        return self.shop.live

    @property
    def http(self) -> httpx.AsyncClient:
        return self.shop.live.http

    @property
    def world(self) -> SimWorld:
        return self.shop.live.world

    async def trained(self, n: int = 1) -> list[Card]:
        """`n` awarded cards that each bought a course at once (the first-purchase deadline runs from the award)."""
        cards = await self.shop.awarded(n)
        for card in cards:
            assert (await self.shop.buy(card, ref(card))).status_code == 201
        return cards

    async def complete(self, card: Card) -> dict[str, Any]:
        assert (await self.shop.complete(ref(card))).status_code == 200
        return await self.live.wait_me(card.token, "INCENTIVES")

    async def review(self, card: Card) -> None:
        assert (await self.shop.review(card, ref(card), {"rating": 5, "text": "Bagus"})).status_code == 200

    def account(self, card: Card, partner: str, number: str = ACCOUNT, **kw: Any) -> str:
        self.world.add_payment_account(partner, number, kw.pop("nik", card.nik), **kw)
        return number

    async def link(self, card: Card, partner: str, number: str) -> httpx.Response:
        body = {"partner_client_code": partner, "account_number": number}
        return await self.http.put("/v1/me/payment-account", json=body, headers=bearer(card.token))

    async def survey(self, card: Card, survey_no: int | str, body: Any = None) -> httpx.Response:
        body = {"answers": {"employed": True, "skills_used": "digital marketing"}} if body is None else body
        return await self.http.post(f"/v1/me/surveys/{survey_no}", json=body, headers=bearer(card.token))

    async def until(self, card: Card, done: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
        last: dict[str, Any] = {}
        try:
            async with asyncio.timeout(timeout):
                while not done(last := await self.shop.me(card)):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"the view never got there; last seen {last}") from None
        return last


@asynccontextmanager
async def money_app(  # type: ignore[no-untyped-def]
    dev_env, engine, time_scale: float, terms: dict[str, Any] | None = None
) -> AsyncIterator[Money]:
    """The app, a journey worker and the payment-partner workers (as one worker process), on the dev server;
    awards pin the profile's terms updated with `terms`."""
    settings = settings_for(
        database_url=engine.url.render_as_string(hide_password=False),
        task_queue=f"money-{uuid.uuid4().hex[:8]}",
        time_scale=time_scale,
    )
    world, sessions = SimWorld(), make_sessionmaker(engine)
    adapters = build_adapters(settings, world=world)
    activities = journey_activities_pinning(settings, adapters, sessions, **(terms or {}))
    [worker] = build_workers(dev_env.client, settings, adapters, sessions, activities)
    app = create_app(settings, temporal_client=dev_env.client)
    async with worker, serve(app) as http:
        live = Live(http, settings, world, sessions, dev_env.client)
        shop = await open_shop(live)
        suffix = uuid.uuid4().hex[:6].upper()  # partner codes name their task queues: unique per test
        ewallet, bank = f"EWA-{suffix}", f"BNK-{suffix}"
        for code in (ewallet, bank):
            await register_partner(http, settings, code, "payment")
        # Registered before the payment workers start, so their first look at the database finds them.
        async with build_payment_workers(dev_env.client, settings, adapters, sessions):
            try:
                yield Money(shop, ewallet, bank)
            finally:
                await live.terminate_all()
    await engine.dispose()  # see live_app: no pooled connection may keep SQLite's write lock


@pytest_asyncio.fixture
async def money(dev_env, engine) -> AsyncIterator[Money]:
    """Real programme time: nothing falls due during a test."""
    async with money_app(dev_env, engine, 1.0) as m:
        yield m


@pytest_asyncio.fixture
async def fast_money(dev_env, engine) -> AsyncIterator[Money]:
    """One programme month = 3 s, with the profile's own terms: even the first-purchase deadline (3 s after the
    award) passes while the test watches, so buy at once or test that deadline."""
    async with money_app(dev_env, engine, FAST) as m:
        yield m


@pytest_asyncio.fixture
async def fast_surveys(dev_env, engine) -> AsyncIterator[Money]:
    """One programme month = 3 s: survey windows open and close while the test watches. Awards pin a long
    first-purchase deadline, which a slow machine cannot miss between award and purchase."""
    async with money_app(dev_env, engine, FAST, NO_PURCHASE_RACE) as m:
        yield m


def incentives(view: dict[str, Any]) -> list[tuple[int, str]]:
    return sorted((p["number"], p["status"]) for p in view["payments"] if p["kind"] == "INCENTIVE")


def survey_statuses(view: dict[str, Any]) -> list[str]:
    return [s["status"] for s in sorted(view["surveys"], key=lambda s: s["survey_no"])]


def paid(view: dict[str, Any], kind: str, number: int) -> dict[str, Any] | None:
    return next((p for p in view["payments"] if (p["kind"], p["number"], p["status"]) == (kind, number, "PAID")), None)


# --- linking a payment account ---


async def test_linking_needs_an_awarded_journey_and_a_beneficiary_token(money):
    waiting = money.live.citizen()
    token = (await money.live.register(waiting))["beneficiary_token"]
    await money.live.wait_me(token, "WAITING_FOR_WAVE")
    money.world.add_payment_account(money.ewallet, ACCOUNT, waiting.nik)
    body = {"partner_client_code": money.ewallet, "account_number": ACCOUNT}

    before_award = await money.http.put("/v1/me/payment-account", json=body, headers=bearer(token))
    anonymous = await money.http.put("/v1/me/payment-account", json=body)
    survey_before_training = await money.http.post("/v1/me/surveys/1", json={"answers": {}}, headers=bearer(token))

    assert_problem(before_award, 409, "NOT_AWARDED")
    assert_problem(anonymous, 401, "UNAUTHENTICATED")
    assert_problem(survey_before_training, 409, "SURVEY_NOT_OPEN")  # survey 1 exists, it has not opened
    assert money.world.payments.received(money.ewallet) == []


async def test_the_view_says_what_the_first_incentive_waits_for_until_an_account_passes_ekyc(money):
    [card] = await money.trained()
    view = await money.complete(card)
    assert view["waiting_for"] == ["REVIEW", "PAYMENT_ACCOUNT"]
    assert view["payments"] == [
        {
            "payment_id": f"PAY-{card.registration_id}-I{n}",
            "kind": "INCENTIVE",
            "number": n,
            "amount": INCENTIVE,
            "status": "SCHEDULED",
            "partner_client_code": None,
            "reason": None,
        }
        for n in range(1, 5)
    ]
    assert survey_statuses(view) == ["OPEN", "PENDING", "PENDING"]  # survey 1 opens at the first completion
    assert view["payment_account"] is None
    await money.review(card)
    reviewed = await money.until(card, lambda v: v["purchases"][0]["reviewed"])
    assert reviewed["waiting_for"] == ["PAYMENT_ACCOUNT"]

    refusals = {
        "ACCOUNT_NOT_FOUND": "081200000404",  # never opened at this partner
        "KYC_NOT_COMPLETED": money.account(card, money.ewallet, "081200000001", kyc=False),
        "NIK_MISMATCH": money.account(card, money.ewallet, "081200000002", nik="3299999999999999"),
        "ACCOUNT_CLOSED": money.account(card, money.ewallet, "081200000003", status="CLOSED"),
    }
    for reason, number in refusals.items():
        problem = assert_problem(await money.link(card, money.ewallet, number), 422, "EKYC_FAILED")
        assert problem["reason"] == reason
    assert_problem(await money.link(card, "MKT-A", ACCOUNT), 422, "UNKNOWN_PAYMENT_PARTNER")
    assert_problem(await money.link(card, "NO-SUCH-PARTNER", ACCOUNT), 422, "UNKNOWN_PAYMENT_PARTNER")
    for malformed in ("12ab5678", "123", "0812 3456 7890", ""):
        assert_problem(await money.link(card, money.ewallet, malformed), 422, "VALIDATION_ERROR")
    view = await money.shop.me(card)
    assert (view["waiting_for"], view["payment_account"]) == (["PAYMENT_ACCOUNT"], None)
    assert money.world.payments.received(money.ewallet) == []  # waits, never skipped nor paid elsewhere

    linked = await money.link(card, money.ewallet, money.account(card, money.ewallet))

    assert (linked.status_code, linked.json()["status"]) == (200, "VERIFIED")
    view = await money.until(card, lambda v: paid(v, "INCENTIVE", 1) is not None)
    assert incentives(view) == [(1, "PAID"), (2, "SCHEDULED"), (3, "SCHEDULED"), (4, "SCHEDULED")]
    assert paid(view, "INCENTIVE", 1)["partner_client_code"] == money.ewallet  # type: ignore[index]
    assert view["waiting_for"] == []
    assert view["payment_account"] == {"partner_client_code": money.ewallet, "account_number_masked": "********7890"}
    [received] = money.world.payments.received(money.ewallet)
    assert (received.account_number, received.amount, received.status) == (ACCOUNT, INCENTIVE, "SUCCEEDED")

    # Switching partner later is allowed (it affects unpaid instalments only).
    switched = await money.link(card, money.bank, money.account(card, money.bank, "5550001111"))
    assert switched.status_code == 200, switched.text
    assert (await money.shop.me(card))["payment_account"]["partner_client_code"] == money.bank


# --- surveys ---


async def test_surveys_are_accepted_once_inside_their_window_and_pay_their_incentive(money):
    [answering] = await money.trained()
    assert (await money.link(answering, money.ewallet, money.account(answering, money.ewallet))).status_code == 200
    await money.complete(answering)
    # Survey 1 opens at the first completion and closes a programme month later; survey 2 opens then.

    racing = await asyncio.gather(*(money.survey(answering, 1) for _ in range(5)))
    again = await money.survey(answering, 1)
    too_early = await money.survey(answering, 2)
    unknown = await money.survey(answering, 9)
    malformed = ({"answers": ["yes"]}, {"answers": "yes"}, {"answers": None}, {})
    not_an_object = [await money.survey(answering, 2, body) for body in malformed]

    assert sorted(r.status_code for r in racing) == [200, 409, 409, 409, 409]
    [accepted] = [r for r in racing if r.status_code == 200]
    assert accepted.json() == {"survey_no": 1, "status": "SUBMITTED"}
    for refused in (r for r in racing if r.status_code == 409):
        assert_problem(refused, 409, "SURVEY_ALREADY_SUBMITTED")
    assert_problem(again, 409, "SURVEY_ALREADY_SUBMITTED")
    assert_problem(too_early, 409, "SURVEY_NOT_OPEN")
    assert_problem(unknown, 404, "SURVEY_NOT_FOUND")
    for bad in not_an_object:
        assert_problem(bad, 422, "VALIDATION_ERROR")
    assert survey_statuses(await money.shop.me(answering))[:2] == ["SUBMITTED", "PENDING"]

    view = await money.until(answering, lambda v: paid(v, "SURVEY", 1) is not None)
    assert paid(view, "SURVEY", 1)["amount"] == SURVEY  # type: ignore[index]
    surveys_paid = [p for p in money.world.payments.received(money.ewallet) if p.amount == SURVEY]
    assert [(p.idempotency_key, p.status) for p in surveys_paid] == [
        (f"PAY-{answering.registration_id}-S1-A1", "SUCCEEDED")
    ]


async def test_a_survey_left_unanswered_closes_for_good_when_its_month_is_over(fast_surveys):
    money = fast_surveys
    [silent] = await money.trained()
    assert (await money.link(silent, money.ewallet, money.account(silent, money.ewallet))).status_code == 200
    await money.complete(silent)

    closes = datetime.fromisoformat((await money.shop.me(silent))["surveys"][0]["closes_at"])
    await asyncio.sleep(max((closes - datetime.now(UTC)).total_seconds(), 0) + 0.2)

    assert_problem(await money.survey(silent, 1), 409, "SURVEY_NOT_OPEN")
    assert survey_statuses(await money.shop.me(silent))[0] == "EXPIRED"
    assert [p for p in money.world.payments.received(money.ewallet) if p.amount == SURVEY] == []


async def test_a_survey_the_journey_never_heard_of_is_not_kept_so_the_next_try_counts(money):
    [card] = await money.trained()
    assert (await money.link(card, money.ewallet, money.account(card, money.ewallet))).status_code == 200
    await money.complete(card)
    settings = money.live.settings
    async with await WorkflowEnvironment.start_local(dev_server_existing_path=str(BIN / "temporal")) as doomed:
        gone = await Client.connect(
            doomed.client.service_client.config.target_host,
            data_converter=data_converter(settings.codec_keys),
            retry_config=RetryConfig(max_retries=1, initial_interval_millis=10, max_elapsed_time_millis=100),
        )
    async with serve(create_app(settings, temporal_client=gone)) as during_outage:  # Temporal went away
        body = {"answers": {"employed": False}}
        lost = await during_outage.post("/v1/me/surveys/1", json=body, headers=bearer(card.token))

    assert_problem(lost, 503, "TEMPORAL_UNAVAILABLE")
    assert survey_statuses(await money.shop.me(card))[0] == "OPEN"
    retried = await money.survey(card, 1)
    assert retried.status_code == 200, retried.text
    view = await money.until(card, lambda v: paid(v, "SURVEY", 1) is not None)
    assert survey_statuses(view)[0] == "SUBMITTED"


# --- support: payments on hold and their retry ---


async def test_support_sees_a_payment_held_by_a_closed_account_and_retries_it_to_a_new_one(money):
    [card] = await money.trained()
    await money.complete(card)
    assert (await money.link(card, money.ewallet, money.account(card, money.ewallet))).status_code == 200
    money.account(card, money.ewallet, status="CLOSED")  # closed after linking ...
    await money.review(card)  # ... so incentive 1, due now, is refused by the partner
    await money.live.wait_me(card.token, "PAYMENT_ON_HOLD")
    settings = money.live.settings
    minted = await money.http.post("/v1/admin/staff-tokens", json={"role": "support"}, headers=admin(settings))
    support_id, support = minted.json()["staff_id"], bearer(minted.json()["token"])
    payment_id = f"PAY-{card.registration_id}-I1"

    listed = await money.http.get("/v1/support/payments", params={"status": "ON_HOLD"}, headers=support)

    assert listed.status_code == 200, listed.text
    [item] = [i for i in listed.json()["items"] if i["registration_id"] == card.registration_id]
    assert item == {
        "payment_id": payment_id,
        "registration_id": card.registration_id,
        "kind": "INCENTIVE",
        "number": 1,
        "amount": INCENTIVE,
        "status": "ON_HOLD",
        "reason": "ACCOUNT_CLOSED",
        "partner_client_code": money.ewallet,
        "attempts": 1,
    }

    url = f"/v1/support/payments/{payment_id}/retry"
    new_account = {"partner_client_code": money.bank, "account_number": "5550002222"}
    anonymous = await money.http.post(url, json=new_account)
    by_operator = await money.http.post(url, json=new_account, headers=await money.live.staff("operator"))
    assert_problem(anonymous, 401, "UNAUTHENTICATED")
    assert_problem(by_operator, 403, "FORBIDDEN_ROLE")
    money.account(card, money.bank, "5550002222", kyc=False)
    not_yet = await money.http.post(url, json=new_account, headers=support)
    assert assert_problem(not_yet, 422, "EKYC_FAILED")["reason"] == "KYC_NOT_COMPLETED"
    money.account(card, money.bank, "5550002222")  # the beneficiary finishes the bank's KYC; support tries again

    # Three clicks at once: one retry, two refusals (the journey admits one retry per hold).
    clicks = await asyncio.gather(*(money.http.post(url, json=new_account, headers=support) for _ in range(3)))

    [retried] = [r for r in clicks if r.status_code == 202]
    assert retried.json() == {"payment_id": payment_id, "status": "PENDING"}
    for refused in (r for r in clicks if r is not retried):
        assert_problem(refused, 409, "PAYMENT_NOT_ON_HOLD")
    view = await money.until(card, lambda v: paid(v, "INCENTIVE", 1) is not None)
    assert view["status"] == "INCENTIVES"
    assert paid(view, "INCENTIVE", 1)["partner_client_code"] == money.bank  # type: ignore[index]
    at_bank, at_ewallet = (money.world.payments.received(code) for code in (money.bank, money.ewallet))
    assert [(p.idempotency_key, p.account_number, p.amount, p.status) for p in at_bank] == [
        (f"{payment_id}-A2", "5550002222", INCENTIVE, "SUCCEEDED")
    ]
    assert [(p.idempotency_key, p.status, p.reason) for p in at_ewallet] == [
        (f"{payment_id}-A1", "FAILED", "ACCOUNT_CLOSED")
    ]
    assert_problem(await money.http.post(url, json=new_account, headers=support), 409, "PAYMENT_NOT_ON_HOLD")
    listed = await money.http.get("/v1/support/payments", params={"status": "ON_HOLD"}, headers=support)
    assert [i for i in listed.json()["items"] if i["registration_id"] == card.registration_id] == []

    async with money.live.sessions() as s:
        rows = list(await s.scalars(select(AuditLog).where(AuditLog.action.endswith("/retry")).order_by(AuditLog.id)))
    mine = [(r.actor_kind, r.status_code) for r in rows if r.actor_id == support_id]
    assert mine[0] == ("staff", 422) and sorted(mine[1:]) == [("staff", 202)] + [("staff", 409)] * 3
    accepted = next(r for r in rows if r.status_code == 202)
    assert accepted.detail | {"code": None} == {
        "payment_id": payment_id,
        "partner_client_code": money.bank,
        "requested_by": support_id,
        "code": None,
    }
