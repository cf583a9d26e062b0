"""The journey view served to beneficiaries and staff, read from the projection and the ledger."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas import JourneyView, PaymentAccountView, PaymentView, PurchaseView, SurveyView
from db.models import Beneficiary, Payment, Purchase


def mask(account_number: str) -> str:
    return "*" * max(len(account_number) - 4, 0) + account_number[-4:]


async def journey_view(session: AsyncSession, b: Beneficiary) -> JourneyView:
    purchases = await session.scalars(
        select(Purchase).where(Purchase.registration_id == b.registration_id).order_by(Purchase.created_at)
    )
    payments = await session.scalars(
        select(Payment).where(Payment.registration_id == b.registration_id).order_by(Payment.kind, Payment.number)
    )
    account = None
    if b.payment_partner and b.payment_account:
        account = PaymentAccountView(
            partner_client_code=b.payment_partner, account_number_masked=mask(b.payment_account)
        )
    return JourneyView(
        registration_id=b.registration_id,
        status=b.status,
        reasons=b.reasons or [],
        prakerja_number=b.prakerja_number,
        wave_id=b.wave_id,
        balance=b.balance,
        profile=b.profile,
        province=b.province,
        purchases=[
            PurchaseView(
                purchase_ref=p.purchase_ref,
                course_id=p.course_id,
                price=p.price,
                status=p.status,
                reviewed=p.review_rating is not None,
            )
            for p in purchases
        ],
        payments=[PaymentView.model_validate(p, from_attributes=True) for p in payments],
        surveys=[SurveyView.model_validate(s) for s in (b.detail or {}).get("surveys", [])],
        payment_account=account,
        updated_at=b.updated_at,
    )
