"""FastAPI application factory: middleware, error handlers, routers and the lifespan that owns resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client

from api.audit import AuditMiddleware
from api.console import assessments as console_assessments
from api.console import pages as console_pages
from api.console import reports as console_reports
from api.context import open_context
from api.cors import CodecCORSMiddleware
from api.errors import CatchAllMiddleware, install_error_handlers
from api.guard import NulGuardMiddleware
from api.limits import install_limits
from api.metrics import Metrics, MetricsMiddleware
from api.routes import (
    admin,
    assessments,
    catalog,
    codec,
    console,
    disbursements,
    operator,
    ops,
    partner,
    partner_me,
    profiles,
    public,
    registry,
    support,
    timeline,
)
from api.routes import reports as report_routes
from api.transparency import routes as transparency_routes
from core.settings import Settings, load_settings
from core.tracing import instrument_api, tracer_provider

ROUTERS = (
    ops.router,
    report_routes.router,
    transparency_routes.router,
    console_reports.router,
    admin.router,
    public.router,
    operator.router,
    partner_me.router,
    partner.router,
    registry.router,
    disbursements.router,
    support.router,
    codec.router,
    console.router,
    timeline.router,
    profiles.router,
    assessments.router,
    catalog.router,
    console_assessments.router,
    console_pages.router,
)


def create_app(
    settings: Settings | None = None,
    *,
    temporal_client: Client | None = None,
    tracing: TracerProvider | None = None,
) -> FastAPI:
    """Build the API. `temporal_client` and `tracing` are for tests; otherwise the lifespan connects a client
    from settings, and spans are exported when OTEL_EXPORTER_OTLP_ENDPOINT is set (core.tracing)."""
    settings = settings or load_settings()
    metrics = Metrics()
    tracing = tracing or tracer_provider(settings, "prakerja-api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_context(settings, metrics, temporal_client, tracing) as ctx:
            app.state.ctx = ctx
            yield
        metrics.close()

    app = FastAPI(
        title="Prakerja platform API",
        version="0.1.0",
        summary="Registration, selection, training purchases and incentive payments.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # Added inside-out: metrics see every response, CORS answers preflights before auth or audit.
    app.add_middleware(NulGuardMiddleware)
    install_limits(app)  # rate limits, then body limits, before the NUL guard reads a body
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(CodecCORSMiddleware, ui_origin=settings.ui_origin)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    for router in ROUTERS:
        app.include_router(router)
    instrument_api(app, tracing)
    return app
