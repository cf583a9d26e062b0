"""The journey's side of the redesigned payments (issue 11): a payment workflow that fails or is terminated never
fails the journey, closing a journey never cancels money, and e-KYC runs on the partner's interactive queue."""

import asyncio
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType, ParentClosePolicy
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.payments import interactive_task_queue
from core.problems import ProblemCode
from db.session import make_sessionmaker
from simulators.world import SimWorld
from tests.conftest import test_settings as settings_for
from tests.workflows.conftest import FAST, wait_status
from tests.workflows.harness import Harness, awarded, order
from tests.workflows.test_journey_money import ACCOUNT, _now, link_account, trained
from tests.workflows.test_journey_money import harness as harness  # noqa: F401 (the fixture)
from tests.workflows.test_journey_training import buy
from tests.workflows.test_replay_full import until_paid
from workers.composition import build_adapters
from workers.main import build_workers
from workflows.journey import BeneficiaryJourney


async def held(harness):  # type: ignore[no-untyped-def]
    """A journey whose incentive 1 is ON_HOLD (the linked e-wallet closed before it was paid)."""
    handle = await awarded(harness, "prakerja-2020")
    nik = harness.persons[-1].nik
    harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    await handle.signal(
        BeneficiaryJourney.completion, {"purchase_ref": "P-1", "certificate_number": "C", "completed_at": _now()}
    )
    assert (await link_account(handle, "EWALLET", ACCOUNT)).verified
    harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True, status="CLOSED")
    await handle.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 5})
    await wait_status(handle, "PAYMENT_ON_HOLD", timeout=30)
    payment = harness.client.get_workflow_handle(f"payment-PAY-{handle.id.removeprefix('journey-')}-I1")
    return handle, payment


async def test_a_payment_workflow_terminated_by_an_operator_does_not_fail_the_journey(harness):
    handle, payment = await held(harness)
    nik = harness.persons[-1].nik
    harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True)  # reopened: later instalments can go

    await payment.terminate("operator: stuck payment, settled by hand")

    # Before, the failed child failed the journey (and the journey's close cancelled its other payments).
    await until_paid(harness, handle, "I2")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    view = await handle.query(BeneficiaryJourney.view)
    assert view.payments[f"PAY-{handle.id.removeprefix('journey-')}-I1"] == "WORKFLOW_FAILED"


async def test_closing_the_journey_never_cancels_a_payment_on_hold(harness):
    handle, payment = await held(harness)

    history = await handle.fetch_history()
    [started] = [
        e.start_child_workflow_execution_initiated_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
    # The server applies this when the journey closes: ABANDON, where REQUEST_CANCEL cancelled held money.
    assert started.parent_close_policy == ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON
    await handle.terminate("operator: journey closed")
    assert (await payment.describe()).status == WorkflowExecutionStatus.RUNNING
    await payment.terminate("test finished")


async def test_account_linking_is_checked_on_the_partners_interactive_queue(harness):
    handle = await trained(harness)

    history = await handle.fetch_history()

    queues = [
        e.activity_task_scheduled_event_attributes.task_queue.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "verify_account"
    ]
    assert queues == [interactive_task_queue("EWALLET")]  # never behind a backlog of disbursements


async def test_a_purchase_at_the_deadline_is_refused_though_the_timer_has_not_been_seen_yet(dev_env, engine):
    # The deadline's timer fires while no worker runs; the purchase arrives with it, in the same workflow task,
    # and its validator runs before the timer's callback. Judged by the workflow's clock it is refused 409
    # PURCHASE_DEADLINE_PASSED (before: accepted 201, then voided by the deadline's revocation).
    settings = settings_for(database_url=engine.url.render_as_string(hide_password=False), time_scale=FAST)
    world, sessions = SimWorld(), make_sessionmaker(engine)
    adapters = build_adapters(settings, world=world)
    harness = Harness(dev_env.client, settings, world, sessions)

    def worker():  # type: ignore[no-untyped-def]
        return build_workers(dev_env.client, settings, adapters, sessions)[0]

    async with worker():
        handle = await awarded(harness)
    deadline = timedelta(days=30) / FAST
    await asyncio.sleep(deadline.total_seconds() + 1)  # the deadline passes (its timer fires) with no worker
    late = asyncio.ensure_future(buy(handle, "P-late"))
    await asyncio.sleep(1)  # the update waits at the server for the next workflow task, with the fired timer

    async with worker():
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await asyncio.wait_for(late, timeout=30)
        result = await asyncio.wait_for(handle.result(), timeout=30)

    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == ProblemCode.PURCHASE_DEADLINE_PASSED
    assert (result.status, result.reasons) == ("REVOKED", ["PURCHASE_DEADLINE_MISSED"])
    assert not any(n.kind == "PURCHASE_VOIDED" for n in world.notifications)  # nothing was sold to void


async def test_an_account_linked_in_training_is_published_with_the_incentive_phase_not_by_an_upsert_of_its_own(
    harness,
):
    handle = await awarded(harness, "prakerja-2020")
    harness.world.add_payment_account("EWALLET", ACCOUNT, harness.persons[-1].nik, kyc=True)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    await wait_status(handle, "TRAINING")
    assert (await link_account(handle, "EWALLET", ACCOUNT)).verified  # linked while training
    await handle.signal(
        BeneficiaryJourney.completion, {"purchase_ref": "P-1", "certificate_number": "C", "completed_at": _now()}
    )
    await wait_status(handle, "INCENTIVES")

    events = (await handle.fetch_history()).events
    upserts = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        for e in events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]
    with_partner = [u for u in upserts if "PrakerjaPaymentPartner" in u]
    assert len(with_partner) == 1  # one upsert carries it: the status change to INCENTIVES
    assert with_partner[0]["PrakerjaStatus"].data == b'"INCENTIVES"'
    assert with_partner[0]["PrakerjaPaymentPartner"].data == b'"EWALLET"'
