"""Edge cases of the money path found by reading it (issue 11), each failing on the code before the fix: a partner's
4xx, a 409 for a repeated key, an attempt PENDING for ever, and an attempt id resent to another destination."""

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.payments import PaymentActivities
from adapters.errors import PartnerRejected
from core.domain import PaymentKind
from core.payments import (
    AttemptInput,
    OpenPaymentInput,
    PaymentReason,
    RetryPaymentInput,
    attempt_id_for,
    payment_id_for,
)
from core.problems import ProblemCode
from tests.payments.harness import NIK, until, wait_state
from workflows.disbursement import Disbursement


async def test_a_partner_refusing_the_request_puts_the_payment_on_hold_instead_of_resending_for_ever(pay):
    async def refuse(partner, request):  # type: ignore[no-untyped-def]
        pay.gateway.calls.append(("disburse", partner, request.idempotency_key))
        raise PartnerRejected("POST /payments/x/disbursements: partner answered 422", 422)

    pay.gateway.disburse = refuse  # type: ignore[method-assign]
    handle = await pay.start()

    state = await wait_state(handle, "ON_HOLD")

    assert state.reason == PaymentReason.PARTNER_REJECTED
    assert pay.gateway.count("disburse") == 1  # definitive: never resent
    [attempt] = await pay.attempts(handle)
    assert (attempt.status, attempt.reason) == ("FAILED", PaymentReason.PARTNER_REJECTED)


async def test_a_409_for_a_key_the_partner_already_has_is_resolved_by_asking_its_status(pay):
    # The partner pays, the answer is lost (a 500 after its commit), and the resend of the same key gets a 409.
    pay.world.add_fault(f"payment:{pay.partner_a}", "error_5xx_after_commit", times=1)
    pay.world.add_fault(f"payment:{pay.partner_a}", "conflict_on_repeat")
    handle = await pay.start()

    result = await asyncio.wait_for(handle.result(), timeout=30)

    assert (result.status, result.attempts) == ("PAID", 1)
    payment_id = handle.id.removeprefix("payment-")
    assert pay.received(pay.partner_a, "SUCCEEDED") == [f"{payment_id}-A1"]
    assert pay.gateway.count("status") >= 1
    pay.assert_paid_at_most_once()


async def test_an_attempt_kept_pending_goes_on_hold_after_the_limit_and_is_not_retried_while_still_pending(pay, ts_env):
    pay.world.configure_payment_partner(pay.partner_a, mode="async", callback_delay_ms=3_600_000)
    handle = await pay.start()
    await until(lambda: pay.received(pay.partner_a) != [])

    for _ in range(8):  # past the limit (3 programme days), window by window
        await ts_env.sleep(timedelta(hours=12))
    state = await wait_state(handle, "ON_HOLD", timeout=30)
    assert state.reason == PaymentReason.PARTNER_PENDING_TOO_LONG
    retry = RetryPaymentInput(
        partner_client_code=pay.partner_b, account_number=pay.account(pay.partner_b), requested_by="s"
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(Disbursement.retry, retry)
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == ProblemCode.PARTNER_STILL_PENDING
    assert pay.received(pay.partner_b) == []  # no second attempt while the first may still be paid

    # The partner settles it at last: its callback (a success for the attempt held as failed) pays it, once.
    attempt_id = handle.id.removeprefix("payment-") + "-A1"
    pay.world.payments.ledgers[pay.partner_a][attempt_id].status = "SUCCEEDED"
    await handle.signal(
        Disbursement.attempt_status,
        {"attempt_id": attempt_id, "partner_client_code": pay.partner_a, "status": "SUCCEEDED"},
    )
    paid = await asyncio.wait_for(handle.result(), timeout=30)
    assert (paid.status, paid.attempts) == ("PAID", 1)
    pay.assert_paid_at_most_once()


async def test_an_attempt_id_is_never_sent_to_another_partner_account_or_amount(pay):
    registration_id = await pay.beneficiary()
    payment_id = payment_id_for(registration_id, PaymentKind.INCENTIVE, 1)
    payments = PaymentActivities(pay.gateway, pay.sessions, pay.settings.api_public_url)
    account = pay.account(pay.partner_a)
    await payments.open_payment(
        OpenPaymentInput(
            payment_id=payment_id,
            registration_id=registration_id,
            kind=PaymentKind.INCENTIVE,
            number=1,
            amount=600_000,
            partner_client_code=pay.partner_a,
            account_number=account,
        )
    )
    first = AttemptInput(
        payment_id=payment_id,
        attempt_id=attempt_id_for(payment_id, 1),
        attempt_no=1,
        partner_client_code=pay.partner_a,
        account_number=account,
        nik=NIK,
        amount=600_000,
    )
    assert (await payments.disburse(first)).answer == "SUCCEEDED"
    elsewhere = first.model_copy(
        update={"partner_client_code": pay.partner_b, "account_number": pay.account(pay.partner_b)}
    )

    with pytest.raises(ApplicationError) as refused:
        await payments.disburse(elsewhere)

    assert refused.value.non_retryable and refused.value.type == "InvalidInput"
    assert pay.received(pay.partner_b) == []
    assert await payments.disburse(first) == await payments.disburse(first)  # the same destination: the same answer
    await until(lambda: pay.gateway.count("disburse") == 3)
