"""Clawbacks: what a revoked beneficiary had been paid, to be recovered (written by the revocation)."""

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Clawback


class ClawbackItem(BaseModel):
    registration_id: str
    amount: int = Field(description="Integer rupiah paid before the revocation.")
    payment_ids: list[str]
    reason: str
    created_at: datetime


class ClawbackPage(BaseModel):
    items: list[ClawbackItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def item(row: Clawback) -> ClawbackItem:
    return ClawbackItem(
        registration_id=row.registration_id,
        amount=row.amount,
        payment_ids=[str(p) for p in row.payment_ids],
        reason=row.reason,
        created_at=row.created_at,
    )


async def list_clawbacks(session: AsyncSession, limit: int, cursor: str | None = None) -> ClawbackPage:
    """Clawbacks ordered by registration id, `limit` at a time, after `cursor`."""
    query = select(Clawback).order_by(Clawback.registration_id).limit(limit + 1)
    if cursor:
        query = query.where(Clawback.registration_id > cursor)
    rows = list(await session.scalars(query))
    items = [item(row) for row in rows[:limit]]
    return ClawbackPage(items=items, next_cursor=items[-1].registration_id if len(rows) > limit else None)
