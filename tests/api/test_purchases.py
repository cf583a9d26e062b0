"""`POST /v1/partners/purchases` and `.../cancel` through the real app, a dev-server worker and signed partners.

Purchases and cancellations are workflow updates: these run on the dev server (the time-skipping server
loses updates), and check what a marketplace or an auditor would: status codes, bodies, the ledger.
"""

import asyncio
import json
import time

import pytest_asyncio
from sqlalchemy import update

from core.security import signed_headers
from db.models import Beneficiary
from tests.api.helpers import assert_problem, signed
from tests.api.live import live_app
from tests.api.training import BALANCE, kinds, open_shop, purchases, statuses

PURCHASES = "/v1/partners/purchases"


@pytest_asyncio.fixture
async def shop(dev_env, engine):
    async with live_app(dev_env.client, engine) as live:
        yield await open_shop(live)


async def test_purchase_debits_once_however_often_it_is_repeated(shop):
    [card] = await shop.awarded()

    first = await shop.buy(card, "P-1")
    again = [await shop.buy(card, "P-1") for _ in range(2)]
    racing = await asyncio.gather(*(shop.buy(card, "P-2", course="C-100") for _ in range(8)))

    assert first.status_code == 201, first.text
    assert first.json() == {"purchase_ref": "P-1", "price": 400_000, "balance_remaining": 600_000}
    assert [(r.status_code, r.json()) for r in again] == [(201, first.json())] * 2
    assert [(r.status_code, r.json()) for r in racing] == [
        (201, {"purchase_ref": "P-2", "price": 100_000, "balance_remaining": 500_000})
    ] * 8
    ledger = await shop.ledger(card)
    assert kinds(ledger, "PURCHASE") == ["P-1", "P-2"]
    assert sum(amount for _, amount, _ in ledger) == 500_000
    me = await shop.live.wait_me(card.token, "TRAINING")
    assert (me["balance"], purchases(me)) == (500_000, {"P-1": ("PURCHASED", False), "P-2": ("PURCHASED", False)})
    view = await shop.view(card)
    assert (view.balance, view.purchases) == (500_000, {"P-1": "PURCHASED", "P-2": "PURCHASED"})


async def test_purchase_ref_reused_for_another_course_card_or_marketplace_is_409(shop):
    card, other = await shop.awarded(2)
    assert (await shop.buy(card, "P-1")).status_code == 201

    another_course = await shop.buy(card, "P-1", course="C-100")
    another_card = await shop.buy(other, "P-1")
    another_marketplace = await shop.buy(card, "P-1", by="MKT-B")

    for resp in (another_course, another_card, another_marketplace):
        assert_problem(resp, 409, "PURCHASE_REF_CONFLICT")
    assert kinds(await shop.ledger(card), "PURCHASE") == ["P-1"]
    assert kinds(await shop.ledger(other), "PURCHASE") == []
    assert ((await shop.me(card))["balance"], (await shop.me(other))["balance"]) == (600_000, BALANCE)


async def test_racing_reuse_of_a_purchase_ref_on_one_card_debits_once(shop):
    [card] = await shop.awarded()

    raced = await asyncio.gather(shop.buy(card, "P-R", course="C-400"), shop.buy(card, "P-R", course="C-100"))

    assert statuses(raced) == [201, 409]
    [won] = [r for r in raced if r.status_code == 201]
    [lost] = [r for r in raced if r.status_code == 409]
    assert_problem(lost, 409, "PURCHASE_REF_CONFLICT")
    assert kinds(await shop.ledger(card), "PURCHASE") == ["P-R"]
    assert (await shop.view(card)).balance == won.json()["balance_remaining"] == BALANCE - won.json()["price"]


async def test_racing_reuse_of_a_purchase_ref_across_cards_debits_only_the_winner(shop):
    one, two = await shop.awarded(2)

    raced = await asyncio.gather(shop.buy(one, "P-X"), shop.buy(two, "P-X"))

    assert statuses(raced) == [201, 409]
    winner, loser = (one, two) if raced[0].status_code == 201 else (two, one)
    assert_problem(raced[0] if loser is one else raced[1], 409, "PURCHASE_REF_CONFLICT")
    assert kinds(await shop.ledger(winner), "PURCHASE") == ["P-X"]
    assert kinds(await shop.ledger(loser), "PURCHASE") == []
    assert (await shop.me(loser))["balance"] == BALANCE
    # The loser's journey must not believe it bought anything either: no debit, still AWARDED, and so its first
    # purchase deadline still running.
    view = await shop.view(loser)
    assert (view.status, view.balance, view.purchases) == ("AWARDED", BALANCE, {})


async def test_price_above_the_balance_is_409_and_racing_purchases_never_overspend(shop):
    [card] = await shop.awarded()

    too_dear = await shop.buy(card, "P-BIG", course="C-2M")
    raced = await asyncio.gather(shop.buy(card, "P-A", course="C-600"), shop.buy(card, "P-B", course="C-600"))

    assert_problem(too_dear, 409, "INSUFFICIENT_BALANCE")
    assert statuses(raced) == [201, 409]
    assert_problem(next(r for r in raced if r.status_code == 409), 409, "INSUFFICIENT_BALANCE")
    ledger = await shop.ledger(card)
    assert len(kinds(ledger, "PURCHASE")) == 1 and sum(a for _, a, _ in ledger) == 400_000
    assert (await shop.me(card))["balance"] == (await shop.view(card)).balance == 400_000


async def test_unknown_course_or_card_is_404(shop):
    [card] = await shop.awarded()

    unknown_course = await shop.buy(card, "P-1", course="C-NOPE")
    unknown_card = await shop.buy("9" * 16, "P-2")

    assert_problem(unknown_course, 404, "COURSE_NOT_FOUND")
    assert_problem(unknown_card, 404, "CARD_NOT_FOUND")
    assert kinds(await shop.ledger(card), "PURCHASE") == []


async def test_invalid_purchase_body_is_422(shop):
    good = {"prakerja_number": "1" * 16, "course_id": "C-400", "purchase_ref": "P-1"}
    bad = [
        good | {"prakerja_number": "1" * 15},
        good | {"prakerja_number": int("1" * 16)},
        good | {"purchase_ref": "P 1"},
        good | {"purchase_ref": ""},
        good | {"course_id": ""},
        good | {"price": 1},  # the price comes from the catalogue, never from the marketplace
        {k: v for k, v in good.items() if k != "course_id"},
    ]

    refused = [await shop.call("MKT-A", "POST", PURCHASES, body) for body in bad]

    for resp in refused:
        assert_problem(resp, 422, "VALIDATION_ERROR")


async def test_card_not_yet_awarded_is_409(shop):
    registration = await shop.live.register(shop.live.citizen())
    await shop.live.wait_me(registration["beneficiary_token"], "WAITING_FOR_WAVE")
    # A card number exists only once the award activity has written it; this is the moment just after that
    # write and before the journey has taken the award in (the workflow still says WAITING_FOR_WAVE).
    async with shop.live.sessions.begin() as s:
        await s.execute(
            update(Beneficiary)
            .where(Beneficiary.registration_id == registration["registration_id"])
            .values(prakerja_number="1" * 16)
        )

    resp = await shop.buy("1" * 16, "P-1")

    assert_problem(resp, 409, "NOT_AWARDED")


async def test_revoked_card_is_409(shop):
    [card] = await shop.awarded()
    await shop.revoke(card)

    resp = await shop.buy(card, "P-1")

    assert_problem(resp, 409, "REVOKED")
    assert kinds(await shop.ledger(card), "PURCHASE") == []


async def test_only_signed_marketplaces_buy_and_cancel(shop):
    [card] = await shop.awarded()
    assert (await shop.buy(card, "P-1")).status_code == 201
    body = {"prakerja_number": card.number, "course_id": "C-400", "purchase_ref": "P-2"}

    by_provider = await shop.buy(card, "P-2", by="PRV-A")
    by_payment = await shop.buy(card, "P-2", by="PAY-A")
    cancel_by_provider = await shop.cancel("P-1", by="PRV-A")
    unsigned = await shop.http.post(PURCHASES, json=body)
    forged = await signed(shop.http, "POST", PURCHASES, "MKT-A", "not-the-key", body)
    stale = await signed(shop.http, "POST", PURCHASES, "MKT-A", shop.keys["MKT-A"], body, ts=int(time.time()) - 301)
    unsigned_cancel = await shop.http.post("/v1/partners/purchases/P-1/cancel")

    for resp in (by_provider, by_payment, cancel_by_provider):
        assert_problem(resp, 403, "FORBIDDEN_PARTNER_KIND")
    assert_problem(unsigned, 401, "SIGNATURE_MISSING")
    assert_problem(forged, 401, "SIGNATURE_INVALID")
    assert_problem(stale, 401, "SIGNATURE_EXPIRED")
    assert_problem(unsigned_cancel, 401, "SIGNATURE_MISSING")
    assert kinds(await shop.ledger(card), "PURCHASE") == ["P-1"]
    assert kinds(await shop.ledger(card), "REFUND") == []


async def test_cancel_by_the_seller_refunds_once(shop):
    [card] = await shop.awarded()
    for ref, course in (("P-1", "C-400"), ("P-2", "C-100")):
        assert (await shop.buy(card, ref, course=course)).status_code == 201

    by_other = await shop.cancel("P-1", by="MKT-B")
    cancelled = await shop.cancel("P-1")
    again = await shop.cancel("P-1")
    racing = await asyncio.gather(*(shop.cancel("P-1") for _ in range(4)))
    assert (await shop.complete("P-2")).status_code == 200
    after_completion = await shop.cancel("P-2")
    unknown = await shop.cancel("P-NOPE")

    assert_problem(by_other, 403, "FORBIDDEN_PARTNER")
    assert (cancelled.status_code, cancelled.json()) == (200, {"purchase_ref": "P-1", "balance_remaining": 900_000})
    assert [(r.status_code, r.json()) for r in [again, *racing]] == [(200, cancelled.json())] * 5
    assert_problem(after_completion, 409, "PURCHASE_COMPLETED")
    assert_problem(unknown, 404, "PURCHASE_NOT_FOUND")
    ledger = await shop.ledger(card)
    assert kinds(ledger, "REFUND") == ["P-1"] and sum(a for _, a, _ in ledger) == 900_000
    me = await shop.me(card)
    assert me["balance"] == 900_000
    assert purchases(me) == {"P-1": ("CANCELLED", False), "P-2": ("COMPLETED", False)}


async def test_a_replayed_signed_request_has_no_second_effect(shop):
    [card] = await shop.awarded()
    raw = json.dumps({"prakerja_number": card.number, "course_id": "C-400", "purchase_ref": "P-1"}).encode()
    buy = signed_headers(shop.keys["MKT-A"], "MKT-A", int(time.time()), "POST", PURCHASES, raw)
    buy["Content-Type"] = "application/json"
    cancel_path = "/v1/partners/purchases/P-1/cancel"
    cancel = signed_headers(shop.keys["MKT-A"], "MKT-A", int(time.time()), "POST", cancel_path, b"")

    bought = [await shop.http.post(PURCHASES, content=raw, headers=buy) for _ in range(3)]
    cancelled = [await shop.http.post(cancel_path, headers=cancel) for _ in range(3)]
    rebought = await shop.http.post(PURCHASES, content=raw, headers=buy)  # after the refund: still no new debit

    assert [r.status_code for r in bought] == [201] * 3 and len({r.text for r in bought}) == 1
    assert [r.status_code for r in cancelled] == [200] * 3 and len({r.text for r in cancelled}) == 1
    assert (rebought.status_code, rebought.json()) == (201, bought[0].json())
    ledger = await shop.ledger(card)
    assert [(k, ref) for k, _, ref in ledger[1:]] == [("PURCHASE", "P-1"), ("REFUND", "P-1")]
    assert (await shop.view(card)).balance == BALANCE


async def test_every_partner_call_is_audited_with_its_purchase_ref_and_no_nik(shop):
    [card] = await shop.awarded()
    number = card.number

    calls = [
        (await shop.buy(number, "P-OK"), "P-OK"),
        (await shop.buy(number, "P-OK", course="C-100"), "P-OK"),  # 409 conflict
        (await shop.buy(number, "P-DEAR", course="C-2M"), "P-DEAR"),  # 409 balance
        (await shop.buy(number, "P-NOCOURSE", course="C-NOPE"), "P-NOCOURSE"),  # 404
        (await shop.buy("9" * 16, "P-NOCARD"), "P-NOCARD"),  # 404
        (await shop.cancel("P-OK", by="MKT-B"), "P-OK"),  # 403
        (await shop.cancel("P-OK"), "P-OK"),
        (await shop.cancel("P-GONE"), "P-GONE"),  # 404
        (await shop.complete("P-GONE"), "P-GONE"),  # 404
        (await shop.complete("P-OK", by="PRV-B"), "P-OK"),  # 403
        (await shop.buy(number, "P-KIND", by="PRV-A"), None),  # 403 kind: refused before the body is read
    ]
    forged = await signed(shop.http, "POST", "/v1/partners/purchases/P-OK/cancel", "MKT-A", "not-the-key")

    rows = await shop.audit()
    assert [(r.status_code, r.detail.get("purchase_ref")) for r in rows] == [
        *((resp.status_code, ref) for resp, ref in calls),
        (401, "P-OK"),
    ]
    assert [r.actor_id for r in rows] == ["MKT-A"] * 5 + ["MKT-B", "MKT-A", "MKT-A", "MKT-A", "PRV-B", "PRV-A", "MKT-A"]
    assert forged.status_code == 401
    assert [r.detail.get("code") for r in rows][1:5] == [
        "PURCHASE_REF_CONFLICT",
        "INSUFFICIENT_BALANCE",
        "COURSE_NOT_FOUND",
        "CARD_NOT_FOUND",
    ]
    for row in rows:
        assert card.nik not in json.dumps(row.detail) and card.nik not in row.action
