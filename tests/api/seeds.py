"""Rows written straight to the database for tests that need a journey in a given state without running it."""

from core.domain import JourneyStatus, PaymentStatus
from core.payments import attempt_id_for
from db.models import Payment, PaymentAttempt
from tests.api.ledger import beneficiary


async def held_incentive(
    sessions, *, partner: str, account: str, status: PaymentStatus = PaymentStatus.ON_HOLD, linked: bool = False
) -> tuple[str, str]:
    """A beneficiary whose incentive 1 is on hold, as `mark_on_hold` leaves them (its one attempt FAILED
    with ACCOUNT_CLOSED at `partner`); `linked`: the account is also the beneficiary's linked one."""
    row = beneficiary(
        status=JourneyStatus.PAYMENT_ON_HOLD,
        payment_partner=partner if linked else None,
        payment_account=account if linked else None,
        detail={"status_before_payment_hold": JourneyStatus.INCENTIVES},
    )
    registration_id = row.registration_id
    payment_id = f"PAY-{registration_id}-I1"
    async with sessions.begin() as session:
        session.add(row)
        session.add(
            Payment(
                payment_id=payment_id,
                registration_id=registration_id,
                kind="INCENTIVE",
                number=1,
                amount=600_000,
                status=status,
                reason="ACCOUNT_CLOSED",
                partner_client_code=partner,
                account_number=account,
                attempts=1,
            )
        )
        await session.flush()
        session.add(
            PaymentAttempt(
                attempt_id=attempt_id_for(payment_id, 1),
                payment_id=payment_id,
                idempotency_key=attempt_id_for(payment_id, 1),
                partner_client_code=partner,
                account_number=account,
                amount=600_000,
                status="FAILED",
            )
        )
    return registration_id, payment_id
