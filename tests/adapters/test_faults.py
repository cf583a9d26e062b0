"""Injected faults look the same through both implementations of every port."""

import json
import random
import time

import pytest

from adapters.errors import PartnerError, PartnerTimeout, PartnerUnavailable
from adapters.payment import DisbursementStatus, DisburseRequest
from simulators.world import SimWorld
from tests.adapters.sim_support import BORN, KK, NIK

WALLET = "ew-ovo"
ACCOUNT = "081300000001"
CALLBACK = "http://api.test/v1/partners/disbursements/att-9/status"


def payout(key: str = "pay-9", **extra) -> DisburseRequest:
    return DisburseRequest(idempotency_key=key, account_number=ACCOUNT, nik=NIK, amount=50_000, **extra)


@pytest.fixture(autouse=True)
def wallet(world: SimWorld) -> None:
    world.add_payment_account(WALLET, ACCOUNT, NIK)


def calls(adapters):
    """One call per fault target."""
    return {
        "civil_registry": lambda: adapters.civil_registry.verify(NIK, KK, "Siti Nurhaliza", BORN),
        "biometrics": lambda: adapters.biometrics.check(NIK, "c2VsZmll"),
        "social_affairs": lambda: adapters.social_affairs.check(NIK),
        "marketplace": lambda: adapters.marketplace.card_blocked("mp-1", "5200000000000009", "FRAUD"),
        "payment": lambda: adapters.payments.verify_account(WALLET, ACCOUNT, NIK),
    }


@pytest.mark.parametrize("target", ["civil_registry", "biometrics", "social_affairs", "marketplace", "payment"])
async def test_error_5xx_is_transient(adapters, world, target):
    world.add_fault(target, "error_5xx")
    with pytest.raises(PartnerUnavailable):
        await calls(adapters)[target]()
    world.clear_faults()
    await calls(adapters)[target]()


async def test_error_5xx_does_no_work(adapters, world):
    world.add_fault("payment", "error_5xx")
    with pytest.raises(PartnerUnavailable):
        await adapters.payments.disburse(WALLET, payout())
    world.clear_faults()
    assert await adapters.payments.status(WALLET, "pay-9") is None


async def test_latency_delays_the_answer(adapters, world):
    world.add_fault("social_affairs", "latency", ms=60)
    started = time.perf_counter()
    check = await adapters.social_affairs.check(NIK)
    assert time.perf_counter() - started >= 0.06
    assert not check.receives_assistance


async def test_timeout_hides_a_payment_that_happened(adapters, world, sim):
    world.add_fault("payment", "timeout", ms=20)
    with pytest.raises(PartnerTimeout):
        await adapters.payments.disburse(WALLET, payout())
    world.clear_faults()
    # The unknown outcome is resolved by asking: the money did move, exactly once.
    settled = await adapters.payments.status(WALLET, "pay-9")
    assert settled is not None and settled.status is DisbursementStatus.SUCCEEDED
    assert await adapters.payments.disburse(WALLET, payout()) == settled
    assert len((await sim.get(f"/sim/payments/{WALLET}")).json()) == 1


@pytest.mark.parametrize("target", ["civil_registry", "biometrics", "marketplace"])
async def test_timeout_on_checks(adapters, world, target):
    world.add_fault(target, "timeout", ms=5)
    with pytest.raises(PartnerTimeout):
        await calls(adapters)[target]()


async def test_fault_on_one_payment_partner_spares_the_others(adapters, world):
    world.add_payment_account("bank-bni", ACCOUNT, NIK)
    world.add_fault(f"payment:{WALLET}", "error_5xx")
    assert (await adapters.payments.disburse("bank-bni", payout())).status is DisbursementStatus.SUCCEEDED
    with pytest.raises(PartnerUnavailable):
        await adapters.payments.disburse(WALLET, payout())


async def test_a_fault_elsewhere_changes_nothing(adapters, world):
    world.add_fault("biometrics", "error_5xx")
    assert (await adapters.social_affairs.check(NIK)).programmes == []


async def test_rate_zero_never_fires(adapters, world):
    world.add_fault("civil_registry", "error_5xx", rate=0)
    for _ in range(5):
        assert (await adapters.civil_registry.verify(NIK, KK, "Siti Nurhaliza", BORN)).found


async def test_partial_rate_is_deterministic_with_a_seeded_rng():
    def outcomes(seed: int) -> list[bool]:
        world = SimWorld(rng=random.Random(seed))
        world.add_fault("social_affairs", "error_5xx", rate=0.5)
        return [world.faults.firing(("social_affairs",), world.faults.faults[0].kind) != [] for _ in range(40)]

    assert outcomes(3) == outcomes(3)
    assert 0 < sum(outcomes(3)) < 40


@pytest.fixture
def async_wallet(world):
    world.configure_payment_partner(WALLET, sign_key="ovo-secret", mode="async", callback_delay_ms=5)


async def test_drop_callback_sends_nothing_but_settles(adapters, world, async_wallet, callbacks):
    world.add_fault("payment", "drop_callback")
    assert (await adapters.payments.disburse(WALLET, payout(callback_url=CALLBACK))).status == "PENDING"
    await world.drain()
    assert callbacks.calls == []
    settled = await adapters.payments.status(WALLET, "pay-9")
    assert settled is not None and settled.status is DisbursementStatus.SUCCEEDED


async def test_duplicate_callback_sends_the_same_outcome_twice(adapters, world, async_wallet, callbacks):
    world.add_fault(f"payment:{WALLET}", "duplicate_callback")
    await adapters.payments.disburse(WALLET, payout(callback_url=CALLBACK))
    await world.drain()
    assert len(callbacks.calls) == 2
    assert len({json.loads(body)["partner_reference"] for _, _, body in callbacks.calls}) == 1


async def test_failing_callback_transport_is_survived(world, async_wallet, adapters):
    async def unreachable(url: str, headers: dict[str, str], body: bytes) -> None:
        raise ConnectionRefusedError("platform down")

    world.callback_sender = unreachable
    await adapters.payments.disburse(WALLET, payout(callback_url=CALLBACK))
    await world.drain()
    settled = await adapters.payments.status(WALLET, "pay-9")
    assert settled is not None and settled.status is DisbursementStatus.SUCCEEDED


async def test_5xx_after_commit_pays_once_and_the_resend_gets_the_stored_answer(adapters, world, sim):
    world.add_fault(f"payment:{WALLET}", "error_5xx_after_commit", times=2)
    for _ in range(2):
        with pytest.raises(PartnerUnavailable):
            await adapters.payments.disburse(WALLET, payout())
    # The answers were lost, the payment was not: the resend of the same key is answered, nothing paid twice.
    paid = await adapters.payments.disburse(WALLET, payout())
    assert paid.status is DisbursementStatus.SUCCEEDED
    assert await adapters.payments.status(WALLET, "pay-9") == paid
    received = (await sim.get(f"/sim/payments/{WALLET}")).json()
    assert [(r["idempotency_key"], r["amount"]) for r in received] == [("pay-9", 50_000)]
    assert [f["fired"] for f in (await sim.get("/sim/faults")).json()] == [2]


async def test_409_on_a_repeated_key_leaves_only_the_status_query(adapters, world, sim):
    world.add_fault(f"payment:{WALLET}", "conflict_on_repeat")
    first = await adapters.payments.disburse(WALLET, payout())
    assert first.status is DisbursementStatus.SUCCEEDED  # a new key is answered as usual
    with pytest.raises(PartnerError) as refused:
        await adapters.payments.disburse(WALLET, payout())
    assert not isinstance(refused.value, PartnerUnavailable)  # a definitive refusal, not a transient one
    assert await adapters.payments.status(WALLET, "pay-9") == first
    assert len((await sim.get(f"/sim/payments/{WALLET}")).json()) == 1


async def test_409_on_a_repeated_key_over_http_is_a_problem(world, sim):
    world.add_fault("payment", "conflict_on_repeat")
    body = payout().model_dump(mode="json")
    assert (await sim.post(f"/payments/{WALLET}/disbursements", json=body)).status_code == 200
    repeated = await sim.post(f"/payments/{WALLET}/disbursements", json=body)
    assert repeated.status_code == 409
    assert repeated.json()["code"] == "DUPLICATE_IDEMPOTENCY_KEY"


async def test_5xx_after_commit_over_http_is_a_500_with_the_payment_made(world, sim):
    world.add_fault("payment", "error_5xx_after_commit", times=1)
    body = payout().model_dump(mode="json")
    assert (await sim.post(f"/payments/{WALLET}/disbursements", json=body)).status_code == 500
    assert (await sim.get(f"/payments/{WALLET}/disbursements/pay-9")).json()["status"] == "SUCCEEDED"
    assert (await sim.post(f"/payments/{WALLET}/disbursements", json=body)).status_code == 200


async def test_a_spent_fault_stays_listed_but_quiet(adapters, world):
    world.add_fault("social_affairs", "error_5xx", times=1)
    with pytest.raises(PartnerUnavailable):
        await adapters.social_affairs.check(NIK)
    assert (await adapters.social_affairs.check(NIK)).programmes == []
    assert world.faults.faults[0].fired == 1
