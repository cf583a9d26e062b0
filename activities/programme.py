"""Programme money and status moves that are not payments: award the card, revoke it."""

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.marketplace import Marketplace
from core.contracts import AwardInput, AwardResult, RevokeInput, RevokeResult, UnsettledPayment
from core.domain import JourneyStatus, LifeEvent, PartnerKind, PaymentKind, PaymentStatus, PurchaseStatus, Reason
from db import projection
from db.models import Beneficiary, Clawback, NikBlacklist, Partner, Payment, Purchase


class ProgrammeActivities:
    def __init__(self, marketplace: Marketplace, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.marketplace = marketplace
        self.sessions = sessions

    @activity.defn
    async def award(self, input: AwardInput) -> AwardResult:
        """Issue a unique card number and credit the training balance (both once, whatever the retries)."""
        for _ in range(5):
            try:
                return await self._award_once(input)
            except IntegrityError:
                continue  # a card number collision: draw another
        raise ApplicationError("could not issue a unique card number", type="CardNumberExhausted")

    async def _award_once(self, input: AwardInput) -> AwardResult:
        async with self.sessions.begin() as session:
            beneficiary = await projection.get(session, input.registration_id)
            if beneficiary is None:
                raise ApplicationError("no such registration", type="InvalidInput", non_retryable=True)
            card = beneficiary.prakerja_number or await projection.award(
                session, beneficiary, input.wave_id, input.terms
            )
            await session.flush()
            return AwardResult(prakerja_number=card, balance=beneficiary.balance or 0)

    @activity.defn
    async def revoke(self, input: RevokeInput) -> RevokeResult:
        """Blacklist the NIK, return unused balance, stop unpaid payments, record a clawback, tell marketplaces."""
        async with self.sessions.begin() as session:
            # Hold the row first (PostgreSQL's row lock, SQLite's write lock): a draw awarding the card at the same
            # moment then either lands before this reads the balance (and it goes back too) or sees REVOKED.
            await session.execute(
                update(Beneficiary).where(Beneficiary.registration_id == input.registration_id).values(in_pool=False)
            )
            # The card the draw wrote, when the journey was revoked before it heard of its award.
            card = input.prakerja_number or await session.scalar(
                select(Beneficiary.prakerja_number).where(Beneficiary.registration_id == input.registration_id)
            )
            if await session.get(NikBlacklist, input.nik_hash) is None:
                session.add(
                    NikBlacklist(
                        nik_hash=input.nik_hash,
                        registration_id=input.registration_id,
                        reason=input.reasons[0],
                    )
                )
            voided = await self._void_purchases(session, input)
            returned = await projection.return_to_treasury(session, input.registration_id, "revocation")
            payments = list(
                await session.scalars(select(Payment).where(Payment.registration_id == input.registration_id))
            )
            clawback = await self._clawback(session, input, payments)
            await projection.set_status(
                session, input.registration_id, JourneyStatus.REVOKED, input.reasons, balance=0, in_pool=False
            )
            marketplaces = list(
                await session.scalars(select(Partner.client_code).where(Partner.kind == PartnerKind.MARKETPLACE))
            )
        told = _told_to_marketplaces(input.reasons[0])
        if card:
            for client_code in marketplaces:
                await self.marketplace.card_blocked(client_code, card, told)
        for purchase_ref, client_code in voided:
            await self.marketplace.purchase_voided(client_code, purchase_ref, told)
        return RevokeResult(returned_to_treasury=returned, clawback_amount=clawback, unsettled=_in_flight(payments))

    async def _void_purchases(self, session: AsyncSession, input: RevokeInput) -> list[tuple[str, str]]:
        """Open (not completed) purchases are voided: refunded to the balance, which then goes back."""
        voided = []
        for purchase_ref in input.open_purchases:
            purchase = await session.get(Purchase, purchase_ref)
            if purchase is None or purchase.registration_id != input.registration_id:
                continue
            # Voided now, or by an earlier try of this activity: the marketplace is told (again) either way.
            if await projection.cancel_open_purchase(session, purchase) or purchase.status == PurchaseStatus.CANCELLED:
                voided.append((purchase_ref, purchase.marketplace_client_code))
        await session.flush()
        return voided

    async def _clawback(self, session: AsyncSession, input: RevokeInput, payments: list[Payment]) -> int:
        """The clawback's amount, from the beneficiary's `payments`; unpaid ones stop."""
        paid = [p for p in payments if p.status == PaymentStatus.PAID]
        # A life event is why every unpaid payment stopped: the ledger says so (the attempts keep the partner's
        # reasons). Only a revocation cancels payments, so every CANCELLED row here is this revocation's.
        life_event = input.reasons[0] if input.reasons[0] in set(LifeEvent) else None
        for p in payments:
            if p.status in (PaymentStatus.SCHEDULED, PaymentStatus.ON_HOLD, PaymentStatus.FAILED):
                p.status = PaymentStatus.CANCELLED
            if p.status == PaymentStatus.CANCELLED and life_event:
                p.reason = life_event
        amount = sum(p.amount for p in paid)
        if paid and await session.get(Clawback, input.registration_id) is None:
            session.add(
                Clawback(
                    registration_id=input.registration_id,
                    amount=amount,
                    payment_ids=[p.payment_id for p in paid],
                    reason=input.reasons[0],
                )
            )
        return amount


def _in_flight(payments: list[Payment]) -> list[UnsettledPayment]:
    """The payments whose partner call may be in flight (PENDING), for the journey to resolve those it has no record
    of (`IncentivePhase.resolve_unrecorded`)."""
    return [
        UnsettledPayment(
            payment_id=p.payment_id,
            kind=PaymentKind(p.kind),
            number=p.number,
            amount=p.amount,
            partner_client_code=p.partner_client_code,
            account_number=p.account_number,
        )
        for p in payments
        if p.status == PaymentStatus.PENDING and p.partner_client_code and p.account_number
    ]


def _told_to_marketplaces(reason: str) -> str:
    """A marketplace needs to know the card stopped, not why: a death or a deactivated NIK is the registry's
    news about a person, not a business partner's."""
    return "CARD_REVOKED" if reason in (Reason.DECEASED, Reason.NIK_DEACTIVATED) else reason
