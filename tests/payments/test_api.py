"""The payment endpoints over the real app: partner callbacks, the support list, retries, reconciliation."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from adapters.payment import DisburseRequest
from api.app import create_app
from core.domain import PaymentKind
from core.payments import DisburseResult, payment_id_for
from db.models import AuditLog, Payment
from simulators.payments import CallbackSender
from tests.api.helpers import assert_problem, bearer, register_partner, serve, signed, staff_token
from tests.payments.conftest import new_harness, running
from tests.payments.harness import NIK, PaymentsHarness, wait_state

CALLBACK = "/v1/partners/disbursements/{}/status"


def asgi_sender(client: httpx.AsyncClient) -> CallbackSender:
    """The partner calls back the API itself, signed with its key."""

    async def send(url: str, headers: dict[str, str], body: bytes) -> None:
        response = await client.post(httpx.URL(url).raw_path.decode(), content=body, headers=headers)
        response.raise_for_status()

    return send


@dataclass
class Api:
    pay: PaymentsHarness
    http: httpx.AsyncClient
    keys: dict[str, str]
    support: dict[str, str]

    async def callback(self, attempt_id: str, body: dict, partner: str | None = None) -> httpx.Response:
        partner = partner or self.pay.partner_a
        return await signed(self.http, "POST", CALLBACK.format(attempt_id), partner, self.keys[partner], body)

    async def audit(self) -> list[AuditLog]:
        async with self.pay.sessions() as s:
            return list(await s.scalars(select(AuditLog).order_by(AuditLog.id)))


@pytest_asyncio.fixture
async def api(ts_env, engine) -> AsyncIterator[Api]:
    pay = new_harness(ts_env.client, engine)
    app = create_app(pay.settings, temporal_client=ts_env.client)
    async with serve(app) as http:
        keys = {}
        for code in (pay.partner_a, pay.partner_b):
            keys[code] = await register_partner(http, pay.settings, code, "payment")
            pay.world.configure_payment_partner(code, sign_key=keys[code])
        keys["MKT-1"] = await register_partner(http, pay.settings, "MKT-1", "marketplace")
        pay.world.callback_sender = asgi_sender(http)
        support = bearer(await staff_token(http, pay.settings, "support"))
        async for h in running(pay):
            yield Api(h, http, keys, support)


def attempt_of(handle, n: int = 1) -> str:
    return f"{handle.id.removeprefix('payment-')}-A{n}"


# --- partner callbacks ---


async def test_async_partner_callbacks_through_the_api_pay_once(api):
    pay = api.pay
    pay.world.configure_payment_partner(pay.partner_a, sign_key=api.keys[pay.partner_a], mode="async")
    pay.world.add_fault(f"payment:{pay.partner_a}", "duplicate_callback")
    handle = await pay.start()

    await wait_state(handle, "PAID")
    await pay.world.drain()

    assert (await handle.result()).status == "PAID"
    assert pay.gateway.count("status") == 0 and len(pay.received(pay.partner_a)) == 1
    rows = [r for r in await api.audit() if r.action.endswith("/status")]
    assert [(r.actor_id, r.status_code) for r in rows] == [(pay.partner_a, 200)] * 2
    assert rows[0].detail["payment_id"] == handle.id.removeprefix("payment-")


async def test_callback_is_only_for_the_attempts_own_payment_partner(api):
    pay = api.pay
    handle = await pay.start()
    await handle.result()
    attempt_id = attempt_of(handle)
    body = {"status": "SUCCEEDED", "partner_reference": "R-1"}

    assert (await api.callback(attempt_id, body)).json() == {"attempt_id": attempt_id, "accepted": True}
    assert_problem(await api.callback(attempt_id, body, partner=pay.partner_b), 403, "FORBIDDEN_PARTNER")
    assert_problem(await api.callback("PAY-NOPE-I1-A1", body), 404, "ATTEMPT_NOT_FOUND")
    marketplace = await signed(api.http, "POST", CALLBACK.format(attempt_id), "MKT-1", api.keys["MKT-1"], body)
    assert_problem(marketplace, 403, "FORBIDDEN_PARTNER_KIND")
    unsigned = await api.http.post(CALLBACK.format(attempt_id), json=body)
    assert_problem(unsigned, 401, "SIGNATURE_MISSING")
    assert_problem(await api.callback(attempt_id, {"status": "PENDING"}), 422, "VALIDATION_ERROR")
    assert len(pay.received(pay.partner_a)) == 1


async def test_late_success_after_the_payment_closed_is_recorded_for_reconciliation(api):
    pay = api.pay
    handle = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"))
    await wait_state(handle, "ON_HOLD")
    await handle.cancel()
    assert (await handle.result()).status == "CANCELLED"
    attempt_id = attempt_of(handle)
    pay.world.payments.ledgers[pay.partner_a][attempt_id].status = "SUCCEEDED"  # the partner paid after all

    response = await api.callback(attempt_id, {"status": "SUCCEEDED", "partner_reference": "R-9"})

    assert response.status_code == 200
    [attempt] = await pay.attempts(handle)
    assert (attempt.status, attempt.partner_reference) == ("LATE_SUCCEEDED", "R-9")
    assert (await pay.payment(handle)).status == "CANCELLED"
    report = (await api.http.get("/v1/support/reconciliation", headers=api.support)).json()
    [a] = [p for p in report["partners"] if p["partner_client_code"] == pay.partner_a]
    assert a["matches"] is False
    assert [(d["idempotency_key"], d["kind"]) for d in a["differences"]] == [(attempt_id, "LATE_SUCCESS")]


# --- support: list ---


async def seed_payments(pay: PaymentsHarness, statuses: list[str]) -> list[str]:
    registration_id = await pay.beneficiary()
    ids = []
    async with pay.sessions.begin() as s:
        for n, status in enumerate(statuses, start=1):
            payment_id = payment_id_for(registration_id, PaymentKind.SURVEY, n)
            s.add(
                Payment(
                    payment_id=payment_id,
                    registration_id=registration_id,
                    kind=PaymentKind.SURVEY,
                    number=n,
                    amount=50_000,
                    status=status,
                    partner_client_code=pay.partner_a,
                    reason="ACCOUNT_CLOSED" if status == "ON_HOLD" else None,
                    attempts=1,
                )
            )
            ids.append(payment_id)
    return ids


async def test_support_lists_payments_by_status_in_pages(api):
    ids = await seed_payments(api.pay, ["ON_HOLD", "PAID", "ON_HOLD", "ON_HOLD", "PAID", "ON_HOLD", "ON_HOLD"])
    on_hold = sorted(
        i
        for i, s in zip(ids, ["ON_HOLD", "PAID", "ON_HOLD", "ON_HOLD", "PAID", "ON_HOLD", "ON_HOLD"], strict=True)
        if s == "ON_HOLD"
    )

    seen, cursor, pages = [], None, 0
    while True:
        params = {"status": "ON_HOLD", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.http.get("/v1/support/payments", params=params, headers=api.support)).json()
        seen += page["items"]
        pages += 1
        if not (cursor := page["next_cursor"]):
            break

    assert [i["payment_id"] for i in seen] == on_hold and pages == 3
    assert seen[0] | {"payment_id": None} == {
        "payment_id": None,
        "registration_id": ids[0].split("-S")[0].removeprefix("PAY-"),
        "kind": "SURVEY",
        "number": 1,
        "amount": 50_000,
        "status": "ON_HOLD",
        "reason": "ACCOUNT_CLOSED",
        "partner_client_code": api.pay.partner_a,
        "attempts": 1,
    }
    everything = (await api.http.get("/v1/support/payments", headers=api.support)).json()
    assert len(everything["items"]) == 7 and everything["next_cursor"] is None
    operator = bearer(await staff_token(api.http, api.pay.settings, "operator"))
    assert (await api.http.get("/v1/support/payments", headers=operator)).status_code == 200


@pytest.mark.parametrize("query", ["status=BOGUS", "limit=0", "limit=201", "limit=x"])
async def test_support_list_rejects_bad_parameters(api, query):
    response = await api.http.get(f"/v1/support/payments?{query}", headers=api.support)

    assert_problem(response, 422, "VALIDATION_ERROR")


async def test_support_list_needs_staff(api):
    assert_problem(await api.http.get("/v1/support/payments"), 401, "UNAUTHENTICATED")


# --- support: retry ---


async def test_support_retry_to_a_new_account_pays_once_and_is_audited(api):
    pay = api.pay
    handle = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"))
    await wait_state(handle, "ON_HOLD")
    payment_id = handle.id.removeprefix("payment-")
    url = f"/v1/support/payments/{payment_id}/retry"
    not_kycd, good = pay.account(pay.partner_b, kyc=False), pay.account(pay.partner_b)

    refused = await api.http.post(
        url, json={"partner_client_code": pay.partner_b, "account_number": not_kycd}, headers=api.support
    )
    accepted = await api.http.post(
        url, json={"partner_client_code": pay.partner_b, "account_number": good}, headers=api.support
    )
    result: DisburseResult = await handle.result()

    assert assert_problem(refused, 422, "EKYC_FAILED")["reason"] == "KYC_NOT_COMPLETED"
    assert (accepted.status_code, accepted.json()) == (202, {"payment_id": payment_id, "status": "PENDING"})
    assert (result.status, result.partner_client_code, result.attempts) == ("PAID", pay.partner_b, 2)
    assert len(pay.received(pay.partner_b, "SUCCEEDED")) == 1
    pay.assert_paid_at_most_once()
    again = await api.http.post(url, json={}, headers=api.support)
    assert_problem(again, 409, "PAYMENT_NOT_ON_HOLD")
    rows = [r for r in await api.audit() if r.action.endswith("/retry")]
    assert [(r.actor_kind, r.status_code) for r in rows] == [("staff", 422), ("staff", 202), ("staff", 409)]
    assert rows[1].detail["payment_id"] == payment_id and rows[1].detail["partner_client_code"] == pay.partner_b
    assert all(good not in str(r.detail) for r in rows)


async def test_support_retry_refusals(api):
    pay = api.pay
    [paid] = await seed_payments(pay, ["PAID"])

    unknown = await api.http.post("/v1/support/payments/PAY-NOPE-I1/retry", json={}, headers=api.support)
    not_on_hold = await api.http.post(f"/v1/support/payments/{paid}/retry", json={}, headers=api.support)
    no_partner = await api.http.post(
        f"/v1/support/payments/{paid}/retry", json={"account_number": "ACC-1234"}, headers=api.support
    )
    bad_partner = await api.http.post(
        f"/v1/support/payments/{paid}/retry", json={"partner_client_code": "MKT-1"}, headers=api.support
    )
    operator = bearer(await staff_token(api.http, pay.settings, "operator"))
    forbidden = await api.http.post(f"/v1/support/payments/{paid}/retry", json={}, headers=operator)

    assert_problem(unknown, 404, "PAYMENT_NOT_FOUND")
    assert_problem(not_on_hold, 409, "PAYMENT_NOT_ON_HOLD")
    assert_problem(no_partner, 422, "PARTNER_REQUIRED")
    assert_problem(bad_partner, 422, "UNKNOWN_PAYMENT_PARTNER")
    assert_problem(forbidden, 403, "FORBIDDEN_ROLE")


# --- support: reconciliation ---


async def test_reconciliation_puts_the_ledger_next_to_each_partners_statement(api):
    pay = api.pay
    handles = [
        await pay.start(amount=600_000),
        await pay.start(amount=50_000, kind=PaymentKind.SURVEY),
        await pay.start(amount=600_000, partner=pay.partner_b),
    ]
    for handle in handles:
        await handle.result()
    held = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"))
    await wait_state(held, "ON_HOLD")
    # The UTC day the ledger dates these payments and the failure on (they happen within a second), not the day
    # the test asks on: those differ if midnight passes in between.
    dated = [(await pay.payment(h)).paid_at for h in handles] + [a.resolved_at for a in await pay.attempts(held)]
    [day] = {d.date().isoformat() for d in dated}

    report = (await api.http.get(f"/v1/support/reconciliation?date={day}", headers=api.support)).json()

    a, b = (
        next(p for p in report["partners"] if p["partner_client_code"] == c) for c in (pay.partner_a, pay.partner_b)
    )
    assert (a["paid_count"], a["paid_sum"], a["on_hold"], a["failed"]) == (2, 650_000, 1, 1)
    assert (a["partner_paid_count"], a["partner_paid_sum"], a["matches"]) == (2, 650_000, True)
    assert (b["paid_count"], b["paid_sum"], b["partner_paid_sum"], b["matches"]) == (1, 600_000, 600_000, True)
    assert report["matches"] is True and report["date"] == day

    # Money the partner says it paid but the ledger never sent.
    await pay.world.payments.disburse(
        pay.partner_a,
        DisburseRequest(idempotency_key="STRAY-1", account_number=pay.account(pay.partner_a), nik=NIK, amount=10_000),
    )
    report = (await api.http.get(f"/v1/support/reconciliation?date={day}", headers=api.support)).json()
    a = next(p for p in report["partners"] if p["partner_client_code"] == pay.partner_a)
    assert (a["matches"], a["partner_paid_count"], a["partner_paid_sum"]) == (False, 3, 660_000)
    assert a["differences"] == [
        {
            "idempotency_key": "STRAY-1",
            "kind": "UNKNOWN_TO_LEDGER",
            "ledger_status": None,
            "partner_status": "SUCCEEDED",
            "amount": 10_000,
            "ledger_amount": None,
            "partner_amount": None,
        }
    ]
    assert report["matches"] is False
    assert pay.gateway.count("statement") == 4  # through the adapter, once per partner per report


async def test_a_partner_that_kept_a_fee_is_an_amount_mismatch_with_both_amounts(api):
    pay = api.pay
    pay.world.add_fault(f"payment:{pay.partner_b}", "fee_deduction", amount=2_500)
    fine, short = await pay.start(amount=600_000), await pay.start(amount=600_000, partner=pay.partner_b)
    for handle in (fine, short):
        assert (await handle.result()).status == "PAID"  # the partner says SUCCEEDED: only the amounts tell
    [day] = {(await pay.payment(h)).paid_at.date().isoformat() for h in (fine, short)}

    report = (await api.http.get(f"/v1/support/reconciliation?date={day}", headers=api.support)).json()

    a, b = (
        next(p for p in report["partners"] if p["partner_client_code"] == c) for c in (pay.partner_a, pay.partner_b)
    )
    assert a["matches"] is True
    assert (b["matches"], b["paid_sum"], b["partner_paid_sum"], b["differences_total"]) == (
        False,
        600_000,
        597_500,
        1,
    )
    payment_id = short.id.removeprefix("payment-")
    assert b["differences"] == [
        {
            "idempotency_key": f"{payment_id}-A1",
            "kind": "AMOUNT_MISMATCH",
            "ledger_status": "PAID",
            "partner_status": "SUCCEEDED",
            "amount": 2_500,
            "ledger_amount": 600_000,
            "partner_amount": 597_500,
        }
    ]
    assert report["matches"] is False


async def test_reconciliation_rejects_a_bad_date(api):
    response = await api.http.get("/v1/support/reconciliation?date=2026-13-01", headers=api.support)

    assert_problem(response, 422, "VALIDATION_ERROR")
