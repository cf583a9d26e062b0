"""Replay recorded payment histories against today's workflow code: a change that would break payments already
in flight (a child of every journey) fails here. Change running logic with `workflow.patched`; re-record only for
a deliberate break no running payment can meet, with `RECORD_HISTORIES=1 pytest tests/payments/test_replay.py`.

`late_success_after_failure`, `paid_async_with_callback` and `pending_polled` were recorded with the code of commit
0089b57 (before the payment path was redesigned) by `test_record_callback_and_polling_histories`; run it alone
(`-k callback_and_polling`) to add them without re-recording the others. `journey_child_*`, with the same code: the
first payment of a journey (notify_parent: it signals its parent's holds) retried from hold, settled after its
journey's revocation cancelled it, and paid by callback (recorded by tests/workflows/test_replay_full.py).
`*_3a7428c`: the payment paths again, recorded with the code of commit 3a7428c (the `one-activity-payments` release:
a `Disbursement` only when the one-activity payment's answer was not definitive, resuming from the ledger), and
`*_a40ca77` with the code of the `lean-journey` release (commit a40ca77), `*_57a6bd7` with that of `written-ahead`.
"""

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.payments import AttemptStatusSignal, ReconcileInput, ReconcileResult, RetryPaymentInput
from tests.payments.harness import until, wait_state
from tests.replay import RECORDING, RELEASES, Histories
from workers.payments import PAYMENT_WORKFLOWS
from workflows.disbursement import Disbursement
from workflows.reconciliation import Reconciliation

PAYMENTS = Histories(Path(__file__).parent / "histories", PAYMENT_WORKFLOWS)
save = PAYMENTS.save  # the journey recorders in tests/workflows/test_replay_full.py save their children with it
PATHS = {
    "paid_sync",
    "paid_after_dropped_callback",
    "retried_from_hold",
    "cancelled_on_hold",
    "reconciliation",
    "late_success_after_failure",
    "paid_async_with_callback",
    "pending_polled",
    "journey_child_retried_from_hold",  # these three: children of journeys, by tests/workflows/test_replay_full.py
    "journey_child_settled_after_revocation",
    "journey_child_paid_by_callback",
    "journey_child_resolving_an_unrecorded_payment_8df0f4d",  # these two: tests/workflows/test_journey_life_events.py
    "journey_child_cancelling_an_unrecorded_payment_8df0f4d",
} | {
    f"{name}_{release}"  # each release's own (tests/replay.py RELEASES)
    for release in RELEASES
    for name in (
        "retried_from_hold",
        "cancelled_on_hold",
        "late_success_after_failure",
        "paid_async_with_callback",
        "pending_polled",
        "journey_child_retried_from_hold",
        "journey_child_settled_after_revocation",
        "journey_child_paid_by_callback",
    )
}


@pytest.mark.skipif(RECORDING, reason="recording: replay the fresh fixtures in a second run")
@pytest.mark.parametrize("path", PAYMENTS.recorded(), ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path):
    result = await PAYMENTS.replay(PAYMENTS.load(path.stem))

    assert result.replay_failure is None


@pytest.mark.skipif(RECORDING, reason="recording")
def test_every_path_has_a_history():
    assert PAYMENTS.names() >= PATHS


@pytest.mark.skipif(not RECORDING, reason="set RECORD_HISTORIES=1 to re-record the replay fixtures")
async def test_record_histories(pay):
    sync = await pay.start()
    await sync.result()
    await save(sync, "paid_sync")

    pay.world.configure_payment_partner(pay.partner_b, mode="async")
    pay.world.add_fault(f"payment:{pay.partner_b}", "drop_callback")
    dropped = await pay.start(partner=pay.partner_b)
    await dropped.result()
    await save(dropped, "paid_after_dropped_callback")
    pay.world.clear_faults()

    held = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"))
    await wait_state(held, "ON_HOLD")
    retry = RetryPaymentInput(
        partner_client_code=pay.partner_b, account_number=pay.account(pay.partner_b), requested_by="s"
    )
    await held.execute_update(Disbursement.retry, retry)
    await held.result()
    await save(held, "retried_from_hold")

    cancelled = await pay.start(account=pay.account(pay.partner_a, status="LIMIT_EXCEEDED"))
    await wait_state(cancelled, "ON_HOLD")
    await cancelled.cancel()
    await cancelled.result()
    await save(cancelled, "cancelled_on_hold")

    day: date = datetime.now(UTC).date()
    report = await pay.client.start_workflow(
        Reconciliation.run,
        ReconcileInput(day=day, partner_client_codes=[pay.partner_a, pay.partner_b]),
        id=f"reconciliation-record-{pay.partner_a}",
        task_queue=pay.settings.task_queue,
        result_type=ReconcileResult,
    )
    await report.result()
    await save(report, "reconciliation")


@pytest.mark.skipif(not RECORDING, reason="set RECORD_HISTORIES=1 to re-record the replay fixtures")
async def test_record_callback_and_polling_histories(pay):
    # On hold after a definitive failure; the partner's callbacks say FAILED, then SUCCEEDED (its record still
    # says FAILED: checked, ignored), then SUCCEEDED once its record agrees: paid on the first attempt, late.
    late = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"))
    await wait_state(late, "ON_HOLD")
    attempt_id = late.id.removeprefix("payment-") + "-A1"

    def callback(status: str) -> AttemptStatusSignal:
        return AttemptStatusSignal(attempt_id=attempt_id, partner_client_code=pay.partner_a, status=status)

    await late.signal(Disbursement.attempt_status, callback("FAILED"))
    await late.signal(Disbursement.attempt_status, callback("SUCCEEDED"))
    await until(lambda: pay.gateway.count("status") >= 1)
    await wait_state(late, "ON_HOLD")
    pay.world.payments.ledgers[pay.partner_a][attempt_id].status = "SUCCEEDED"
    await late.signal(Disbursement.attempt_status, callback("SUCCEEDED"))
    assert ((await late.result()).status, (await pay.attempts(late))[0].status) == ("PAID", "SUCCEEDED")
    await save(late, "late_success_after_failure")

    pay.world.configure_payment_partner(pay.partner_b, mode="async")
    asked = pay.gateway.count("status")
    called_back = await pay.start(partner=pay.partner_b)
    await wait_state(called_back, "PAID")  # real time, no skipping: only the callback can settle it
    assert (await called_back.result()).status == "PAID" and pay.gateway.count("status") == asked
    await save(called_back, "paid_async_with_callback")

    # PENDING, and no callback ever: the status is asked after each (doubling) window until it is final.
    pay.world.configure_payment_partner(pay.partner_a, mode="async", callback_delay_ms=3_600_000)
    polled = await pay.start()
    result = asyncio.ensure_future(polled.result())  # awaiting the result lets the server skip the windows
    await until(lambda: pay.gateway.count("status") >= asked + 3)
    record = pay.world.payments.ledgers[pay.partner_a][polled.id.removeprefix("payment-") + "-A1"]
    record.status = "SUCCEEDED"
    assert ((await result).status, (await result).attempts) == ("PAID", 1)
    await save(polled, "pending_polled")
