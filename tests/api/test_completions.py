"""`POST /v1/partners/completions`, the beneficiary's review, and an operator's revocation after purchases,
through the real app, a dev-server worker and signed partners."""

import asyncio
from datetime import datetime

import pytest_asyncio

from adapters.marketplace import NotificationKind
from core.contracts import JourneyResult, journey_id, survey_windows
from core.terms import ProgrammeTerms
from db.models import Beneficiary
from tests.api.helpers import assert_problem
from tests.api.live import live_app
from tests.api.training import kinds, open_shop, purchases, statuses


@pytest_asyncio.fixture
async def shop(dev_env, engine):
    async with live_app(dev_env.client, engine) as live:
        yield await open_shop(live)


async def poll_view(shop, card, status: str) -> None:
    async with asyncio.timeout(10):
        while (await shop.view(card)).status != status:
            await asyncio.sleep(0.05)


async def bought(shop, card, *refs_and_courses: tuple[str, str]) -> None:
    for ref, course in refs_and_courses:
        resp = await shop.buy(card, ref, course=course)
        assert resp.status_code == 201, resp.text


async def test_the_seller_or_the_courses_provider_reports_completion_others_are_403(shop):
    [card] = await shop.awarded()
    await bought(shop, card, ("P-1", "C-400"), ("P-2", "C-100"))  # both courses by PRV-A, sold by MKT-A

    refused = [
        await shop.complete("P-1", by="MKT-B"),
        await shop.complete("P-1", by="PRV-B"),
        await shop.complete("P-2", by="MKT-B"),
    ]
    by_seller = await shop.complete("P-1", by="MKT-A")
    by_provider = await shop.complete("P-2", by="PRV-A")
    by_payment_partner = await shop.complete("P-1", by="PAY-A")

    for resp in refused:
        assert_problem(resp, 403, "FORBIDDEN_PARTNER")
    assert_problem(by_payment_partner, 403, "FORBIDDEN_PARTNER_KIND")
    assert (by_seller.status_code, by_seller.json()) == (200, {"purchase_ref": "P-1", "status": "COMPLETED"})
    assert (by_provider.status_code, by_provider.json()) == (200, {"purchase_ref": "P-2", "status": "COMPLETED"})


async def test_repeated_completions_are_200_and_count_once(shop):
    [card] = await shop.awarded()
    await bought(shop, card, ("P-1", "C-400"))

    first = await shop.complete("P-1")
    repeats = [await shop.complete("P-1", by="PRV-A"), await shop.complete("P-1", certificate="CERT-OTHER")]
    racing = await asyncio.gather(*(shop.complete("P-1", by=by) for by in ("MKT-A", "PRV-A") * 3))

    assert statuses([first, *repeats, *racing]) == [200] * 9
    assert {r.json()["status"] for r in [first, *repeats, *racing]} == {"COMPLETED"}
    me = await shop.live.wait_me(card.token, "INCENTIVES")
    view = await shop.view(card)
    assert (view.completed, view.purchases, view.ignored_signals) == (["P-1"], {"P-1": "COMPLETED"}, [])
    assert purchases(me) == {"P-1": ("COMPLETED", False)}
    assert me["balance"] == view.balance == 600_000  # a completion moves no balance


async def test_first_completion_opens_the_incentive_phase_with_survey_windows(shop):
    [card] = await shop.awarded()
    await bought(shop, card, ("P-1", "C-400"), ("P-2", "C-100"))
    assert (await shop.live.wait_me(card.token, "TRAINING"))["surveys"] == []

    assert (await shop.complete("P-1")).status_code == 200
    me = await shop.live.wait_me(card.token, "INCENTIVES")

    assert purchases(me) == {"P-1": ("COMPLETED", False), "P-2": ("PURCHASED", False)}
    assert [s["survey_no"] for s in me["surveys"]] == [1, 2, 3]
    assert all(s["opens_at"] < s["closes_at"] and s["status"] in ("PENDING", "OPEN") for s in me["surveys"])
    await poll_view(shop, card, "INCENTIVES")  # the journey enters it once the windows above are recorded


async def test_racing_first_completions_record_one_set_of_survey_windows_and_the_journey_publishes_none(shop):
    [card] = await shop.awarded()
    await bought(shop, card, ("P-1", "C-400"), ("P-2", "C-100"))

    racing = await asyncio.gather(*(shop.complete(ref, by=by) for ref in ("P-1", "P-2") for by in ("MKT-A", "PRV-A")))

    assert statuses(racing) == [200] * 4
    me = await shop.live.wait_me(card.token, "INCENTIVES")
    await poll_view(shop, card, "INCENTIVES")
    async with shop.live.sessions() as s:
        detail = (await s.get(Beneficiary, card.registration_id)).detail
    anchor = datetime.fromisoformat(detail["surveys_from"])  # one anchor, whichever completion came first
    terms = ProgrammeTerms.model_validate(detail["terms"])
    expected = [w.model_dump(mode="json") for w in survey_windows(terms, anchor)]
    assert [{k: w[k] for k in ("survey_no", "opens_at", "closes_at")} for w in detail["surveys"]] == expected
    assert [s["survey_no"] for s in me["surveys"]] == [1, 2, 3]
    journey = shop.live.temporal.get_workflow_handle(journey_id(card.registration_id))
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in (await journey.fetch_history()).events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "schedule_surveys" not in scheduled  # the API recorded the windows: the journey published nothing
    assert sorted((await shop.view(card)).completed) == ["P-1", "P-2"]


async def test_completion_of_a_cancelled_or_unknown_purchase(shop):
    [card] = await shop.awarded()
    await bought(shop, card, ("P-1", "C-400"))
    assert (await shop.cancel("P-1")).status_code == 200

    cancelled = await shop.complete("P-1")
    by_provider = await shop.complete("P-1", by="PRV-A")
    unknown = await shop.complete("P-NOPE")

    assert_problem(cancelled, 409, "PURCHASE_CANCELLED")
    assert_problem(by_provider, 409, "PURCHASE_CANCELLED")
    assert_problem(unknown, 404, "PURCHASE_NOT_FOUND")
    view = await shop.view(card)
    assert (view.status, view.purchases, view.completed) == ("TRAINING", {"P-1": "CANCELLED"}, [])
    assert purchases(await shop.me(card)) == {"P-1": ("CANCELLED", False)}


async def test_invalid_rating_is_422(shop):
    [card] = await shop.awarded()
    await bought(shop, card, ("P-1", "C-400"))
    assert (await shop.complete("P-1")).status_code == 200
    bodies = [{"rating": r, "text": "bagus"} for r in (0, 6, "5", 4.5, None, True)] + [{"text": "bagus"}]

    refused = [await shop.review(card, "P-1", body) for body in bodies]

    for resp in refused:
        assert_problem(resp, 422, "VALIDATION_ERROR")
    assert purchases(await shop.me(card)) == {"P-1": ("COMPLETED", False)}
    assert (await shop.view(card)).reviewed == []


async def test_the_beneficiary_reviews_a_completed_training_of_their_own(shop):
    card, stranger = await shop.awarded(2)
    await bought(shop, card, ("P-1", "C-400"), ("P-2", "C-100"))
    assert (await shop.complete("P-1")).status_code == 200

    not_completed = await shop.review(card, "P-2", {"rating": 4, "text": "belum selesai"})
    not_theirs = await shop.review(stranger, "P-1", {"rating": 1, "text": "bukan milik saya"})
    unknown = await shop.review(card, "P-NOPE", {"rating": 5, "text": ""})
    reviewed = await shop.review(card, "P-1", {"rating": 5, "text": "Sangat bermanfaat"})

    assert_problem(not_completed, 409, "TRAINING_NOT_COMPLETED")
    assert_problem(not_theirs, 404, "PURCHASE_NOT_FOUND")
    assert_problem(unknown, 404, "PURCHASE_NOT_FOUND")
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["purchase_ref"] == "P-1"
    me = await shop.live.wait_me(card.token, "INCENTIVES")
    assert purchases(me) == {"P-1": ("COMPLETED", True), "P-2": ("PURCHASED", False)}
    assert (await shop.view(card)).reviewed == ["P-1"]
    assert (await shop.me(stranger))["purchases"] == []


async def test_revocation_voids_open_purchases_and_blocks_the_card(shop):
    [card] = await shop.awarded()
    await bought(shop, card, ("P-1", "C-400"), ("P-2", "C-100"))
    assert (await shop.complete("P-2", by="PRV-A")).status_code == 200
    # Let the journey settle into INCENTIVES first: a revocation that lands while the completion's activity is
    # finishing is lost today (workflows/journey.py bug, reported), which is not what this test is about.
    await poll_view(shop, card, "INCENTIVES")

    await shop.revoke(card)
    later = await shop.buy(card, "P-3", course="C-100")
    complete_voided = await shop.complete("P-1")
    repeated = await shop.complete("P-2", by="PRV-A")  # the journey is over; a repeat is still a repeat
    cancel_voided = await shop.cancel("P-1")
    late_review = await shop.review(card, "P-2", {"rating": 4, "text": "terlambat"})

    me = await shop.me(card)
    assert (me["status"], me["reasons"], me["balance"]) == ("REVOKED", ["REVOKED_BY_OPERATOR"], 0)
    assert purchases(me) == {"P-1": ("CANCELLED", False), "P-2": ("COMPLETED", False)}
    assert_problem(later, 409, "REVOKED")
    assert_problem(complete_voided, 409, "PURCHASE_CANCELLED")
    assert (repeated.status_code, repeated.json()) == (200, {"purchase_ref": "P-2", "status": "COMPLETED"})
    assert cancel_voided.status_code == 409, cancel_voided.text  # the journey is over: nothing to refund
    assert_problem(late_review, 409, "JOURNEY_FINISHED")  # refused, so P-2 shows reviewed=False above
    ledger = await shop.ledger(card)
    assert [(kind, ref) for kind, _, ref in ledger[1:]] == [
        ("PURCHASE", "P-1"),
        ("PURCHASE", "P-2"),
        ("REFUND", "P-1"),
        ("TREASURY_RETURN", "revocation"),
    ]
    assert sum(amount for _, amount, _ in ledger) == 0
    # The projection says REVOKED before the journey has told every marketplace: wait for it to end.
    journey = shop.live.temporal.get_workflow_handle(journey_id(card.registration_id), result_type=JourneyResult)
    assert (await asyncio.wait_for(journey.result(), timeout=10)).status == "REVOKED"
    told = {(n.marketplace_client_code, n.kind, n.purchase_ref) for n in shop.live.world.notifications}
    assert told == {
        ("MKT-A", NotificationKind.CARD_BLOCKED, None),
        ("MKT-B", NotificationKind.CARD_BLOCKED, None),
        ("MKT-A", NotificationKind.PURCHASE_VOIDED, "P-1"),
    }


async def test_racing_cancel_and_completion_end_in_one_agreed_outcome(shop):
    [card] = await shop.awarded()
    await bought(shop, card, ("P-1", "C-400"))

    cancel, complete = await asyncio.gather(shop.cancel("P-1"), shop.complete("P-1", by="PRV-A"))

    assert sorted([cancel.status_code, complete.status_code]) == [200, 409]  # exactly one of them won
    view, refunds = await shop.view(card), kinds(await shop.ledger(card), "REFUND")
    status = purchases(await shop.me(card))["P-1"][0]
    assert view.purchases["P-1"] == status  # the journey and the projection agree on who won
    if status == "CANCELLED":
        assert (refunds, view.completed, view.balance, cancel.status_code) == (["P-1"], [], 1_000_000, 200)
        assert_problem(complete, 409, "PURCHASE_CANCELLED")
    else:
        assert (refunds, view.completed, view.balance) == ([], ["P-1"], 600_000)
        assert_problem(cancel, 409, "PURCHASE_COMPLETED")
        assert complete.status_code == 200


async def test_invalid_completion_body_is_422(shop):
    [card] = await shop.awarded()
    await bought(shop, card, ("P-1", "C-400"))
    good = {"purchase_ref": "P-1", "certificate_number": "CERT-1", "completed_at": "2025-03-01T10:00:00Z"}
    bad = [
        good | {"completed_at": "yesterday"},
        good | {"completed_at": "2025-03-01T10:00:00"},  # RFC 3339 needs an offset
        good | {"certificate_number": ""},
        good | {"purchase_ref": "P 1/../x"},
        good | {"extra": 1},
        good | {"completed_at": "9999-12-31T23:59:59-14:00"},  # no UTC form to store
        {k: v for k, v in good.items() if k != "certificate_number"},
    ]

    refused = [await shop.call("MKT-A", "POST", "/v1/partners/completions", body) for body in bad]

    for resp in refused:
        assert_problem(resp, 422, "VALIDATION_ERROR")
    assert (await shop.view(card)).completed == []
