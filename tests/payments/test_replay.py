"""Replay recorded payment histories against today's workflow code: a change that would break payments already
in flight (a child of every journey) fails here. Change running logic with `workflow.patched`; re-record only for
a deliberate break no running payment can meet, with `RECORD_HISTORIES=1 pytest tests/payments/test_replay.py`.
"""

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer

from core.payments import ReconcileInput, ReconcileResult, RetryPaymentInput
from core.settings import Settings
from core.temporal import data_converter
from tests.payments.harness import wait_state
from workers.payments import PAYMENT_WORKFLOWS
from workflows.disbursement import Disbursement

HISTORIES = Path(__file__).parent / "histories"
RECORDING = os.environ.get("RECORD_HISTORIES") == "1"
PATHS = {"paid_sync", "paid_after_dropped_callback", "retried_from_hold", "cancelled_on_hold", "reconciliation"}


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.skipif(RECORDING, reason="recording: replay the fresh fixtures in a second run")
@pytest.mark.parametrize("path", recorded(), ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path):
    history = load(path)
    replayer = Replayer(workflows=list(PAYMENT_WORKFLOWS), data_converter=data_converter(Settings().codec_keys))

    result = await replayer.replay_workflow(history)

    assert result.replay_failure is None


@pytest.mark.skipif(RECORDING, reason="recording")
def test_every_path_has_a_history():
    assert {path.stem for path in recorded()} >= PATHS


async def save(handle: WorkflowHandle, name: str) -> None:
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text((await handle.fetch_history()).to_json())


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
        "Reconciliation",
        ReconcileInput(day=day, partner_client_codes=[pay.partner_a, pay.partner_b]),
        id=f"reconciliation-record-{pay.partner_a}",
        task_queue=pay.settings.task_queue,
        result_type=ReconcileResult,
    )
    await report.result()
    await save(report, "reconciliation")
