"""The journey view served to beneficiaries and staff, read from the projection and the ledger."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas import ClawbackView, JourneyView, PaymentAccountView, PaymentView, PurchaseView, SurveyView
from core.domain import FINAL_STATUSES, JourneyStatus, PaymentKind, PaymentStatus, PurchaseStatus, SurveyStatus
from core.payments import payment_id_for
from core.security import mask
from core.terms import ProgrammeTerms
from db.models import Beneficiary, Clawback, Payment, Purchase, SurveyResponse

PAYING = (JourneyStatus.INCENTIVES, JourneyStatus.PAYMENT_ON_HOLD)


def survey_views(windows: list[dict], submitted: set[int], now: datetime, ended: bool = False) -> list[SurveyView]:
    """Each survey window as the beneficiary sees it; once the journey has ended, none is open any more."""
    views = []
    for w in windows:
        opens, closes = datetime.fromisoformat(w["opens_at"]), datetime.fromisoformat(w["closes_at"])
        if w["survey_no"] in submitted:
            status = SurveyStatus.SUBMITTED
        elif ended:
            status = SurveyStatus.EXPIRED
        elif now < opens:
            status = SurveyStatus.PENDING
        elif now < closes:
            status = SurveyStatus.OPEN
        else:
            status = SurveyStatus.EXPIRED
        views.append(SurveyView(survey_no=w["survey_no"], status=status, opens_at=opens, closes_at=closes))
    return views


def scheduled_incentives(b: Beneficiary, ledger: list[PaymentView]) -> list[PaymentView]:
    """Instalments not yet due show as SCHEDULED so a beneficiary sees the whole plan; once a journey that had
    reached them is revoked, as CANCELLED with the revocation's reason (they stop, they do not vanish)."""
    terms = b.detail.get("terms")
    revoked = b.status == JourneyStatus.REVOKED and "surveys" in b.detail  # the incentive phase had begun
    if not (b.status in PAYING or revoked) or not terms:
        return []
    status, reason = PaymentStatus.SCHEDULED, None
    if revoked:
        status, reason = PaymentStatus.CANCELLED, (b.reasons or [None])[0]
    pinned = ProgrammeTerms.model_validate(terms)
    due = {p.number for p in ledger if p.kind == PaymentKind.INCENTIVE}
    return [
        PaymentView(
            payment_id=payment_id_for(b.registration_id, PaymentKind.INCENTIVE, n),
            kind=PaymentKind.INCENTIVE,
            number=n,
            amount=pinned.incentive_amount,
            status=status,
            reason=reason,
        )
        for n in range(1, pinned.incentive_count + 1)
        if n not in due
    ]


def waiting_for(b: Beneficiary, purchases: list[Purchase]) -> list[str]:
    """What the journey is waiting for from the beneficiary before the next payment can go out."""
    if b.status not in PAYING:
        return []
    done = [(p.completed_at, p) for p in purchases if p.completed_at]
    completed = [p for _, p in sorted(done, key=lambda pair: pair[0])]
    waits = []
    if completed and completed[0].review_rating is None:
        waits.append("REVIEW")
    if not b.payment_account:
        waits.append("PAYMENT_ACCOUNT")
    return waits


async def journey_view(session: AsyncSession, registration_id: str) -> JourneyView | None:
    """The journey as one consistent picture: `session` must be a read snapshot (`db.session.read_snapshot`),
    or a settlement landing between two of these reads could show a payment PAID beside PAYMENT_ON_HOLD."""
    b = await session.get(Beneficiary, registration_id)
    if b is None:
        return None
    purchases = list(
        await session.scalars(
            select(Purchase).where(Purchase.registration_id == b.registration_id).order_by(Purchase.created_at)
        )
    )
    payments = await session.scalars(
        select(Payment).where(Payment.registration_id == b.registration_id).order_by(Payment.kind, Payment.number)
    )
    ledger = [PaymentView.model_validate(p, from_attributes=True) for p in payments]
    submitted = set(
        await session.scalars(
            select(SurveyResponse.survey_no).where(SurveyResponse.registration_id == b.registration_id)
        )
    )
    claw = await session.get(Clawback, b.registration_id)
    account = None
    if b.payment_partner and b.payment_account:
        account = PaymentAccountView(
            partner_client_code=b.payment_partner, account_number_masked=mask(b.payment_account)
        )
    return JourneyView(
        registration_id=b.registration_id,
        status=JourneyStatus(b.status),
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
                status=PurchaseStatus(p.status),
                reviewed=p.review_rating is not None,
            )
            for p in purchases
        ],
        payments=ledger + scheduled_incentives(b, ledger),
        surveys=survey_views(
            (b.detail or {}).get("surveys", []), submitted, datetime.now(UTC), ended=b.status in FINAL_STATUSES
        ),
        waiting_for=waiting_for(b, purchases),
        payment_account=account,
        clawback=ClawbackView(amount=claw.amount, payment_ids=[str(p) for p in claw.payment_ids]) if claw else None,
        updated_at=b.updated_at,
    )
