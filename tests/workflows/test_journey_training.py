"""Journey part 2: purchases (updates), cancellations, completions and reviews (signals), deadline, revocation."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from core.contracts import CancelPurchaseUpdate, PurchaseResult
from db.models import BalanceEntry, Beneficiary, Partner, Purchase
from tests.workflows.conftest import wait_status
from tests.workflows.harness import awarded, order
from workflows.journey import BeneficiaryJourney


@pytest.fixture
def harness(dev_harness):
    """Purchases are updates: these tests run on the real dev server (see tests/workflows/conftest.py)."""
    return dev_harness


async def buy(handle, ref, **kw) -> PurchaseResult:
    body = order(ref, **kw)
    update_id = f"purchase-{ref}-{body['course_id']}-{body['marketplace_client_code']}"
    return await handle.execute_update(BeneficiaryJourney.purchase, body, id=update_id)


async def refusal(coro) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await coro
    return err.value.cause.type


async def ledger(harness, handle) -> list[tuple[str, int]]:
    rid = handle.id.removeprefix("journey-")
    async with harness.sessions() as s:
        rows = await s.scalars(
            select(BalanceEntry).where(BalanceEntry.registration_id == rid).order_by(BalanceEntry.id)
        )
        return [(r.kind, r.amount) for r in rows]


def completion(ref: str) -> dict:
    return {"purchase_ref": ref, "certificate_number": f"CERT-{ref}", "completed_at": datetime.now(UTC).isoformat()}


async def test_purchase_debits_once_even_when_repeated_concurrently(harness):
    handle = await awarded(harness)
    results = await asyncio.gather(*(buy(handle, "P-1") for _ in range(5)))
    assert {r.balance_remaining for r in results} == {600_000}
    assert await ledger(harness, handle) == [("AWARD", 1_000_000), ("PURCHASE", -400_000)]
    assert (await wait_status(handle, "TRAINING")).status == "TRAINING"


async def test_balance_cannot_be_overspent_by_concurrent_purchases(harness):
    handle = await awarded(harness)
    outcomes = await asyncio.gather(
        buy(handle, "P-A", price=600_000), buy(handle, "P-B", price=600_000), return_exceptions=True
    )
    paid = [o for o in outcomes if isinstance(o, PurchaseResult)]
    refused = [o.cause.type for o in outcomes if isinstance(o, WorkflowUpdateFailedError)]
    assert len(paid) == 1 and refused == ["INSUFFICIENT_BALANCE"]
    assert sum(a for _, a in await ledger(harness, handle)) == 400_000


async def test_purchase_ref_reused_for_another_course_is_refused(harness):
    handle = await awarded(harness)
    await buy(handle, "P-1")
    assert await refusal(buy(handle, "P-1", course_id="C-2")) == "PURCHASE_REF_CONFLICT"


async def test_cancel_refunds_once_and_not_after_completion(harness):
    handle = await awarded(harness)
    await buy(handle, "P-1")
    await buy(handle, "P-2", price=100_000)
    for _ in range(2):
        result = await handle.execute_update(
            BeneficiaryJourney.cancel_purchase, CancelPurchaseUpdate(purchase_ref="P-1"), id="cancel-P-1"
        )
        assert result.balance_remaining == 900_000
    await handle.signal(BeneficiaryJourney.completion, completion("P-2"))
    cancel_completed = handle.execute_update(
        BeneficiaryJourney.cancel_purchase, CancelPurchaseUpdate(purchase_ref="P-2")
    )
    assert await refusal(cancel_completed) == "PURCHASE_COMPLETED"
    assert [k for k, _ in await ledger(harness, handle)] == ["AWARD", "PURCHASE", "PURCHASE", "REFUND"]


async def test_first_completion_opens_incentives_and_schedules_surveys(harness):
    handle = await awarded(harness)
    await buy(handle, "P-1")
    await buy(handle, "P-2", price=100_000)
    for _ in range(2):
        await handle.signal(BeneficiaryJourney.completion, completion("P-1"))
    await handle.signal(BeneficiaryJourney.completion, completion("P-2"))
    await wait_status(handle, "INCENTIVES")
    async with harness.sessions() as s:
        b = await s.get(Beneficiary, handle.id.removeprefix("journey-"))
    windows = b.detail["surveys"]
    assert [w["survey_no"] for w in windows] == [1, 2, 3]
    opens = [datetime.fromisoformat(w["opens_at"]) for w in windows]
    assert opens[1] - opens[0] == timedelta(days=30) and opens[2] - opens[0] == timedelta(days=90)


async def test_a_review_that_overtakes_its_completion_signal_still_counts(harness):
    handle = await awarded(harness)
    await buy(handle, "P-1")
    # the ledger already said COMPLETED
    await handle.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 4})
    await handle.signal(BeneficiaryJourney.completion, completion("P-1"))

    view = await wait_status(handle, "INCENTIVES")
    assert (view.completed, view.reviewed, view.ignored_signals) == (["P-1"], ["P-1"], [])


async def test_completion_of_a_cancelled_purchase_is_ignored(harness):
    handle = await awarded(harness)
    await buy(handle, "P-1")
    await handle.execute_update(BeneficiaryJourney.cancel_purchase, {"purchase_ref": "P-1"})
    await handle.signal(BeneficiaryJourney.completion, completion("P-1"))
    await handle.signal(BeneficiaryJourney.completion, completion("UNKNOWN"))
    view = await wait_status(handle, "TRAINING")
    assert view.purchases == {"P-1": "CANCELLED"} and view.completed == []
    assert view.ignored_signals == ["completion:P-1:CANCELLED", "completion:UNKNOWN:None"]


async def test_a_cancel_loses_to_a_completion_the_ledger_already_holds(harness):
    """The API records a completion before it signals: a cancel arriving in between must not undo it."""
    handle = await awarded(harness)
    await buy(handle, "P-1")
    async with harness.sessions.begin() as s:
        await s.execute(update(Purchase).where(Purchase.purchase_ref == "P-1").values(status="COMPLETED"))

    cancel = handle.execute_update(BeneficiaryJourney.cancel_purchase, {"purchase_ref": "P-1"})
    assert await refusal(cancel) == "PURCHASE_COMPLETED"
    await handle.signal(BeneficiaryJourney.completion, completion("P-1"))

    view = await wait_status(handle, "INCENTIVES")
    assert (view.purchases, view.completed, view.balance) == ({"P-1": "COMPLETED"}, ["P-1"], 600_000)
    assert await ledger(harness, handle) == [("AWARD", 1_000_000), ("PURCHASE", -400_000)]


async def test_purchase_one_second_before_the_deadline_counts(clock_harness, own_clock):
    harness = clock_harness
    handle = await awarded(harness)
    await own_clock.sleep(timedelta(days=30) - timedelta(seconds=1))
    await buy(handle, "P-1")
    assert (await wait_status(handle, "TRAINING")).status == "TRAINING"


async def test_purchase_one_second_after_the_deadline_is_refused(clock_harness, own_clock):
    harness = clock_harness
    handle = await awarded(harness)
    await own_clock.sleep(timedelta(days=30) + timedelta(seconds=1))
    result = await handle.result()
    assert (result.status, result.reasons) == ("REVOKED", ["PURCHASE_DEADLINE_MISSED"])
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await buy(handle, "P-late")
    assert sum(a for _, a in await ledger(harness, handle)) == 0


async def test_a_purchase_cancelled_before_the_deadline_does_not_meet_it(clock_harness, own_clock):
    harness = clock_harness
    handle = await awarded(harness)
    await buy(handle, "P-1")
    await handle.execute_update(BeneficiaryJourney.cancel_purchase, {"purchase_ref": "P-1"})
    await own_clock.sleep(timedelta(days=30) + timedelta(seconds=1))

    result = await handle.result()

    assert (result.status, result.reasons) == ("REVOKED", ["PURCHASE_DEADLINE_MISSED"])
    assert await ledger(harness, handle) == [
        ("AWARD", 1_000_000),
        ("PURCHASE", -400_000),
        ("REFUND", 400_000),
        ("TREASURY_RETURN", -1_000_000),
    ]


async def test_a_new_purchase_after_a_cancelled_one_meets_the_deadline(clock_harness, own_clock):
    harness = clock_harness
    handle = await awarded(harness)
    await buy(handle, "P-1")
    await handle.execute_update(BeneficiaryJourney.cancel_purchase, {"purchase_ref": "P-1"})
    await buy(handle, "P-2", price=100_000)
    await own_clock.sleep(timedelta(days=31))

    view = await wait_status(handle, "TRAINING")

    assert (view.purchases, view.balance) == ({"P-1": "CANCELLED", "P-2": "PURCHASED"}, 900_000)
    await handle.signal(BeneficiaryJourney.completion, completion("P-2"))
    assert (await wait_status(handle, "INCENTIVES")).completed == ["P-2"]


async def test_revocation_voids_open_purchases_and_blocks_the_card(harness):
    async with harness.sessions.begin() as s:
        s.add(Partner(client_code="MKT-A", kind="marketplace", name="Market A", sign_key_sealed="x"))
    handle = await awarded(harness)
    await buy(handle, "P-1")
    await buy(handle, "P-2", price=100_000)
    await handle.signal(BeneficiaryJourney.completion, completion("P-2"))
    await handle.signal(BeneficiaryJourney.revoke, {"reason": "fraud", "requested_by": "op"})
    result = await handle.result()
    assert result.status == "REVOKED"
    assert await ledger(harness, handle) == [
        ("AWARD", 1_000_000),
        ("PURCHASE", -400_000),
        ("PURCHASE", -100_000),
        ("REFUND", 400_000),
        ("TREASURY_RETURN", -900_000),
    ]
    async with harness.sessions() as s:
        statuses = dict((await s.execute(select(Purchase.purchase_ref, Purchase.status))).all())
    assert statuses == {"P-1": "CANCELLED", "P-2": "PURCHASED"}  # P-2's completion lives in the workflow/API
    kinds = sorted((n.kind, n.purchase_ref) for n in harness.world.notifications)
    assert kinds == [("CARD_BLOCKED", None), ("PURCHASE_VOIDED", "P-1")]
    with pytest.raises(RPCError):  # the journey is closed: nothing can be bought any more
        await buy(handle, "P-3")


async def test_a_revocation_does_not_void_a_purchase_the_ledger_shows_completed(harness):
    """Its completion was recorded but had not reached the journey when the revocation did."""
    async with harness.sessions.begin() as s:
        s.add(Partner(client_code="MKT-A", kind="marketplace", name="Market A", sign_key_sealed="x"))
    handle = await awarded(harness)
    await buy(handle, "P-1")
    async with harness.sessions.begin() as s:
        await s.execute(update(Purchase).where(Purchase.purchase_ref == "P-1").values(status="COMPLETED"))

    await handle.signal(BeneficiaryJourney.revoke, {"reason": "fraud", "requested_by": "op"})

    assert (await handle.result()).status == "REVOKED"
    assert await ledger(harness, handle) == [
        ("AWARD", 1_000_000),
        ("PURCHASE", -400_000),
        ("TREASURY_RETURN", -600_000),  # no refund: the training was delivered
    ]
    assert [n.kind for n in harness.world.notifications] == ["CARD_BLOCKED"]


async def test_programme_close_returns_the_unused_balance(clock_harness, own_clock):
    harness = clock_harness
    handle = await awarded(harness)
    await buy(handle, "P-1")
    await handle.signal(BeneficiaryJourney.completion, completion("P-1"))
    await wait_status(handle, "INCENTIVES")
    await own_clock.sleep(timedelta(days=366))
    async with asyncio.timeout(15):
        while ("TREASURY_RETURN", -600_000) not in await ledger(harness, handle):
            await asyncio.sleep(0.1)
    async with harness.sessions() as s:  # the projection's balance is written with the ledger row
        beneficiary = await s.get(Beneficiary, handle.id.removeprefix("journey-"))
    assert (beneficiary.status, beneficiary.balance) == ("INCENTIVES", 0)
    assert await refusal(buy(handle, "P-2", price=1)) == "PROGRAMME_CLOSED"


async def test_programme_close_with_no_training_completed_returns_the_balance_and_ends(clock_harness, own_clock):
    harness = clock_harness
    handle = await awarded(harness)
    await buy(handle, "P-1")
    await own_clock.sleep(timedelta(days=366))

    result = await handle.result()

    assert (result.status, result.reasons) == ("COMPLETED", ["NO_TRAINING_COMPLETED"])
    assert await ledger(harness, handle) == [
        ("AWARD", 1_000_000),
        ("PURCHASE", -400_000),
        ("TREASURY_RETURN", -600_000),
    ]
    async with harness.sessions() as s:
        row = await s.get(Beneficiary, handle.id.removeprefix("journey-"))
    assert (row.status, row.reasons, row.balance) == ("COMPLETED", ["NO_TRAINING_COMPLETED"], 0)


async def test_a_purchase_cancelled_after_the_close_is_refunded_to_the_treasury(clock_harness, own_clock):
    harness = clock_harness
    handle = await awarded(harness)
    await buy(handle, "P-1")
    await buy(handle, "P-2", price=100_000)
    await handle.signal(BeneficiaryJourney.completion, completion("P-1"))
    await wait_status(handle, "INCENTIVES")
    await own_clock.sleep(timedelta(days=366))
    async with asyncio.timeout(15):
        while ("TREASURY_RETURN", -500_000) not in await ledger(harness, handle):
            await asyncio.sleep(0.1)

    cancelled = await handle.execute_update(
        BeneficiaryJourney.cancel_purchase, CancelPurchaseUpdate(purchase_ref="P-2")
    )

    assert cancelled.balance_remaining == 0
    entries = await ledger(harness, handle)
    assert entries[-2:] == [("REFUND", 100_000), ("TREASURY_RETURN", -100_000)] and sum(a for _, a in entries) == 0
    async with harness.sessions() as s:
        assert (await s.get(Beneficiary, handle.id.removeprefix("journey-"))).balance == 0


async def test_revocation_racing_the_first_completion_always_wins(harness):
    """The revoke signal lands in the same workflow task as an activity's result: it must never be lost."""
    handles = [await awarded(harness) for _ in range(8)]
    for i, handle in enumerate(handles):
        await buy(handle, f"P-{i}")

    async def complete_then_revoke(i, handle):
        await handle.signal(BeneficiaryJourney.completion, completion(f"P-{i}"))
        await asyncio.sleep(i * 0.01)  # sweep the revocation across the schedule_surveys activity's run
        await handle.signal(BeneficiaryJourney.revoke, {"reason": "fraud", "requested_by": "op"})

    await asyncio.gather(*(complete_then_revoke(i, h) for i, h in enumerate(handles)))
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=60)
    assert {r.status for r in results} == {"REVOKED"}
