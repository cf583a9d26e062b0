"""Shared fixtures: databases (SQLite always, PostgreSQL when TEST_POSTGRES_URL is set) and Temporal servers."""

import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.settings import AdapterMode, Settings
from core.temporal import SEARCH_ATTRIBUTES, data_converter, search_attribute_flags
from db.migrate import upgrade
from db.models import Base
from db.session import make_engine, make_sessionmaker

BIN = Path(sys.executable).parent  # .venv/bin holds `temporal` and `temporal-test-server`
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]


def test_settings(tmp_path: Path | None = None, **overrides: object) -> Settings:
    """Settings for tests: simulated adapters, a throwaway SQLite file, no environment leakage."""
    values: dict[str, object] = {
        "adapters": AdapterMode.SIMULATED,
        "database_url": f"sqlite+aiosqlite:///{tmp_path or '/tmp'}/prakerja-{uuid.uuid4().hex}.db",
        "task_queue": f"tq-{uuid.uuid4().hex[:8]}",
        # No rate limits unless a test sets them (tests poll fast); counters in memory, never a shared Redis.
        "rate_registrations_per_min": 0,
        "rate_public_per_s": 0,
        "rate_partner_per_s": 0,
        "rate_staff_per_s": 0,
        "redis_url": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def scratch_postgres(url: str, label: str) -> AsyncIterator[AsyncEngine]:
    """A database of this session's own next to TEST_POSTGRES_URL's, dropped afterwards: runs sharing
    the server (two developers, a developer and CI) never see each other's tables."""
    name = f"{url.rsplit('/', 1)[1]}_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(url.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest_asyncio.fixture(scope="session", params=BACKENDS)
async def migrated_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    """One migrated database per backend for the whole session (migrations themselves are under test)."""
    if request.param == "postgres":
        assert POSTGRES_URL
        async with scratch_postgres(POSTGRES_URL, "suite") as engine:
            await upgrade(engine)
            yield engine
        return
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/test.db")
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def engine(migrated_engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The session's database, emptied before each test so counts and pools start from zero."""
    async with migrated_engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())
    yield migrated_engine


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in SEARCH_ATTRIBUTES
            },
        )
    )


@pytest_asyncio.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping test server: durable timers of months pass in milliseconds."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=data_converter(Settings().codec_keys),
    ) as env:
        await register_search_attributes(env.client)
        yield env


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (as `make up` runs it), for end-to-end and concurrency tests in real time."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=data_converter(Settings().codec_keys),
        dev_server_extra_args=[arg for flag in search_attribute_flags() for arg in ("--search-attribute", flag)],
    ) as env:
        yield env
