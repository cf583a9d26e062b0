"""Journey part 3 on the real dev server with compressed time: account linking, monthly incentives,
surveys, holds and revocation — money checked against the payment partner's own records."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from core.contracts import LinkAccountResult
from core.domain import PartnerKind
from core.payments import RetryPaymentInput
from core.problems import ProblemCode
from core.ratestore import RateStore
from core.settings import Settings
from core.temporal import data_converter
from db.models import Beneficiary, Partner, Payment
from db.session import make_sessionmaker
from services.errors import Refused
from services.purchases import Complete, execute_completion, plan_completion
from services.surveys import SubmitSurvey, submit_survey
from simulators.world import SimWorld
from tests.conftest import test_settings as settings_for
from tests.workflows.conftest import FAST, PAYMENT_PARTNERS, wait_status
from tests.workflows.harness import NO_PURCHASE_RACE, Harness, awarded, journey_activities_pinning, order
from tests.workflows.test_journey_checks import activity_types
from workers.composition import build_adapters
from workers.main import build_workers
from workers.payments import build_payment_workers
from workflows.disbursement import Disbursement
from workflows.journey import BeneficiaryJourney

ACCOUNT = "081234567890"


@pytest_asyncio.fixture
async def harness(dev_env, engine) -> AsyncIterator[Harness]:
    """As `fast_harness` (a programme month is 3 s on the dev server), but awards pin a first-purchase deadline
    these tests cannot miss on a slow machine: none of them is about the deadline."""
    async for harness, _ in _pinned(dev_env, engine):
        yield harness


@pytest_asyncio.fixture
async def production_worker(dev_env, engine) -> AsyncIterator[tuple[Harness, Worker]]:
    """`harness`, with the journey worker configured as production runs it: workflows outside the sandbox."""
    async for pair in _pinned(dev_env, engine, workflow_sandbox=False):
        yield pair


class SpentBudget:
    """A rate store whose every budget is spent: payday's backlog, as the journeys' direct payments meet it."""

    async def hit(self, key: str, limit: float, period_s: float) -> float:
        return 1.0

    async def aclose(self) -> None:
        pass


@pytest_asyncio.fixture
async def spent_budget(dev_env, engine) -> AsyncIterator[Harness]:
    """`harness`, with every partner's budget for direct payments spent."""
    async for harness, _ in _pinned(dev_env, engine, rates=SpentBudget()):
        yield harness


async def _pinned(
    dev_env, engine, rates: RateStore | None = None, **overrides: object
) -> AsyncIterator[tuple[Harness, Worker]]:
    url = engine.url.render_as_string(hide_password=False)
    settings = settings_for(database_url=url, time_scale=FAST, **overrides)
    world, sessions = SimWorld(), make_sessionmaker(engine)
    async with sessions.begin() as session:  # payment workers find their partners' queues at start
        session.add_all(Partner(client_code=c, kind="payment", name=c, sign_key_sealed="-") for c in PAYMENT_PARTNERS)
    adapters = build_adapters(settings, world=world)
    activities = journey_activities_pinning(settings, adapters, sessions, rates=rates, **NO_PURCHASE_RACE)
    [worker] = build_workers(dev_env.client, settings, adapters, sessions, activities)
    harness = Harness(dev_env.client, settings, world, sessions)
    async with worker, build_payment_workers(dev_env.client, settings, adapters, sessions):
        yield harness, worker
        await harness.stop_all()


async def trained(harness, profile="prakerja-2020", link=True, review=True):
    """Awarded, bought a course, completed it as the API does (and reviewed it, linked an e-wallet). Returns once the
    journey is in INCENTIVES, which it enters with the survey windows recorded (see `windows`)."""
    handle = await awarded(harness, profile)
    nik = harness.persons[-1].nik
    harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    await complete_as_the_api(harness, handle)  # the ledger row, the survey windows and the journey's signal
    # Nothing can move it on from INCENTIVES yet: incentive 1 waits for the review, surveys for answers.
    await wait_status(handle, "INCENTIVES")
    if review:
        await handle.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 5})
    if link:
        assert (await link_account(handle, "EWALLET", ACCOUNT)).verified
    return handle


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def link_account(handle, partner, account) -> LinkAccountResult:
    return await handle.execute_update(
        BeneficiaryJourney.link_payment_account,
        {"partner_client_code": partner, "account_number": account},
        result_type=LinkAccountResult,
    )


async def windows(harness, handle) -> list[dict]:
    async with harness.sessions() as s:
        b = await s.get(Beneficiary, handle.id.removeprefix("journey-"))
    return b.detail["surveys"]


async def answer_surveys(harness, handle, numbers) -> None:
    for w in await windows(harness, handle):
        if w["survey_no"] not in numbers:
            continue
        wait = (datetime.fromisoformat(w["opens_at"]) - datetime.now(UTC)).total_seconds()
        await asyncio.sleep(max(wait, 0) + 0.1)
        await handle.signal(BeneficiaryJourney.survey_submitted, {"survey_no": w["survey_no"], "submitted_at": _now()})


async def ledger(harness, handle) -> dict[str, str]:
    rid = handle.id.removeprefix("journey-")
    async with harness.sessions() as s:
        rows = await s.scalars(select(Payment).where(Payment.registration_id == rid))
        return {f"{p.kind[0]}{p.number}": (p.status, p.amount) for p in rows}


@pytest.mark.parametrize(
    ("profile", "incentives", "surveys"),
    [("prakerja-2020", 4, 3), ("prakerja-2023", 1, 2)],
)
async def test_whole_schedule_is_paid_exactly_once(harness, profile, incentives, surveys):
    handle = await trained(harness, profile)
    await answer_surveys(harness, handle, range(1, surveys + 1))
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.status == "COMPLETED"
    paid = harness.world.payments.received("EWALLET")
    assert sorted(p.amount for p in paid) == sorted([600_000] * incentives + [50_000] * surveys)
    assert len({p.idempotency_key for p in paid}) == len(paid)
    assert {p.account_number for p in paid} == {ACCOUNT}
    expected = {f"I{n}": ("PAID", 600_000) for n in range(1, incentives + 1)}
    expected |= {f"S{n}": ("PAID", 50_000) for n in range(1, surveys + 1)}
    assert await ledger(harness, handle) == expected


def local_activities(events) -> int:  # type: ignore[no-untyped-def]
    return sum(
        1
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )


async def test_payments_go_from_the_journeys_worker_while_the_partners_budget_allows(harness):
    handle = await trained(harness, "prakerja-2023")
    await answer_surveys(harness, handle, [1, 2])
    assert (await asyncio.wait_for(handle.result(), timeout=60)).status == "COMPLETED"

    events = (await handle.fetch_history()).events
    # 1 incentive and 2 surveys, each one local activity (`pay_in_worker`): nothing on the partner's queue.
    assert local_activities(events) == 3 and "pay" not in activity_types(events)
    assert sorted(p.amount for p in harness.world.payments.received("EWALLET")) == [50_000, 50_000, 600_000]


async def test_with_the_budget_spent_payments_queue_on_the_partners_queue_and_are_paid_once(spent_budget):
    harness = spent_budget
    handle = await trained(harness, "prakerja-2023")
    await answer_surveys(harness, handle, [1, 2])
    assert (await asyncio.wait_for(handle.result(), timeout=60)).status == "COMPLETED"

    events = (await handle.fetch_history()).events
    assert local_activities(events) == 3  # each asked the budget, sent nothing ...
    assert activity_types(events).count("pay") == 3  # ... and went to the partner's queue
    paid = harness.world.payments.received("EWALLET")
    assert sorted(p.amount for p in paid) == [50_000, 50_000, 600_000]
    assert len({p.idempotency_key for p in paid}) == 3 and {p.idempotency_key[-3:] for p in paid} == {"-A1"}


async def test_a_worker_outside_the_sandbox_pays_the_same_and_its_history_replays_in_the_sandbox(production_worker):
    harness, worker = production_worker
    assert isinstance(worker.config()["workflow_runner"], UnsandboxedWorkflowRunner)
    handle = await trained(harness, "prakerja-2023")
    await answer_surveys(harness, handle, [1, 2])
    assert (await asyncio.wait_for(handle.result(), timeout=60)).status == "COMPLETED"
    assert sorted(p.amount for p in harness.world.payments.received("EWALLET")) == [50_000, 50_000, 600_000]
    # The sandbox would have refused nothing this run did: the same history replays inside it.
    replayer = Replayer(
        workflows=[BeneficiaryJourney, Disbursement], data_converter=data_converter(Settings().codec_keys)
    )
    assert isinstance(replayer.config()["workflow_runner"], SandboxedWorkflowRunner)
    await replayer.replay_workflow(await handle.fetch_history())


async def test_unanswered_survey_expires_unpaid(harness):
    handle = await trained(harness, "prakerja-2023")
    await answer_surveys(harness, handle, [2])
    assert (await asyncio.wait_for(handle.result(), timeout=60)).status == "COMPLETED"
    assert sorted(p.amount for p in harness.world.payments.received("EWALLET")) == [50_000, 600_000]


async def test_answers_accepted_just_before_the_close_are_paid_though_they_arrive_after_it(harness):
    handle = await trained(harness, "prakerja-2023")
    first = (await windows(harness, handle))[0]
    closes = datetime.fromisoformat(first["closes_at"])
    await asyncio.sleep(max((closes - datetime.now(UTC)).total_seconds(), 0) + 0.5)  # the window's timer fired

    late = {"survey_no": 1, "submitted_at": (closes - timedelta(milliseconds=1)).isoformat()}
    await handle.signal(BeneficiaryJourney.survey_submitted, late)

    assert (await asyncio.wait_for(handle.result(), timeout=60)).status == "COMPLETED"
    assert sorted(p.amount for p in harness.world.payments.received("EWALLET")) == [50_000, 600_000]
    assert (await ledger(harness, handle))["S1"] == ("PAID", 50_000)


async def test_first_incentive_waits_for_review_and_account(harness):
    handle = await trained(harness, "prakerja-2023", link=False, review=False)
    await asyncio.sleep(1.5)
    assert harness.world.payments.received("EWALLET") == []
    await handle.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 4})
    await asyncio.sleep(1.0)
    assert harness.world.payments.received("EWALLET") == []  # still no account: waits, never skipped
    refused = await link_account(handle, "EWALLET", "000000")
    assert (refused.verified, refused.reason) == (False, "ACCOUNT_NOT_FOUND")
    assert (await link_account(handle, "EWALLET", ACCOUNT)).verified
    async with asyncio.timeout(20):
        while not harness.world.payments.received("EWALLET"):
            await asyncio.sleep(0.1)
    assert [p.amount for p in harness.world.payments.received("EWALLET")] == [600_000]


async def test_closed_account_holds_the_payment_until_support_retries_elsewhere(harness):
    # 2020: incentives 2-4 fall due a programme month after the one before is paid, so they come after the retry
    # however long the hold takes. No survey is answered: one answered while the e-wallet is linked would be paid
    # (and held) there too, and one answered after the retry races its window (3 s from the completion).
    handle = await awarded(harness, "prakerja-2020")
    nik = harness.persons[-1].nik
    harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True, status="CLOSED")
    harness.world.add_payment_account("BANK", "1234567890", nik, kyc=True)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    await handle.signal(
        BeneficiaryJourney.completion, {"purchase_ref": "P-1", "certificate_number": "C", "completed_at": _now()}
    )
    assert (await link_account(handle, "EWALLET", ACCOUNT)).verified is False  # e-KYC refuses a closed account
    harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True)  # reopened ...
    assert (await link_account(handle, "EWALLET", ACCOUNT)).verified
    harness.world.add_payment_account("EWALLET", ACCOUNT, nik, kyc=True, status="CLOSED")  # ... closed again
    await handle.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 5})  # incentive 1 goes out
    await wait_status(handle, "PAYMENT_ON_HOLD", timeout=30)
    payment = harness.client.get_workflow_handle(f"payment-PAY-{handle.id.removeprefix('journey-')}-I1")
    retry = RetryPaymentInput(partner_client_code="BANK", account_number="1234567890", requested_by="support-1")
    outcome = await payment.execute_update(Disbursement.retry, retry)
    assert outcome.outcome == "ACCEPTED"
    assert (await asyncio.wait_for(handle.result(), timeout=60)).status == "COMPLETED"
    # The retried instalment and everything after it went to the account support moved it to.
    assert [p.amount for p in harness.world.payments.received("BANK")] == [600_000] * 4
    assert [p.status for p in harness.world.payments.received("EWALLET")] == ["FAILED"]
    assert (await handle.query(BeneficiaryJourney.view)).payment_partner == "BANK"


async def test_revocation_stops_future_payments_and_records_the_clawback(harness):
    handle = await trained(harness, "prakerja-2020")
    async with asyncio.timeout(20):
        while not harness.world.payments.received("EWALLET"):
            await asyncio.sleep(0.1)
    await handle.signal(BeneficiaryJourney.revoke, {"reason": "fraud", "requested_by": "op"})
    assert (await asyncio.wait_for(handle.result(), timeout=30)).status == "REVOKED"
    await asyncio.sleep(4)  # well past the next monthly timer: nothing more is paid
    paid = [p.amount for p in harness.world.payments.received("EWALLET") if p.status == "SUCCEEDED"]
    from db.models import Clawback

    async with harness.sessions() as s:
        claw = await s.get(Clawback, handle.id.removeprefix("journey-"))
    assert claw is not None and claw.amount == sum(paid) and sum(paid) >= 600_000


class _TemporalDown:
    """A client whose signals never reach the server (the API's answer is then 503, and the partner retries)."""

    def get_workflow_handle(self, workflow_id: str) -> "_TemporalDown":
        return self

    async def signal(self, *args: object, **kwargs: object) -> None:
        raise RPCError("unreachable", RPCStatusCode.UNAVAILABLE, b"")


async def complete_as_the_api(harness, handle, client=None) -> None:  # type: ignore[no-untyped-def]
    cmd = Complete("P-1", "C", datetime.now(UTC), "MKT-A", PartnerKind.MARKETPLACE)
    async with harness.sessions() as session:
        await execute_completion(session, client or harness.client, await plan_completion(session, cmd), cmd)


async def answer_as_the_api(harness, handle, survey_no: int) -> None:  # type: ignore[no-untyped-def]
    async with harness.sessions() as session:
        beneficiary = await session.get(Beneficiary, handle.id.removeprefix("journey-"))
        await submit_survey(session, harness.client, beneficiary, SubmitSurvey(survey_no, {"q1": "ya"}))


async def test_the_api_records_the_survey_windows_once_the_journey_heard_of_the_completion(harness):
    handle = await awarded(harness, "prakerja-2023")  # 1 incentive, 2 surveys
    harness.world.add_payment_account("EWALLET", ACCOUNT, harness.persons[-1].nik, kyc=True)
    await handle.execute_update(BeneficiaryJourney.purchase, order("P-1"), id="purchase-P-1")
    await wait_status(handle, "TRAINING")

    # The completion is recorded, but its signal is lost: the partner is answered 503, and no survey opens yet
    # (an answer now could never be paid if the partner never retried).
    with pytest.raises(Refused) as refused:
        await complete_as_the_api(harness, handle, _TemporalDown())
    assert refused.value.code == ProblemCode.TEMPORAL_UNAVAILABLE
    with pytest.raises(Refused) as not_open:
        await answer_as_the_api(harness, handle, 1)
    assert not_open.value.code == ProblemCode.SURVEY_NOT_OPEN

    await complete_as_the_api(harness, handle)  # the partner's retry: the signal carries the windows' anchor
    await wait_status(handle, "INCENTIVES")
    [first, second] = await windows(harness, handle)
    await answer_as_the_api(harness, handle, 1)  # survey 1 opens with the first completion
    await handle.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 5})
    assert (await link_account(handle, "EWALLET", ACCOUNT)).verified
    await answer_surveys(harness, handle, [2])

    assert (await asyncio.wait_for(handle.result(), timeout=60)).status == "COMPLETED"
    assert await windows(harness, handle) == [first, second]  # the journey published nothing of its own
    history = await handle.fetch_history()
    assert "schedule_surveys" not in activity_types(history.events)
    assert (await handle.query(BeneficiaryJourney.view)).surveys_submitted == [1, 2]
    assert sorted(p.amount for p in harness.world.payments.received("EWALLET")) == [50_000, 50_000, 600_000]
