"""Edge cases of the money path found by reading it (issue 11), each failing on the code before the fix: a partner's
4xx, a 409 for a repeated key, an attempt PENDING for ever, an attempt id resent to another destination, and a
callback that arrives while the journey is handing its payment to a `Disbursement` workflow."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.payments import PartnerBudget, PaymentActivities
from adapters.errors import PartnerRejected
from core.domain import JourneyStatus, PaymentKind
from core.payments import (
    AttemptInput,
    CallbackStatus,
    DisburseInput,
    DisburseResult,
    OpenPaymentInput,
    PaymentReason,
    RetryPaymentInput,
    attempt_id_for,
    payment_id_for,
    payment_workflow_id,
)
from core.problems import ProblemCode
from core.ratestore import MemoryRateStore
from db.models import Beneficiary, Payment
from services.callbacks import AttemptOutcome, attempt_for, report_outcome
from tests.payments.harness import NIK, until, wait_state, waiting_on_timer
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


async def incentive_1(pay) -> DisburseInput:  # type: ignore[no-untyped-def]
    """Incentive 1 of a new beneficiary, to an account at partner A, as the journey asks for it."""
    registration_id = await pay.beneficiary()
    return DisburseInput(
        payment_id=payment_id_for(registration_id, PaymentKind.INCENTIVE, 1),
        registration_id=registration_id,
        kind=PaymentKind.INCENTIVE,
        number=1,
        amount=600_000,
        partner_client_code=pay.partner_a,
        account_number=pay.account(pay.partner_a),
        nik=NIK,
    )


class StartedMidCallback:
    """A Temporal client whose first signal to a payment workflow finds none, as the API's callback service meets
    it when the partner calls back during the journey's hand-over: the journey's one-activity payment got PENDING
    and is starting the `Disbursement` workflow. That workflow starts, and reads the attempt (still PENDING), in the
    moment between the signal and the service's next step."""

    def __init__(self, client: Client, start: Callable[[], Awaitable[WorkflowHandle]]) -> None:
        self.client, self.start = client, start
        self.started: WorkflowHandle | None = None

    def get_workflow_handle(self, workflow_id: str) -> "StartedMidCallback":
        self.workflow_id = workflow_id
        return self

    async def signal(self, handler: Any, arg: Any) -> None:
        handle = self.client.get_workflow_handle(self.workflow_id)
        if self.started is None:
            try:
                await handle.signal(handler, arg)
            except RPCError:
                self.started = await self.start()
                await waiting_on_timer(self.started)  # opened, read the attempt, waits for the callback
                raise
        await handle.signal(handler, arg)


async def test_a_callback_racing_the_hand_over_to_the_payment_workflow_still_settles_it(pay):
    pay.world.configure_payment_partner(pay.partner_a, mode="async")
    callbacks: list[tuple[str, dict[str, str], bytes]] = []

    async def keep(url: str, headers: dict[str, str], body: bytes) -> None:
        callbacks.append((url, headers, body))

    pay.world.callback_sender = keep
    disburse = await incentive_1(pay)
    payment_id = disburse.payment_id
    first = await PaymentActivities(pay.gateway, pay.sessions, pay.settings.api_public_url).pay(disburse)
    assert (first.status, first.answer and first.answer.answer) == ("PENDING", "PENDING")
    await until(lambda: callbacks != [])
    outcome = AttemptOutcome(
        attempt_id=attempt_id_for(payment_id, 1),
        partner_client_code=pay.partner_a,
        status=CallbackStatus(json.loads(callbacks[0][2])["status"]),
    )

    async def start() -> WorkflowHandle:
        handle = await pay.client.start_workflow(
            Disbursement.run,
            disburse.model_copy(update={"first_answer": first.answer}),
            id=payment_workflow_id(payment_id),
            task_queue=pay.settings.task_queue,
            result_type=DisburseResult,
        )
        pay.started.append(handle)
        return handle

    racing = StartedMidCallback(pay.client, start)
    async with pay.sessions() as session:
        attempt = await attempt_for(session, outcome)
        await report_outcome(session, racing, attempt, outcome)  # type: ignore[arg-type]

    assert racing.started is not None
    state = await wait_state(racing.started, "PAID")  # real time: well inside the callback window
    assert state.status == "PAID" and pay.gateway.count("status") == 0  # settled by the callback, not by asking
    pay.assert_paid_at_most_once()


async def test_a_direct_payment_past_the_partners_budget_writes_and_sends_nothing(pay):
    # One budget for every worker of the partner (one store; Redis in production): a burst of 1 per second here,
    # the store's clock stopped so the second payment of that second meets it spent.
    budget = PartnerBudget(1.0, MemoryRateStore(clock=lambda: 0.0))
    workers = [PaymentActivities(pay.gateway, pay.sessions, pay.settings.api_public_url, budget) for _ in range(2)]
    first, second = await incentive_1(pay), await incentive_1(pay)

    paid = await workers[0].pay_in_worker(first)
    queued = await workers[1].pay_in_worker(second)

    assert (paid.status, paid.queued) == ("PAID", False)
    assert (queued.status, queued.queued, queued.answer) == ("PENDING", True, None)
    assert pay.gateway.count("disburse") == 1 and pay.received(pay.partner_a) == [f"{first.payment_id}-A1"]
    async with pay.sessions() as session:
        assert await session.get(Payment, second.payment_id) is None  # nothing written: the queue's `pay` opens it


async def test_a_payment_call_that_outlived_its_task_opens_nothing_for_a_beneficiary_revoked_meanwhile(pay):
    # A direct payment whose workflow task was lost may still run in its worker after the revocation: it holds the
    # beneficiary's row first, as the revocation does, and finds it REVOKED.
    disburse = await incentive_1(pay)
    async with pay.sessions.begin() as session:
        beneficiary = await session.get(Beneficiary, disburse.registration_id)
        assert beneficiary is not None
        beneficiary.status = JourneyStatus.REVOKED

    result = await PaymentActivities(pay.gateway, pay.sessions, pay.settings.api_public_url).pay(disburse)

    assert result.status == "CANCELLED" and pay.gateway.count("disburse") == 0
    async with pay.sessions() as session:
        assert await session.get(Payment, disburse.payment_id) is None
