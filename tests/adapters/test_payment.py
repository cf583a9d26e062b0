import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.payment import DisbursementStatus, DisburseRequest, KycResult
from core.security import sign
from tests.adapters.sim_support import NIK, OTHER_NIK

WALLET = "ew-gopay"
ACCOUNT = "081200000001"


def payout(key: str = "pay-1", account: str = ACCOUNT, nik: str = NIK, **extra) -> DisburseRequest:
    return DisburseRequest(idempotency_key=key, account_number=account, nik=nik, amount=600_000, **extra)


@pytest.fixture
def accounts(world):
    world.add_payment_account(WALLET, ACCOUNT, NIK)
    world.add_payment_account(WALLET, "081200000002", NIK, kyc=False)
    world.add_payment_account(WALLET, "081200000003", NIK, status="CLOSED")
    world.add_payment_account(WALLET, "081200000004", NIK, status="LIMIT_EXCEEDED")
    world.add_payment_account(WALLET, "081200000005", OTHER_NIK)


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        (ACCOUNT, KycResult(verified=True)),
        ("081299999999", KycResult(verified=False, reason="ACCOUNT_NOT_FOUND")),
        ("081200000002", KycResult(verified=False, reason="KYC_NOT_COMPLETED")),
        ("081200000003", KycResult(verified=False, reason="ACCOUNT_CLOSED")),
        ("081200000005", KycResult(verified=False, reason="NIK_MISMATCH")),
        ("081200000004", KycResult(verified=True)),
    ],
)
async def test_ekyc(adapters, accounts, account, expected):
    assert await adapters.payments.verify_account(WALLET, account, NIK) == expected


async def test_account_belongs_to_one_partner(adapters, accounts):
    result = await adapters.payments.verify_account("bank-bni", ACCOUNT, NIK)
    assert result.reason == "ACCOUNT_NOT_FOUND"


async def test_disbursement_succeeds_once_per_key(adapters, accounts, sim):
    first = await adapters.payments.disburse(WALLET, payout())
    again = await adapters.payments.disburse(WALLET, payout())
    assert first.status is DisbursementStatus.SUCCEEDED and first.partner_reference
    assert again == first
    received = (await sim.get(f"/sim/payments/{WALLET}")).json()
    assert [(r["idempotency_key"], r["amount"], r["status"]) for r in received] == [("pay-1", 600_000, "SUCCEEDED")]
    assert "nik" not in received[0]


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        ("081200000003", "ACCOUNT_CLOSED"),
        ("081200000004", "LIMIT_EXCEEDED"),
        ("081200000005", "NIK_MISMATCH"),
        ("081299999999", "ACCOUNT_NOT_FOUND"),
    ],
)
async def test_definitive_failures(adapters, accounts, sim, account, reason):
    result = await adapters.payments.disburse(WALLET, payout(account=account))
    assert (result.status, result.reason) == (DisbursementStatus.FAILED, reason)
    # A failure is final for its key: repeating it does not try again.
    assert await adapters.payments.disburse(WALLET, payout(account=account)) == result
    assert [r["reason"] for r in (await sim.get(f"/sim/payments/{WALLET}")).json()] == [reason]


async def test_status_of_known_and_unknown_keys(adapters, accounts):
    paid = await adapters.payments.disburse(WALLET, payout("incentive/1:attempt-1"))
    assert await adapters.payments.status(WALLET, "incentive/1:attempt-1") == paid
    assert await adapters.payments.status(WALLET, "never-sent") is None
    assert await adapters.payments.status("bank-bri", "incentive/1:attempt-1") is None


async def test_statement_lists_the_day(adapters, accounts):
    await adapters.payments.disburse(WALLET, payout("pay-1"))
    await adapters.payments.disburse(WALLET, payout("pay-2", account="081200000003"))
    today = datetime.now(UTC).date()
    lines = await adapters.payments.statement(WALLET, today)
    assert [(line.idempotency_key, line.status) for line in lines] == [
        ("pay-1", DisbursementStatus.SUCCEEDED),
        ("pay-2", DisbursementStatus.FAILED),
    ]
    assert await adapters.payments.statement(WALLET, today - timedelta(days=1)) == []


CALLBACK = "http://api.test/v1/partners/disbursements/att-1/status?src=sim"


@pytest.fixture
def async_wallet(world, accounts):
    world.configure_payment_partner(WALLET, sign_key="wallet-secret", mode="async", callback_delay_ms=10)


def assert_signed(headers: dict[str, str], body: bytes) -> None:
    path = "/v1/partners/disbursements/att-1/status?src=sim"
    expected = sign("wallet-secret", WALLET, headers["X-Timestamp"], "POST", path, body)
    assert headers["X-Client-Code"] == WALLET
    assert headers["X-Signature"] == expected


async def test_async_partner_settles_by_signed_callback(adapters, world, async_wallet, callbacks):
    pending = await adapters.payments.disburse(WALLET, payout(callback_url=CALLBACK))
    assert pending.status is DisbursementStatus.PENDING
    await world.drain()

    [(url, headers, body)] = callbacks.calls
    assert url == CALLBACK
    assert_signed(headers, body)
    assert json.loads(body) == {
        "status": "SUCCEEDED",
        "reason": None,
        "partner_reference": pending.partner_reference,
    }
    settled = await adapters.payments.status(WALLET, "pay-1")
    assert settled is not None and settled.status is DisbursementStatus.SUCCEEDED


async def test_async_failure_is_called_back_too(adapters, world, async_wallet, callbacks):
    pending = await adapters.payments.disburse(WALLET, payout(account="081200000003", callback_url=CALLBACK))
    assert pending.status is DisbursementStatus.PENDING
    await world.drain()
    [(_, headers, body)] = callbacks.calls
    assert_signed(headers, body)
    assert json.loads(body)["reason"] == "ACCOUNT_CLOSED"


async def test_async_partner_without_callback_url_answers_at_once(adapters, world, async_wallet, callbacks):
    result = await adapters.payments.disburse(WALLET, payout())
    assert result.status is DisbursementStatus.SUCCEEDED
    await world.drain()
    assert callbacks.calls == []
