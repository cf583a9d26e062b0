"""Run Alembic migrations from code: `python -m db.migrate` (make up) or `await upgrade(engine)` (tests)."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import load_settings
from db.session import make_engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["configure_logger"] = False
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(connection: object) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    def run(connection: object) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def _main() -> None:
    settings = load_settings()
    if settings.database_url.startswith("sqlite"):
        (ROOT / "var").mkdir(exist_ok=True)
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(_main())
