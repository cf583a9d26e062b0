"""A civil registry's life event (death, NIK deactivated) stops a journey in any state: nothing more is bought or
paid, unpaid payments are cancelled with the event as reason, money already with the partner is settled once and
counted in the clawback, and the journey ends REVOKED with the event's code.

Each test has a time-skipping server of its own (`clock_harness`): it awaits the journey's result, which skips
time, and a shared server's clock would move other tests' timers too."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from activities.payments import PaymentActivities
from api.views import journey_view
from core.contracts import JourneyResult, LinkAccountResult, RevokeSignal
from core.domain import PaymentKind
from core.payments import AttemptInput, OpenPaymentInput, attempt_id_for, payment_id_for
from core.security import nik_hash
from db.models import BalanceEntry, Beneficiary, Clawback, NikBlacklist, Payment, Purchase
from tests.payments.harness import signalling_sender, until
from tests.payments.harness import waiting_on_timer as until_timer_started
from tests.payments.test_replay import save as save_payment
from tests.replay import RECORDING
from tests.workflows.conftest import wait_status
from tests.workflows.harness import awarded, order
from tests.workflows.test_replay import save as save_journey
from workers.composition import build_adapters
from workflows.disbursement import LOST_DIRECT_CALL_WINDOW
from workflows.journey import BeneficiaryJourney

ACCOUNT = "081234567890"
LOCAL_PAYMENTS_RELEASE = "8df0f4d"  # tests/replay.py RELEASES
INCENTIVE = 600_000


@pytest.fixture
def harness(clock_harness):
    return clock_harness


async def life_event(handle, event: str = "DECEASED") -> JourneyResult:
    signal = RevokeSignal(reason=f"{event} reported", requested_by="DEV-REGISTRY", reason_code=event)
    await handle.signal(BeneficiaryJourney.revoke, signal)
    return await handle.result()


def rid(handle) -> str:
    return handle.id.removeprefix("journey-")


async def ledger(harness, handle) -> dict[str, tuple[str, str | None]]:
    async with harness.sessions() as s:
        rows = await s.scalars(select(Payment).where(Payment.registration_id == rid(handle)))
        return {f"{p.kind[0]}{p.number}": (p.status, p.reason) for p in rows}


async def balance(harness, handle) -> int:
    async with harness.sessions() as s:
        rows = await s.scalars(select(BalanceEntry.amount).where(BalanceEntry.registration_id == rid(handle)))
        return sum(rows)


async def clawback(harness, handle) -> Clawback | None:
    async with harness.sessions() as s:
        return await s.get(Clawback, rid(handle))


async def projection(harness, handle) -> Beneficiary:
    async with harness.sessions() as s:
        found = await s.get(Beneficiary, rid(handle))
        assert found is not None
        return found


async def paying(harness, account_status: str = "ACTIVE", before_review=None, review=True):  # type: ignore[no-untyped-def]
    """Awarded, trained, reviewed, an e-wallet linked: incentive 1 goes out (not before the review)."""
    handle = await awarded(harness)
    nik = harness.persons[-1].nik
    harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    done = {"purchase_ref": "P-1", "certificate_number": "C", "completed_at": datetime.now(UTC).isoformat()}
    await handle.signal(BeneficiaryJourney.completion, done)
    await wait_status(handle, "INCENTIVES")
    linked = await handle.execute_update(
        BeneficiaryJourney.link_payment_account,
        {"partner_client_code": "EWALLET", "account_number": ACCOUNT},
        result_type=LinkAccountResult,
    )
    assert linked.verified
    if account_status != "ACTIVE":
        harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True, status=account_status)
    if before_review is not None:
        before_review()
    if review:
        await handle.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 5})
    return handle


def received(harness) -> list[tuple[str, str, int]]:
    return [(r.idempotency_key, r.status, r.amount) for r in harness.world.payments.received("EWALLET")]


async def test_death_while_waiting_for_a_wave_revokes_and_blacklists(harness):
    handle = await harness.register(harness.citizen())
    await wait_status(handle, "WAITING_FOR_WAVE")

    result = await life_event(handle)

    assert (result.status, result.reasons) == ("REVOKED", ["DECEASED"])
    b = await projection(harness, handle)
    assert (b.status, b.reasons, b.in_pool) == ("REVOKED", ["DECEASED"], False)
    async with harness.sessions() as s:
        entry = await s.get(NikBlacklist, b.nik_hash)
    assert entry is not None and entry.reason == "DECEASED"


async def test_deactivated_nik_after_the_award_returns_the_whole_balance(harness):
    handle = await awarded(harness)

    result = await life_event(handle, "NIK_DEACTIVATED")

    assert (result.status, result.reasons) == ("REVOKED", ["NIK_DEACTIVATED"])
    assert await balance(harness, handle) == 0
    assert await ledger(harness, handle) == {} and await clawback(harness, handle) is None


async def test_death_during_training_voids_the_open_purchase(harness):
    handle = await awarded(harness)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    await wait_status(handle, "TRAINING")

    result = await life_event(handle)

    assert (result.status, result.reasons) == ("REVOKED", ["DECEASED"])
    async with harness.sessions() as s:
        purchase = await s.get(Purchase, "P-1")
    assert purchase is not None and purchase.status == "CANCELLED"
    assert await balance(harness, handle) == 0
    assert received(harness) == []
    told = [(n.kind, n.reason) for n in harness.world.notifications if n.purchase_ref == "P-1"]
    assert told == [("PURCHASE_VOIDED", "CARD_REVOKED")]  # the marketplace learns the card stopped, not why


async def test_death_between_two_instalments_stops_the_rest_and_claws_back_the_first(harness):
    handle = await paying(harness)
    await until(lambda: [s for _, s, _ in received(harness)] == ["SUCCEEDED"])
    await until_ledger(harness, handle, {"I1": ("PAID", None)})

    result = await life_event(handle)

    assert (result.status, result.reasons) == ("REVOKED", ["DECEASED"])
    assert received(harness) == [(f"PAY-{rid(handle)}-I1-A1", "SUCCEEDED", INCENTIVE)]
    assert await ledger(harness, handle) == {"I1": ("PAID", None)}
    claw = await clawback(harness, handle)
    assert claw is not None and (claw.amount, claw.payment_ids, claw.reason) == (
        INCENTIVE,
        [f"PAY-{rid(handle)}-I1"],
        "DECEASED",
    )
    async with harness.sessions() as s:
        view = await journey_view(s, rid(handle))
    assert view is not None and view.clawback is not None and view.clawback.amount == INCENTIVE
    incentives = [(p.number, p.status, p.reason) for p in view.payments if p.kind == "INCENTIVE"]
    assert incentives == [(1, "PAID", None)] + [(n, "CANCELLED", "DECEASED") for n in (2, 3, 4)]


async def test_death_during_a_payment_attempt_settles_it_once_and_claws_it_back(harness):
    # The partner has the disbursement (PENDING) when the event arrives: the revocation is booked at once (it never
    # waits for a partner), the payment is resolved in its own workflow, never sent again, and joins the clawback.
    harness.world.configure_payment_partner("EWALLET", mode="async", callback_delay_ms=1500)
    harness.world.callback_sender = signalling_sender(harness.client)  # its callback reaches the payment
    handle = await paying(harness)
    await until(lambda: [s for _, s, _ in received(harness)] == ["PENDING"])

    result = await life_event(handle)

    assert (result.status, result.reasons) == ("REVOKED", ["DECEASED"])
    await until(lambda: [s for _, s, _ in received(harness)] == ["SUCCEEDED"])
    assert received(harness) == [(f"PAY-{rid(handle)}-I1-A1", "SUCCEEDED", INCENTIVE)]
    await until_ledger(harness, handle, {"I1": ("PAID", None)})
    claw = await clawback(harness, handle)
    assert claw is not None and claw.amount == INCENTIVE


async def test_a_revocation_during_a_partner_outage_is_booked_at_once_and_nothing_is_sent_after_it(harness):
    # The partner is down (503 to everything) when incentive 1 goes out: the NIK is blacklisted and the journey
    # REVOKED without waiting for the outage to end (before, the revocation waited for the partner). The attempt
    # never reached the partner, so once it answers again the payment is CANCELLED, not sent to a dead person.
    handle = await paying(harness, before_review=lambda: harness.world.add_fault("payment:EWALLET", "error_5xx"))
    await until(lambda: _tried(harness), timeout=20)

    result = await asyncio.wait_for(life_event(handle), timeout=30)

    assert (result.status, result.reasons) == ("REVOKED", ["DECEASED"])
    assert (await projection(harness, handle)).status == "REVOKED"
    async with harness.sessions() as s:
        assert await s.get(NikBlacklist, handle_nik_hash(harness)) is not None
    harness.world.clear_faults()
    payment = harness.client.get_workflow_handle(f"payment-PAY-{rid(handle)}-I1")
    assert (await asyncio.wait_for(payment.result(), timeout=30))["status"] == "CANCELLED"
    assert received(harness) == []
    assert (await ledger(harness, handle))["I1"][0] == "CANCELLED"
    assert await clawback(harness, handle) is None


async def lost_direct_payment(harness, handle, received: bool) -> str:  # type: ignore[no-untyped-def]
    """What a direct payment (a local activity) leaves when its workflow task is lost: the ledger row and attempt 1
    of incentive 1, and the partner's record of it if the call got there; the journey's history shows nothing."""
    registration_id = rid(handle)
    payment_id = payment_id_for(registration_id, PaymentKind.INCENTIVE, 1)
    payments = PaymentActivities(
        build_adapters(harness.settings, world=harness.world).payments, harness.sessions, "http://api.invalid"
    )
    await payments.open_payment(
        OpenPaymentInput(
            payment_id=payment_id,
            registration_id=registration_id,
            kind=PaymentKind.INCENTIVE,
            number=1,
            amount=INCENTIVE,
            partner_client_code="EWALLET",
            account_number=ACCOUNT,
        )
    )
    attempt = AttemptInput(
        payment_id=payment_id,
        attempt_id=attempt_id_for(payment_id, 1),
        attempt_no=1,
        partner_client_code="EWALLET",
        account_number=ACCOUNT,
        nik=harness.persons[-1].nik,
        amount=INCENTIVE,
    )
    if received:
        assert (await payments.disburse(attempt)).answer == "SUCCEEDED"  # the partner paid; the ledger does not know
    else:
        await payments._record_attempt(attempt)  # recorded, never sent
    return payment_id


async def test_a_direct_payment_lost_with_its_workflow_task_is_resolved_when_the_journey_is_revoked(harness):
    # A direct payment runs inside a workflow task. If the task is lost (its worker died) and the revocation reaches
    # the journey before it tries again, its history never shows the call, which the partner did pay. No review yet
    # here, so the journey itself never pays: the revocation must still find that money and claw it back.
    handle = await paying(harness, review=False)
    payment_id = await lost_direct_payment(harness, handle, received=True)

    result = await asyncio.wait_for(life_event(handle), timeout=30)

    assert result.status == "REVOKED"
    payment = harness.client.get_workflow_handle(f"payment-{payment_id}")
    assert (await asyncio.wait_for(payment.result(), timeout=30))["status"] == "PAID"
    assert (await ledger(harness, handle))["I1"][0] == "PAID"
    assert [(key, status) for key, status, _ in received(harness)] == [(f"{payment_id}-A1", "SUCCEEDED")]  # once
    claimed = await clawback(harness, handle)
    assert claimed is not None and (claimed.amount, claimed.payment_ids) == (INCENTIVE, [payment_id])
    if RECORDING:  # the revocation's own path of the local-payments release: later releases must replay it
        await save_journey(handle, f"journey_revoked_with_an_unrecorded_payment_{LOCAL_PAYMENTS_RELEASE}")
        await save_payment(payment, f"journey_child_resolving_an_unrecorded_payment_{LOCAL_PAYMENTS_RELEASE}")


async def test_a_lost_direct_payment_the_partner_never_received_is_cancelled_and_never_sent(harness, own_clock):
    # The same, but the call never reached the partner. The payment's workflow, started stopped by the revocation
    # that ends the journey in the same workflow task, waits out the time a lost call could still be sending, asks
    # again, and cancels: nothing is sent to a revoked beneficiary.
    handle = await paying(harness, review=False)
    payment_id = await lost_direct_payment(harness, handle, received=False)

    result = await asyncio.wait_for(life_event(handle), timeout=30)

    assert result.status == "REVOKED"
    payment = harness.client.get_workflow_handle(f"payment-{payment_id}")
    await until_timer_started(payment)
    await own_clock.sleep(LOST_DIRECT_CALL_WINDOW)  # a lost call's time to end, skipped
    assert (await asyncio.wait_for(payment.result(), timeout=30))["status"] == "CANCELLED"
    assert received(harness) == []
    assert (await ledger(harness, handle))["I1"] == ("CANCELLED", "CANCELLED_BEFORE_RECEIVED")
    assert await clawback(harness, handle) is None
    if RECORDING:
        await save_payment(payment, f"journey_child_cancelling_an_unrecorded_payment_{LOCAL_PAYMENTS_RELEASE}")


def _tried(harness) -> bool:  # type: ignore[no-untyped-def]
    return any(f.fired for f in harness.world.faults.faults)


def handle_nik_hash(harness) -> str:  # type: ignore[no-untyped-def]
    return nik_hash(harness.settings.secret_key, harness.persons[-1].nik)


async def test_death_while_a_payment_is_on_hold_cancels_it_with_the_event_as_reason(harness):
    handle = await paying(harness, account_status="CLOSED")
    await wait_status(handle, "PAYMENT_ON_HOLD")

    result = await life_event(handle)

    assert (result.status, result.reasons) == ("REVOKED", ["DECEASED"])
    assert await ledger(harness, handle) == {"I1": ("CANCELLED", "DECEASED")}
    assert [s for _, s, _ in received(harness)] == ["FAILED"]
    assert await clawback(harness, handle) is None
    assert (await projection(harness, handle)).status == "REVOKED"


async def test_a_repeated_event_changes_nothing(harness):
    handle = await awarded(harness)
    await handle.signal(BeneficiaryJourney.revoke, RevokeSignal(reason="x", requested_by="REG", reason_code="DECEASED"))
    result = await life_event(handle, "NIK_DEACTIVATED")  # the first one wins
    assert result.reasons == ["DECEASED"]


async def until_ledger(harness, handle, expected) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(10):
        while await ledger(harness, handle) != expected:
            await asyncio.sleep(0.05)
