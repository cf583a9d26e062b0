"""Recorders for the replay fixtures of whole journeys and of a course assessment (tests/workflows/test_replay.py
replays every file in `histories/`). Run only to add or deliberately refresh them:

    RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/workflows/test_replay_full.py

A completed prakerja-2020 journey (purchase, completion, review, account link, 4 incentives and 3 surveys paid by
their child workflows), a journey stopped by a death reported during its incentives (life event), and an
assessment that went OVERDUE on its SLA timer before an operator approved it.

Recorded with the code of commit 0089b57 (before the payment path was redesigned): a completed journey whose first
incentive went ON_HOLD (account closed at the partner) until a support retry paid it to another account, one revoked
while a payment was pending at an asynchronous partner, and a completed journey whose partner answered every payment
by callback; with each, its first payment's child (tests/payments/histories/journey_child_*.json: retried from
hold, settled after the revocation's cancel request, paid by callback). Run only these, the others would overwrite
their own fixtures: `-k "support_retry or payment_is_pending or partner_callbacks"`."""

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle

from core.catalogue import Decision
from core.contracts import RevokeSignal
from core.payments import RetryOutcome, RetryPaymentInput
from tests.payments.harness import signalling_sender
from tests.payments.test_replay import save as save_payment
from tests.workflows.conftest import wait_status
from tests.workflows.test_assessment import SLA, _until_overdue
from tests.workflows.test_assessment import desk as desk  # noqa: F401 (the fixture)
from tests.workflows.test_journey_money import ACCOUNT, answer_surveys, ledger, trained
from tests.workflows.test_journey_money import harness as harness  # noqa: F401 (the fixture)
from tests.workflows.test_replay import HISTORIES, RECORDING, save
from workflows.assessment import CourseAssessment
from workflows.disbursement import Disbursement
from workflows.journey import BeneficiaryJourney

pytestmark = pytest.mark.skipif(not RECORDING, reason="set RECORD_HISTORIES=1 to re-record the replay fixtures")


async def test_record_a_completed_journey(harness):
    completed = await trained(harness)
    await answer_surveys(harness, completed, [1, 2, 3])
    assert (await asyncio.wait_for(completed.result(), timeout=60)).status == "COMPLETED"

    HISTORIES.mkdir(exist_ok=True)
    await save(completed, "journey_completed")


async def test_record_a_journey_stopped_by_a_death_during_its_incentives(harness):
    died = await trained(harness)
    await until_paid(harness, died, "I1")
    signal = RevokeSignal(reason="DECEASED reported", requested_by="DEV-REGISTRY", reason_code="DECEASED")
    await died.signal(BeneficiaryJourney.revoke, signal)
    assert (await asyncio.wait_for(died.result(), timeout=60)).reasons == ["DECEASED"]

    await save(died, "journey_life_event_during_incentives")


BANK_ACCOUNT = "1234567890"
ALL_PAID = {f"I{n}": ("PAID", 600_000) for n in range(1, 5)} | {f"S{n}": ("PAID", 50_000) for n in range(1, 4)}


async def test_record_a_journey_whose_incentive_held_until_a_support_retry(harness):
    # Linked while open, closed before the review lets incentive 1 go: its attempt fails ACCOUNT_CLOSED, on hold.
    held = await trained(harness, review=False)
    nik = harness.persons[-1].nik
    harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True, status="CLOSED")
    harness.world.add_payment_account("BANK", BANK_ACCOUNT, nik, kyc=True)
    await held.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 5})
    await wait_status(held, "PAYMENT_ON_HOLD", timeout=30)
    payment = child(harness, held, "I1")
    retry = RetryPaymentInput(partner_client_code="BANK", account_number=BANK_ACCOUNT, requested_by="support-1")
    assert (await payment.execute_update(Disbursement.retry, retry)).outcome is RetryOutcome.ACCEPTED
    await wait_status(held, "INCENTIVES")  # the journey heard of the move: surveys answered now are paid to BANK
    await answer_surveys(harness, held, [1, 2, 3])
    assert (await asyncio.wait_for(held.result(), timeout=60)).status == "COMPLETED"
    assert await ledger(harness, held) == ALL_PAID
    assert [p.status for p in harness.world.payments.received("EWALLET")] == ["FAILED"]

    await save(held, "journey_hold_then_support_retry")
    await save_payment(payment, "journey_child_retried_from_hold")


async def test_record_a_journey_revoked_while_a_payment_is_pending_at_the_partner(harness):
    harness.world.callback_sender = signalling_sender(harness.client)
    harness.world.configure_payment_partner("EWALLET", mode="async", callback_delay_ms=3000)
    revoked = await trained(harness)
    async with asyncio.timeout(20):  # incentive 1 reached the partner, which answers PENDING and calls back later
        while not harness.world.payments.received("EWALLET"):
            await asyncio.sleep(0.05)
    assert (await ledger(harness, revoked))["I1"][0] == "PENDING"
    await revoked.signal(BeneficiaryJourney.revoke, RevokeSignal(reason="fraud report", requested_by="op-1"))
    assert (await asyncio.wait_for(revoked.result(), timeout=60)).status == "REVOKED"
    # The revocation is booked at once; the payment already sent settles in its own workflow, PAID by the callback.
    await asyncio.wait_for(child(harness, revoked, "I1").result(), timeout=60)
    assert (await ledger(harness, revoked))["I1"] == ("PAID", 600_000)

    await save(revoked, "journey_revoked_during_a_payment")
    await save_payment(child(harness, revoked, "I1"), "journey_child_settled_after_revocation")


async def test_record_a_journey_paid_by_partner_callbacks(harness):
    harness.world.callback_sender = signalling_sender(harness.client)
    harness.world.configure_payment_partner("EWALLET", mode="async", callback_delay_ms=200)
    completed = await trained(harness)
    await answer_surveys(harness, completed, [1, 2, 3])
    assert (await asyncio.wait_for(completed.result(), timeout=60)).status == "COMPLETED"
    assert await ledger(harness, completed) == ALL_PAID
    for key in ALL_PAID:  # each paid on its callback, not on a status check
        assert await callbacks(harness, completed, key) == 1

    await save(completed, "journey_async_partner_callbacks")
    await save_payment(child(harness, completed, "I1"), "journey_child_paid_by_callback")


async def callbacks(harness, journey, key: str) -> int:  # type: ignore[no-untyped-def]
    """How many partner callbacks the payment child `key` (I1, S2, ...) of `journey` received."""
    events = (await child(harness, journey, key).fetch_history()).events
    return [e.workflow_execution_signaled_event_attributes.signal_name for e in events].count("attempt_status")


def child(harness, journey, key: str) -> WorkflowHandle:  # type: ignore[no-untyped-def]
    """The payment child workflow `key` (I1, S2, ...) of `journey`."""
    return harness.client.get_workflow_handle(f"payment-PAY-{journey.id.removeprefix('journey-')}-{key}")


async def until_paid(harness, handle, key: str) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(20):
        while (await ledger(harness, handle)).get(key, ("",))[0] != "PAID":
            await asyncio.sleep(0.05)


async def test_record_an_overdue_then_approved_assessment(desk, own_clock):
    submitted = await desk.submit()
    await own_clock.sleep(SLA + timedelta(minutes=1))  # past the SLA on this test's own server
    await _until_overdue(desk)
    await desk.decide("C-1", Decision.APPROVED)
    handle = desk.client.get_workflow_handle_for(CourseAssessment.run, submitted.workflow_id)
    assert (await handle.result()).overdue is True

    await save(handle, "assessment_overdue_then_approved")
