"""Migrations run up, down and up again on each backend, and leave the schema the models describe."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import downgrade, upgrade
from db.models import Base
from db.session import make_engine
from tests.conftest import POSTGRES_URL, scratch_postgres


@asynccontextmanager
async def _fresh(backend: str, tmp_path) -> AsyncIterator[AsyncEngine]:
    if backend == "postgres":
        if not POSTGRES_URL:
            pytest.skip("TEST_POSTGRES_URL is not set")
        async with scratch_postgres(POSTGRES_URL, "migrations") as engine:
            yield engine
        return
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/migrations.db")
    yield engine
    await engine.dispose()


# SQLite's full-text index (migration 0007): an FTS5 table and its shadow tables, outside the models.
FTS_TABLES = "courses_fts"


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = set(await conn.run_sync(lambda c: inspect(c).get_table_names())) - {"alembic_version"}
    return {name for name in names if not name.startswith(FTS_TABLES)}


def _drift(connection) -> list:
    diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [
        d
        for d in diffs
        if not (d[0] == "remove_index" and d[1].name in ("uq_waves_one_active", "ix_courses_search"))
        and not (d[0] == "remove_table" and d[1].name.startswith(FTS_TABLES))
    ]


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_up_down_up_matches_the_models(backend, tmp_path):
    async with _fresh(backend, tmp_path) as engine:
        await upgrade(engine)
        assert await _tables(engine) == set(Base.metadata.tables)
        async with engine.connect() as conn:
            assert await conn.run_sync(_drift) == []
        await downgrade(engine)
        assert await _tables(engine) == set()
        await upgrade(engine)
        assert await _tables(engine) == set(Base.metadata.tables)
