"""One payment, exactly once: sync and async partners, lost answers, callbacks in any number, failures on hold."""

import pytest
from temporalio.client import WorkflowUpdateFailedError

from core.domain import JourneyStatus
from core.payments import (
    AttemptStatusSignal,
    DisburseResult,
    RetryOutcome,
    RetryPaymentInput,
    RetryPaymentResult,
)
from core.temporal import SA_ON_HOLD, SA_PAYMENT_PARTNER
from tests.payments.harness import (
    OTHER_NIK,
    HeldHold,
    queue_holding_back,
    until,
    wait_state,
    waiting_on_timer,
)
from workflows.disbursement import Disbursement


async def retry(handle, **kw) -> RetryPaymentResult:
    return await handle.execute_update(Disbursement.retry, RetryPaymentInput(requested_by="support-1", **kw))


async def test_sync_partner_pays_once_and_the_ledger_says_so(pay):
    handle = await pay.start(amount=600_000)

    result = await handle.result()

    assert (result.status, result.attempts, result.partner_client_code, result.amount) == (
        "PAID",
        1,
        pay.partner_a,
        600_000,
    )
    payment_id = handle.id.removeprefix("payment-")
    assert pay.received(pay.partner_a, "SUCCEEDED") == [f"{payment_id}-A1"]
    row = await pay.payment(handle)
    assert (row.status, row.attempts, row.amount) == ("PAID", 1, 600_000) and row.paid_at is not None
    [attempt] = await pay.attempts(handle)
    assert (attempt.status, attempt.idempotency_key) == ("SUCCEEDED", f"{payment_id}-A1")
    assert attempt.partner_reference == pay.world.payments.received(pay.partner_a)[0].partner_reference
    attrs = (await handle.describe()).typed_search_attributes
    assert (attrs.get(SA_PAYMENT_PARTNER), attrs.get(SA_ON_HOLD)) == (pay.partner_a, False)


async def test_async_partner_is_settled_by_its_callback(pay):
    pay.world.configure_payment_partner(pay.partner_a, mode="async")
    handle = await pay.start()

    # Real time, no skipping: only the callback can settle it before the window.
    await wait_state(handle, "PAID")

    assert (await handle.result()).status == "PAID"
    assert pay.gateway.count("status") == 0
    assert len(pay.received(pay.partner_a, "SUCCEEDED")) == 1


async def test_duplicate_callbacks_pay_nothing_more(pay):
    pay.world.configure_payment_partner(pay.partner_a, mode="async")
    pay.world.add_fault(f"payment:{pay.partner_a}", "duplicate_callback")
    handle = await pay.start()

    await wait_state(handle, "PAID")
    await pay.world.drain()

    assert (await handle.result()).attempts == 1
    assert len(pay.received(pay.partner_a)) == 1 and pay.gateway.count("disburse") == 1
    pay.assert_paid_at_most_once()


async def test_dropped_callback_is_resolved_by_asking_the_partner(pay):
    pay.world.configure_payment_partner(pay.partner_a, mode="async")
    pay.world.add_fault(f"payment:{pay.partner_a}", "drop_callback")
    handle = await pay.start()

    result = await handle.result()  # time skips past the callback window

    assert (result.status, result.attempts) == ("PAID", 1)
    assert pay.gateway.count("status") >= 1 and pay.gateway.count("disburse") == 1
    assert len(pay.received(pay.partner_a)) == 1


async def test_timeout_after_the_partner_paid_is_resolved_by_status_not_a_second_payment(pay):
    pay.world.add_fault(f"payment:{pay.partner_a}", "timeout")
    pay.gateway.heal_after(1)
    handle = await pay.start()

    result = await handle.result()

    assert (result.status, result.attempts) == ("PAID", 1)
    assert [op for op, _, _ in pay.gateway.calls] == ["disburse", "status"]
    assert len(pay.received(pay.partner_a, "SUCCEEDED")) == 1


async def test_request_lost_before_the_partner_is_sent_again_under_the_same_key(pay):
    pay.gateway.lose_before(1)
    handle = await pay.start()

    result = await handle.result()

    payment_id = handle.id.removeprefix("payment-")
    assert (result.status, result.attempts) == ("PAID", 1)
    assert pay.gateway.calls == [
        ("disburse", pay.partner_a, f"{payment_id}-A1"),
        ("status", pay.partner_a, f"{payment_id}-A1"),
        ("disburse", pay.partner_a, f"{payment_id}-A1"),
    ]
    assert pay.received(pay.partner_a, "SUCCEEDED") == [f"{payment_id}-A1"]


async def test_transient_5xx_is_retried_then_paid(pay):
    pay.world.add_fault(f"payment:{pay.partner_a}", "error_5xx")
    pay.gateway.heal_after(2)
    handle = await pay.start()

    result = await handle.result()

    assert (result.status, result.attempts) == ("PAID", 1)
    assert pay.gateway.count("disburse") == 3
    assert len(pay.received(pay.partner_a)) == 1


@pytest.mark.parametrize(
    ("account_kw", "reason"),
    [
        ({"status": "CLOSED"}, "ACCOUNT_CLOSED"),
        ({"status": "LIMIT_EXCEEDED"}, "LIMIT_EXCEEDED"),
        ({"nik": OTHER_NIK}, "NIK_MISMATCH"),
    ],
)
async def test_definitive_failure_puts_the_payment_on_hold(pay, account_kw, reason):
    registration_id = await pay.beneficiary(JourneyStatus.INCENTIVES)
    handle = await pay.start(account=pay.account(pay.partner_a, **account_kw), registration_id=registration_id)

    state = await wait_state(handle, "ON_HOLD")

    assert (state.reason, state.attempts) == (reason, 1)
    row = await pay.payment(handle)
    assert (row.status, row.reason) == ("ON_HOLD", reason)
    assert [(a.status, a.reason) for a in await pay.attempts(handle)] == [("FAILED", reason)]
    status, detail = await pay.status_of(registration_id)
    assert (status, detail["status_before_payment_hold"]) == ("PAYMENT_ON_HOLD", "INCENTIVES")
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(SA_ON_HOLD) is True
    assert pay.received(pay.partner_a, "SUCCEEDED") == []


async def test_support_retry_to_a_new_partner_and_account_pays_once(pay):
    registration_id = await pay.beneficiary(JourneyStatus.INCENTIVES)
    handle = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"), registration_id=registration_id)
    await wait_state(handle, "ON_HOLD")
    new_account = pay.account(pay.partner_b)

    answer = await retry(handle, partner_client_code=pay.partner_b, account_number=new_account)
    result = await handle.result()

    assert answer.outcome is RetryOutcome.ACCEPTED
    assert (result.status, result.attempts, result.partner_client_code) == ("PAID", 2, pay.partner_b)
    assert len(pay.received(pay.partner_a, "FAILED")) == 1 and pay.received(pay.partner_a, "SUCCEEDED") == []
    assert len(pay.received(pay.partner_b, "SUCCEEDED")) == 1
    assert [r.account_number for r in pay.world.payments.received(pay.partner_b)] == [new_account]
    row = await pay.payment(handle)
    assert (row.status, row.partner_client_code, row.account_number, row.reason) == (
        "PAID",
        pay.partner_b,
        new_account,
        None,
    )
    assert [a.status for a in await pay.attempts(handle)] == ["FAILED", "SUCCEEDED"]
    assert (await pay.status_of(registration_id))[0] == "INCENTIVES"
    assert (await handle.describe()).typed_search_attributes.get(SA_ON_HOLD) is False
    pay.assert_paid_at_most_once()


async def test_a_retry_sent_once_the_ledger_shows_the_hold_is_taken_before_the_workflow_hears_of_it(pay):
    held = HeldHold(pay)
    async with queue_holding_back(pay, held) as queue:
        handle = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"), task_queue=queue)
        await until(held.committed.is_set)
        assert (await pay.payment(handle)).status == "ON_HOLD"  # what support sees in the console
        assert (await wait_state(handle, "PENDING")).attempts == 1  # the workflow has not heard yet
        try:
            answer = await retry(handle, partner_client_code=pay.partner_b, account_number=pay.account(pay.partner_b))
        finally:
            held.release()
        result = await handle.result()

    assert answer.outcome is RetryOutcome.ACCEPTED
    assert (result.status, result.attempts, result.partner_client_code) == ("PAID", 2, pay.partner_b)
    assert [a.status for a in await pay.attempts(handle)] == ["FAILED", "SUCCEEDED"]
    pay.assert_paid_at_most_once()


async def test_retry_to_an_account_failing_ekyc_is_refused_and_stays_on_hold(pay):
    handle = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"))
    await wait_state(handle, "ON_HOLD")
    not_kycd = pay.account(pay.partner_b, kyc=False)

    answer = await retry(handle, partner_client_code=pay.partner_b, account_number=not_kycd)

    assert (answer.outcome, answer.reason) == (RetryOutcome.EKYC_FAILED, "KYC_NOT_COMPLETED")
    state = await wait_state(handle, "ON_HOLD")
    assert (state.attempts, state.partner_client_code) == (1, pay.partner_a)
    assert pay.gateway.count("disburse") == 1


async def test_retry_is_refused_unless_on_hold_and_cancel_while_pending_still_pays(pay):
    pay.world.configure_payment_partner(pay.partner_a, mode="async")
    pay.world.add_fault(f"payment:{pay.partner_a}", "drop_callback")
    handle = await pay.start()
    await until(lambda: pay.received(pay.partner_a, "SUCCEEDED"))

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await retry(handle)
    await handle.cancel()
    result = await handle.result()

    assert refused.value.cause.type == "PAYMENT_NOT_ON_HOLD"
    # The attempt in flight was resolved (the partner had paid): PAID, to be counted in the clawback.
    assert (result.status, result.attempts) == ("PAID", 1)
    assert (await pay.payment(handle)).status == "PAID"
    assert pay.gateway.count("disburse") == 1


async def test_cancel_while_pending_at_a_partner_that_fails_it_cancels(pay):
    pay.world.configure_payment_partner(pay.partner_a, mode="async")
    pay.world.add_fault(f"payment:{pay.partner_a}", "drop_callback")
    handle = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"))
    await until(lambda: pay.received(pay.partner_a, "FAILED"))

    await handle.cancel()
    result = await handle.result()

    assert (result.status, result.attempts, result.amount) == ("CANCELLED", 1, 0)
    row = await pay.payment(handle)
    assert (row.status, row.reason) == ("CANCELLED", "ACCOUNT_CLOSED")
    assert [a.status for a in await pay.attempts(handle)] == ["FAILED"]
    assert pay.gateway.count("disburse") == 1


async def test_cancel_while_on_hold_cancels(pay):
    handle = await pay.start(account=pay.account(pay.partner_a, status="LIMIT_EXCEEDED"))
    await wait_state(handle, "ON_HOLD")

    await handle.cancel()
    result: DisburseResult = await handle.result()

    assert result.status == "CANCELLED"
    assert (await pay.payment(handle)).status == "CANCELLED"
    assert pay.received(pay.partner_a, "SUCCEEDED") == []


async def test_late_callbacks_for_a_failed_attempt_change_nothing_unless_the_partner_confirms(pay):
    handle = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"))
    await wait_state(handle, "ON_HOLD")
    attempt_id = handle.id.removeprefix("payment-") + "-A1"

    def callback(status: str) -> AttemptStatusSignal:
        return AttemptStatusSignal(attempt_id=attempt_id, partner_client_code=pay.partner_a, status=status)

    await handle.signal(Disbursement.attempt_status, callback("FAILED"))
    await handle.signal(Disbursement.attempt_status, callback("SUCCEEDED"))  # the partner's record still says FAILED
    await until(lambda: pay.gateway.count("status") >= 1)
    state = await wait_state(handle, "ON_HOLD")
    assert (state.attempts, pay.gateway.count("disburse")) == (1, 1)

    # The partner reverses itself: its record now says the money went out. Paid, and never sent again.
    pay.world.payments.ledgers[pay.partner_a][attempt_id].status = "SUCCEEDED"
    await handle.signal(Disbursement.attempt_status, callback("SUCCEEDED"))
    result = await handle.result()

    assert (result.status, result.attempts) == ("PAID", 1)
    assert pay.gateway.count("disburse") == 1
    [attempt] = await pay.attempts(handle)
    assert (attempt.status, attempt.reason) == ("SUCCEEDED", "LATE_SUCCESS_AFTER_FAILURE")


async def test_a_rerun_resolves_the_previous_runs_attempt_before_paying(pay):
    pay.world.configure_payment_partner(pay.partner_a, mode="async")
    pay.world.add_fault(f"payment:{pay.partner_a}", "drop_callback")
    registration_id = await pay.beneficiary()
    account = pay.account(pay.partner_a)
    first = await pay.start(account=account, registration_id=registration_id)
    await until(lambda: pay.received(pay.partner_a, "SUCCEEDED"))
    # Terminate it once it waits for the callback: the time-skipping server never releases the clock lock of an
    # activity that was running when its workflow was terminated, which would stall every later timer.
    await waiting_on_timer(first)
    await first.terminate("operator restarts it")

    again = await pay.start(account=account, registration_id=registration_id)
    result = await again.result()

    assert (result.status, result.attempts) == ("PAID", 1)
    assert pay.gateway.count("disburse") == 1 and pay.gateway.count("status") == 1
    assert len(pay.received(pay.partner_a)) == 1


async def test_late_success_while_a_retry_pays_is_recorded_as_an_anomaly_not_paid_again(pay):
    handle = await pay.start(account=pay.account(pay.partner_a, status="CLOSED"))
    await wait_state(handle, "ON_HOLD")
    pay.world.configure_payment_partner(pay.partner_b, mode="async")
    pay.world.add_fault(f"payment:{pay.partner_b}", "drop_callback")
    await retry(handle, partner_client_code=pay.partner_b, account_number=pay.account(pay.partner_b))
    await until(lambda: pay.received(pay.partner_b, "SUCCEEDED"))
    first = handle.id.removeprefix("payment-") + "-A1"
    pay.world.payments.ledgers[pay.partner_a][first].status = "SUCCEEDED"  # the first partner paid after all

    await handle.signal(
        Disbursement.attempt_status,
        AttemptStatusSignal(attempt_id=first, partner_client_code=pay.partner_a, status="SUCCEEDED"),
    )
    result = await handle.result()

    assert (result.status, result.attempts, result.partner_client_code) == ("PAID", 2, pay.partner_b)
    assert [a.status for a in await pay.attempts(handle)] == ["LATE_SUCCEEDED", "SUCCEEDED"]
    assert pay.gateway.count("disburse") == 2  # nothing sent again: the double payment is for reconciliation
