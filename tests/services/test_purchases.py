"""The purchase and completion rules that the API tests cannot reach on a live journey: the award gap's retry, a
repeated completion after the journey ended, a completion racing a revocation, and survey windows recorded only for a
journey in training."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.programme import ProgrammeActivities
from core.contracts import PurchaseResult, PurchaseUpdate, RevokeInput
from core.domain import JourneyStatus, PartnerKind, PurchaseStatus
from core.problems import ProblemCode
from core.terms import PROFILES
from db import projection
from db.models import BalanceEntry, Beneficiary, Purchase
from services import purchases
from services.errors import Refused
from simulators.inprocess import SimulatedMarketplace
from simulators.world import SimWorld
from tests.api.ledger import beneficiary
from tests.services.fakes import FakeJourneys
from workflows.journey import BeneficiaryJourney

ORDER = PurchaseUpdate(
    purchase_ref="P-1", course_id="C-1", price=100, marketplace_client_code="MKT-A", provider_client_code="PRV-A"
)
BOUGHT = PurchaseResult(purchase_ref="P-1", price=100, balance_remaining=900)
FINISHED = RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")


def refusal(code: ProblemCode) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError("refused", type=code, non_retryable=True))


@pytest.fixture(autouse=True)
def no_pause(monkeypatch) -> None:
    monkeypatch.setattr(purchases, "AWARD_GAP_PAUSE_S", 0)


async def test_a_purchase_in_the_award_gap_is_retried_until_the_journey_has_the_award() -> None:
    journey = FakeJourneys(refusal(ProblemCode.NOT_AWARDED), refusal(ProblemCode.NOT_AWARDED), BOUGHT)

    result = await purchases.purchase_once_awarded(journey, "REG-1", ORDER)

    assert result == BOUGHT
    assert journey.sent == [(BeneficiaryJourney.purchase, ORDER)] * 3


async def test_not_awarded_for_good_and_other_refusals_are_not_retried_past_their_limit() -> None:
    never = FakeJourneys(*[refusal(ProblemCode.NOT_AWARDED)] * purchases.AWARD_GAP_RETRIES)
    poor = FakeJourneys(refusal(ProblemCode.INSUFFICIENT_BALANCE), BOUGHT)

    with pytest.raises(Refused) as not_awarded:
        await purchases.purchase_once_awarded(never, "REG-1", ORDER)
    with pytest.raises(Refused) as insufficient:
        await purchases.purchase_once_awarded(poor, "REG-1", ORDER)

    assert (not_awarded.value.status, not_awarded.value.code) == (409, ProblemCode.NOT_AWARDED)
    assert len(never.sent) == purchases.AWARD_GAP_RETRIES
    assert (insufficient.value.status, insufficient.value.code) == (409, ProblemCode.INSUFFICIENT_BALANCE)
    assert len(poor.sent) == 1


async def seed(sessions, purchase_status: PurchaseStatus, journey_status: JourneyStatus) -> Purchase:
    row = beneficiary(status=journey_status)
    registration_id = row.registration_id
    purchase = Purchase(
        purchase_ref="P-" + uuid.uuid4().hex[:8],
        registration_id=registration_id,
        marketplace_client_code="MKT-A",
        provider_client_code="PRV-A",
        course_id="C-1",
        price=100,
        status=purchase_status,
    )
    async with sessions.begin() as session:
        session.add_all([row, purchase])
    return purchase


def completion(purchase: Purchase, by: str = "PRV-A", kind: PartnerKind = PartnerKind.TRAINING_PROVIDER):
    return purchases.Complete(purchase.purchase_ref, "CERT-1", datetime(2025, 3, 1, tzinfo=UTC), by, kind)


async def test_a_repeated_completion_after_the_journey_ended_is_still_accepted(sessions) -> None:
    done = await seed(sessions, PurchaseStatus.COMPLETED, JourneyStatus.COMPLETED)
    fresh = await seed(sessions, PurchaseStatus.PURCHASED, JourneyStatus.TRAINING)

    async with sessions() as session:
        cmd = completion(done)
        await purchases.execute_completion(
            session, FakeJourneys(FINISHED), await purchases.plan_completion(session, cmd), cmd
        )
        cmd = completion(fresh)
        with pytest.raises(Refused) as first:
            await purchases.execute_completion(
                session, FakeJourneys(FINISHED), await purchases.plan_completion(session, cmd), cmd
            )

    assert (first.value.status, first.value.code) == (409, ProblemCode.JOURNEY_FINISHED)


async def test_completion_is_for_the_seller_or_the_provider_of_the_course_and_not_on_a_revoked_card(sessions) -> None:
    bought = await seed(sessions, PurchaseStatus.PURCHASED, JourneyStatus.REVOKED)

    async with sessions() as session:
        refused = []
        for by, kind in (
            ("PRV-A", PartnerKind.MARKETPLACE),
            ("MKT-A", PartnerKind.TRAINING_PROVIDER),
            ("PRV-B", PartnerKind.TRAINING_PROVIDER),
        ):
            with pytest.raises(Refused) as err:
                await purchases.plan_completion(session, completion(bought, by, kind))
            refused.append((err.value.status, err.value.code))
        cmd = completion(bought, "MKT-A", PartnerKind.MARKETPLACE)
        journey = FakeJourneys()
        with pytest.raises(Refused) as revoked:
            await purchases.execute_completion(session, journey, await purchases.plan_completion(session, cmd), cmd)

    assert refused == [(403, ProblemCode.FORBIDDEN_PARTNER)] * 3
    assert (revoked.value.status, revoked.value.code) == (409, ProblemCode.REVOKED)
    assert journey.sent == []
    async with sessions() as session:
        assert (await session.get(Purchase, bought.purchase_ref)).status == PurchaseStatus.PURCHASED


async def seed_in_training(sessions, journey_status: JourneyStatus = JourneyStatus.TRAINING) -> Purchase:
    """A purchase of a journey that takes its survey windows from the API (its purchase marked the row so)."""
    purchase = await seed(sessions, PurchaseStatus.PURCHASED, journey_status)
    async with sessions.begin() as session:
        row = await session.get(Beneficiary, purchase.registration_id)
        terms = PROFILES["prakerja-2020"].model_dump(mode="json")
        row.detail = {"terms": terms, projection.SURVEYS_AT_COMPLETION: True}
    return purchase


async def test_a_completion_racing_a_revocation_ends_in_one_outcome_never_a_deadlock(sessions) -> None:
    """The two lock the beneficiary's row, then the purchase's, in the same order (PostgreSQL: the other order
    deadlocked, and the partner's completion was answered 500)."""
    bought = [await seed_in_training(sessions) for _ in range(10)]
    programme = ProgrammeActivities(SimulatedMarketplace(SimWorld()), sessions)

    async def complete(purchase: Purchase) -> None:
        async with sessions() as session:
            cmd = completion(purchase)
            await purchases.execute_completion(session, FakeJourneys(), purchase, cmd)

    async def revoke(purchase: Purchase) -> None:
        revocation = RevokeInput(
            registration_id=purchase.registration_id,
            nik_hash=f"nik-{purchase.purchase_ref}",
            reasons=["REVOKED_BY_OPERATOR"],
            open_purchases=[purchase.purchase_ref],
        )
        await programme.revoke(revocation)

    outcomes = await asyncio.gather(*(f(p) for p in bought for f in (complete, revoke)), return_exceptions=True)

    unexpected = [o for o in outcomes if o is not None and not isinstance(o, Refused)]
    assert unexpected == []
    # A completion refused: the revocation came first (REVOKED, seen before the locks) or voided it (CANCELLED).
    assert {o.code for o in outcomes if isinstance(o, Refused)} <= {ProblemCode.PURCHASE_CANCELLED, ProblemCode.REVOKED}
    async with sessions() as session:
        for p in bought:
            status = (await session.get(Purchase, p.purchase_ref)).status
            refunds = await session.scalars(
                select(BalanceEntry).where(BalanceEntry.reference == p.purchase_ref, BalanceEntry.kind == "REFUND")
            )
            assert (status, len(refunds.all())) in ((PurchaseStatus.COMPLETED, 0), (PurchaseStatus.CANCELLED, 1))


async def test_a_completion_after_the_journey_ended_records_no_survey_windows(sessions) -> None:
    ended = await seed_in_training(sessions, JourneyStatus.COMPLETED)  # closed with no training completed
    training = await seed_in_training(sessions)

    async with sessions() as session:
        cmd = completion(ended)
        with pytest.raises(Refused) as finished:
            await purchases.execute_completion(session, FakeJourneys(FINISHED), ended, cmd)
        cmd = completion(training)
        journey = FakeJourneys()
        await purchases.execute_completion(session, journey, training, cmd)

    assert finished.value.code == ProblemCode.JOURNEY_FINISHED
    async with sessions() as session:
        after_the_end = await session.get(Beneficiary, ended.registration_id)
        opened = await session.get(Beneficiary, training.registration_id)
    assert (after_the_end.status, "surveys" in after_the_end.detail) == (JourneyStatus.COMPLETED, False)
    assert (opened.status, len(opened.detail["surveys"])) == (JourneyStatus.INCENTIVES, 3)
    [(_, signal)] = journey.sent
    assert signal.surveys_from == datetime.fromisoformat(opened.detail["surveys_from"])
