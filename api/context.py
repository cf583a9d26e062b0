"""The API process's shared resources, built once by the lifespan and reached through `api.deps`."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from fastapi import Request
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client, Interceptor

from adapters.messaging import HttpMessageGateway, MessageGateway, SimulatedMessageGateway
from adapters.metering import MeteredTransport
from api.cache import Cached
from api.errors import ProblemError
from api.metrics import Metrics
from core.codec import EncryptionCodec, parse_keys
from core.problems import ProblemCode
from core.ratestore import MemoryRateStore, RateStore, build_rate_store
from core.settings import AdapterMode, Settings
from core.temporal import connect
from core.tracing import instrument_http, temporal_interceptors
from db.session import make_engine, make_sessionmaker, read_snapshot
from services.programme import ProgrammeCounts, programme_counts
from services.transparency import Figures, transparency_figures

log = logging.getLogger(__name__)
T = TypeVar("T")

TEMPORAL_CONNECT_TIMEOUT_S = 5.0
# While Temporal is down, requests needing it fail fast instead of each paying for a connection attempt.
TEMPORAL_RETRY_INTERVAL_S = 2.0
# Business figures are recomputed at most this often, however many scrapers or visitors ask.
FIGURES_TTL_S = 5.0


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    codec: EncryptionCodec
    metrics: Metrics
    temporal: Client | None = None
    programme: "Cached[ProgrammeCounts] | None" = None
    transparency: "Cached[Figures] | None" = None
    messages: MessageGateway | None = None  # one-time codes to applicants' phones
    tracing: TracerProvider | None = None
    _last_connect: float = field(default=float("-inf"), repr=False)
    _connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    rates: RateStore = field(default_factory=MemoryRateStore)  # rate-limit counters (api/ratelimit.py)

    async def connect_temporal(self) -> Client | None:
        """The Temporal client, connecting now if start-up could not (None while Temporal is unreachable)."""
        if self.temporal is not None:
            return self.temporal
        async with self._connect_lock:
            if self.temporal is None and time.monotonic() - self._last_connect > TEMPORAL_RETRY_INTERVAL_S:
                self._last_connect = time.monotonic()
                self.temporal = await try_connect(self.settings, temporal_interceptors(self.tracing))
        return self.temporal


async def try_connect(settings: Settings, interceptors: Sequence[Interceptor] = ()) -> Client | None:
    try:
        return await asyncio.wait_for(connect(settings, interceptors=interceptors), TEMPORAL_CONNECT_TIMEOUT_S)
    except Exception as exc:  # any failure means "not ready", never a crash of the API
        log.warning("Temporal at %s unreachable (%s)", settings.temporal_address, type(exc).__name__)
        return None


@asynccontextmanager
async def open_context(
    settings: Settings, metrics: Metrics, temporal: Client | None, tracing: TracerProvider | None = None
) -> AsyncIterator[AppContext]:
    """Build the process's resources (the API's composition root) and release them on the way out."""
    codec = EncryptionCodec(parse_keys(settings.codec_keys))  # bad keys stop start-up here
    engine = make_engine(settings.database_url)
    http = httpx.AsyncClient(timeout=settings.partner_timeout_s, transport=MeteredTransport(metrics))
    instrument_http(http, tracing)
    ctx = AppContext(settings, engine, make_sessionmaker(engine), http, codec, metrics, temporal, tracing=tracing)
    ctx.programme = Cached(lambda: _in_session(ctx.sessions, programme_counts), FIGURES_TTL_S)
    ctx.transparency = Cached(lambda: _in_session(ctx.sessions, transparency_figures), FIGURES_TTL_S)
    try:
        ctx.rates = build_rate_store(settings.redis_url)
        ctx.messages = message_gateway(settings, http)
        await ctx.connect_temporal()  # a failure leaves it None: /healthz serves, /readyz says why
        yield ctx
    finally:
        await ctx.rates.aclose()
        await http.aclose()
        await engine.dispose()
        if tracing is not None:
            tracing.force_flush()


def message_gateway(settings: Settings, http: httpx.AsyncClient) -> MessageGateway:
    if settings.adapters is AdapterMode.SIMULATED:
        return SimulatedMessageGateway()
    return HttpMessageGateway(http, settings.url_for("messaging"))


async def _in_session(sessions: async_sessionmaker[AsyncSession], query: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with sessions() as session:
        return await query(session)


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def get_settings(request: Request) -> Settings:
    return get_ctx(request).settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; routes commit their own writes, anything uncommitted rolls back."""
    async with get_ctx(request).sessions() as session:
        yield session


async def get_snapshot(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only session of its own whose reads all see one committed state (for views over several tables)."""
    async with read_snapshot(get_ctx(request).sessions) as session:
        yield session


async def get_temporal(request: Request) -> Client:
    client = await get_ctx(request).connect_temporal()
    if client is None:
        raise ProblemError(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The workflow service is unavailable; retry later.")
    return client
