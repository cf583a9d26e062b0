"""Migrations run up, down and up again on each backend, and leave the schema the models describe."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import downgrade, upgrade
from db.models import Base
from db.session import make_engine
from tests.conftest import POSTGRES_URL


async def _fresh(backend: str, tmp_path) -> tuple[AsyncEngine, AsyncEngine | None, str | None]:
    if backend == "sqlite":
        return make_engine(f"sqlite+aiosqlite:///{tmp_path}/migrations.db"), None, None
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set")
    name = f"prakerja_migrations_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_engine(POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"), admin, name


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names())) - {"alembic_version"}


def _drift(connection) -> list:
    diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [d for d in diffs if not (d[0] == "remove_index" and d[1].name == "uq_waves_one_active")]


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_up_down_up_matches_the_models(backend, tmp_path):
    engine, admin, name = await _fresh(backend, tmp_path)
    try:
        await upgrade(engine)
        assert await _tables(engine) == set(Base.metadata.tables)
        async with engine.connect() as conn:
            assert await conn.run_sync(_drift) == []
        await downgrade(engine)
        assert await _tables(engine) == set()
        await upgrade(engine)
        assert await _tables(engine) == set(Base.metadata.tables)
    finally:
        await engine.dispose()
        if admin is not None:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            await admin.dispose()
