"""The journey view is one consistent picture, whatever commits while it is being read."""

from datetime import UTC, datetime, timedelta

from activities.payments import PaymentActivities
from api.views import journey_view, survey_views
from core.payments import AttemptInput, SettleAttemptInput, attempt_id_for
from db.models import Beneficiary
from db.session import read_snapshot
from simulators.inprocess import SimulatedPaymentGateway
from simulators.world import SimWorld
from tests.api.seeds import held_incentive

PARTNER = "PAY-EWALLET"


async def _held_payment(sessions) -> tuple[str, str]:
    return await held_incentive(sessions, partner=PARTNER, account="0811000001")


def _picture(view) -> tuple[str, list[str]]:
    return view.status, [p.status for p in view.payments if p.number == 1 and p.kind == "INCENTIVE"]


async def test_a_settlement_committed_between_the_views_reads_is_not_half_seen(sessions):
    registration_id, payment_id = await _held_payment(sessions)
    payments = PaymentActivities(SimulatedPaymentGateway(SimWorld()), sessions, "http://api")
    retry = AttemptInput(
        payment_id=payment_id,
        attempt_id=attempt_id_for(payment_id, 2),
        attempt_no=2,
        partner_client_code="PAY-BANK",
        account_number="5550002222",
        nik="3201010101900001",
        amount=600_000,
    )

    async with read_snapshot(sessions) as snapshot:
        await snapshot.get(Beneficiary, registration_id)  # the view's first read: still on hold ...
        await payments._record_attempt(retry)  # ... then support's retry is sent and paid meanwhile
        await payments.mark_paid(SettleAttemptInput(payment_id=payment_id, attempt_id=retry.attempt_id))
        during = await journey_view(snapshot, registration_id)
    async with read_snapshot(sessions) as snapshot:
        after = await journey_view(snapshot, registration_id)

    assert _picture(during) == ("PAYMENT_ON_HOLD", ["ON_HOLD"])  # the state before, whole
    assert _picture(after) == ("INCENTIVES", ["PAID"])  # the state after, whole


async def test_a_retried_payment_leaves_the_hold_in_the_same_write(sessions):
    registration_id, payment_id = await _held_payment(sessions)
    payments = PaymentActivities(SimulatedPaymentGateway(SimWorld()), sessions, "http://api")
    retry = AttemptInput(
        payment_id=payment_id,
        attempt_id=attempt_id_for(payment_id, 2),
        attempt_no=2,
        partner_client_code=PARTNER,
        account_number="0811000001",
        nik="3201010101900001",
        amount=600_000,
    )

    await payments._record_attempt(retry)

    async with read_snapshot(sessions) as snapshot:
        view = await journey_view(snapshot, registration_id)
    assert _picture(view) == ("INCENTIVES", ["PENDING"])  # never PAYMENT_ON_HOLD with nothing held


def test_no_survey_is_open_once_the_journey_has_ended():
    now = datetime.now(UTC)
    window = {"survey_no": 1, "opens_at": (now - timedelta(days=1)).isoformat()}
    window["closes_at"] = (now + timedelta(days=29)).isoformat()

    running = survey_views([window], set(), now)
    revoked = survey_views([window], set(), now, ended=True)
    answered = survey_views([window], {1}, now, ended=True)

    assert [v.status for v in (*running, *revoked, *answered)] == ["OPEN", "EXPIRED", "SUBMITTED"]
