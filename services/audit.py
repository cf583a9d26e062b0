"""Reading the audit log: who did what to which registration, newest first."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditLog


@dataclass(frozen=True)
class AuditFilter:
    actor_id: str | None = None
    resource: str | None = None  # a registration id


async def audit_entries(
    session: AsyncSession, where: AuditFilter, limit: int, before: int | None = None
) -> tuple[list[AuditLog], int | None]:
    """A page of entries (both filters use an index) and the id to pass as `before` for older ones."""
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit + 1)
    if where.actor_id:
        query = query.where(AuditLog.actor_id == where.actor_id)
    if where.resource:
        query = query.where(AuditLog.resource == where.resource)
    if before is not None:
        query = query.where(AuditLog.id < before)
    rows = list(await session.scalars(query))
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)
