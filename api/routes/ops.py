"""Operations: liveness, readiness (real checks of Temporal and the database) and Prometheus metrics."""

import asyncio
import logging
from datetime import timedelta

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.context import AppContext
from api.deps import ContextDep
from api.errors import ProblemError, problem_responses
from core.problems import ProblemCode

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_S = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (says nothing about its dependencies)."""
    return {"status": "ok"}


async def _database_ok(ctx: AppContext) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        log.warning("readiness: database check failed (%s)", type(exc).__name__)
        return False


async def _temporal_ok(ctx: AppContext) -> bool:
    client = await ctx.connect_temporal()
    if client is None:
        return False
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S + 1):
            return await client.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT_S))
    except Exception as exc:
        log.warning("readiness: Temporal check failed (%s)", type(exc).__name__)
        return False


@router.get("/readyz", responses=problem_responses(503))
async def readyz(ctx: ContextDep) -> dict[str, str]:
    """Ready when Temporal passes a health check and the database answers `SELECT 1`; else 503 `NOT_READY`."""
    temporal, database = await asyncio.gather(_temporal_ok(ctx), _database_ok(ctx))
    ctx.metrics.temporal_up.set(temporal)
    ctx.metrics.database_up.set(database)
    checks = {
        "temporal": "ok" if temporal else "unavailable",
        "database": "ok" if database else "unavailable",
    }
    if not (temporal and database):
        failed = ", ".join(name for name, state in checks.items() if state != "ok")
        raise ProblemError(503, ProblemCode.NOT_READY, f"Not ready: {failed} unavailable.", extra=checks)
    return {"status": "ready", **checks}


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(ctx: ContextDep) -> Response:
    """Prometheus text exposition of this process's metrics and the programme's business series."""
    await _refresh_programme(ctx)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _refresh_programme(ctx: AppContext) -> None:
    """The business series from the cached grouped counts; while the database is away, the last ones."""
    if ctx.programme is None:
        return
    try:
        ctx.metrics.programme.counts = await ctx.programme.get()
    except Exception as exc:
        log.warning("metrics: programme counts unavailable (%s)", type(exc).__name__)
