"""Where the benchmarks measure: a scratch SQLite file always, and PostgreSQL in a database of the benchmark's
own (never the test suite's) when `--postgres URL` or TEST_POSTGRES_URL names a server."""

import argparse
import os

from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.session import make_engine


def add_postgres_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres", metavar="URL", nargs="?", const="", help="default: TEST_POSTGRES_URL")


def postgres_server(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The server to measure on as well: `--postgres URL`, else TEST_POSTGRES_URL; None for SQLite only."""
    postgres: str | None = args.postgres or os.environ.get("TEST_POSTGRES_URL")
    if args.postgres is not None and not postgres:
        parser.error("--postgres needs a URL or TEST_POSTGRES_URL")
    return postgres


async def postgres_bench_url(url: str, database: str) -> str:
    """`database` on the server of `url`, created afresh (a run left behind by a crash is dropped first)."""
    target = make_url(url).set(database=database)
    admin = make_engine(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        await conn.execute(text(f"CREATE DATABASE {database}"))
    await admin.dispose()
    return target.render_as_string(hide_password=False)
