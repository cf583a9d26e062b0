"""Engine and session factory; SQLite gets WAL and a busy timeout because API and worker share the file."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Result, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"), **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def read_snapshot(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose reads all see one committed state. A view assembled from several tables (the
    beneficiary row, then its payments) must never mix one write's before and after: at READ COMMITTED
    each statement of PostgreSQL sees the latest commit, and SQLite's driver runs bare SELECTs outside any
    transaction, so a payment's settlement could land between two reads (PAID beside PAYMENT_ON_HOLD)."""
    async with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        else:  # SQLite (WAL): an explicit BEGIN pins the snapshot at the first read until the rollback
            connection = await session.connection()
            await connection.exec_driver_sql("BEGIN")
        yield session


def rows_matched(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. Its result is a `CursorResult`, which SQLAlchemy's types for
    `AsyncSession.execute` do not say."""
    return cast(CursorResult[Any], result).rowcount
