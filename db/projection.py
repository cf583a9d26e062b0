"""Writes to the beneficiary projection, made by the activity that caused the change."""

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import BalanceEntryKind, JourneyStatus, PurchaseStatus
from db.models import BalanceEntry, Beneficiary, Purchase
from db.session import rows_matched


async def set_status(
    session: AsyncSession,
    registration_id: str,
    status: JourneyStatus,
    reasons: list[str] | None = None,
    **fields: Any,
) -> None:
    values: dict[str, Any] = {"status": status.value, **fields}
    if reasons is not None:
        values["reasons"] = list(reasons)
    await session.execute(update(Beneficiary).where(Beneficiary.registration_id == registration_id).values(**values))


async def get(session: AsyncSession, registration_id: str) -> Beneficiary | None:
    return await session.get(Beneficiary, registration_id)


async def update_unless_revoked(session: AsyncSession, registration_id: str, **values: Any) -> Beneficiary | None:
    """Write `values` for a step that may finish after its journey was revoked, unless it was (a late check
    must not put a revoked applicant back in VERIFYING or the pool); returns the row for further writes in this
    transaction, or None. One conditional statement: SQLite ignores FOR UPDATE and its driver runs a bare SELECT
    outside the transaction, so a revocation committed between a read and the write would be overwritten."""
    written = await session.execute(
        update(Beneficiary)
        .where(Beneficiary.registration_id == registration_id, Beneficiary.status != JourneyStatus.REVOKED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if rows_matched(written) != 1:
        return None
    # The write holds the row (PostgreSQL) or the database (SQLite) until commit: this read is current.
    return await session.get(Beneficiary, registration_id, populate_existing=True)


async def remember(session: AsyncSession, beneficiary: Beneficiary, key: str, value: Any) -> None:
    """Record an activity's outcome on the row so a retried activity returns it instead of redoing it."""
    beneficiary.detail = {**(beneficiary.detail or {}), key: value}


async def balance_of(session: AsyncSession, registration_id: str) -> int:
    rows = await session.scalars(select(BalanceEntry.amount).where(BalanceEntry.registration_id == registration_id))
    return sum(rows)


async def cancel_open_purchase(session: AsyncSession, purchase: Purchase) -> bool:
    """Cancel a purchase still PURCHASED and refund its price; False if it was not (already cancelled, or
    completed). Conditional, so a completion committed since the purchase was read is never overwritten."""
    cancelled = await session.execute(
        update(Purchase)
        .where(Purchase.purchase_ref == purchase.purchase_ref, Purchase.status == PurchaseStatus.PURCHASED)
        .values(status=PurchaseStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    if rows_matched(cancelled) != 1:
        return False
    session.add(
        BalanceEntry(
            registration_id=purchase.registration_id,
            kind=BalanceEntryKind.REFUND,
            amount=purchase.price,
            reference=purchase.purchase_ref,
        )
    )
    return True


async def return_to_treasury(session: AsyncSession, registration_id: str, reference: str) -> int:
    """Book what is left of the training balance back to the treasury (once per reference); returns it."""
    remaining = await balance_of(session, registration_id)
    if remaining > 0:
        session.add(
            BalanceEntry(
                registration_id=registration_id,
                kind=BalanceEntryKind.TREASURY_RETURN,
                amount=-remaining,
                reference=reference,
            )
        )
    return remaining
