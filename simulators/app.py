"""The partner simulator service: every partner system plus the `/sim` control API, on one port."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adapters.errors import PartnerUnavailable
from simulators import control, messaging, partners
from simulators.faults import FaultAfterCommit, FaultDuplicateKey, FaultTimeout
from simulators.payments import CallbackSender
from simulators.world import SimWorld

logger = logging.getLogger(__name__)


def create_app(world: SimWorld | None = None) -> FastAPI:
    world = world or SimWorld()
    app = FastAPI(title="Prakerja partner simulators", lifespan=_lifespan)
    app.state.world = world
    app.include_router(control.router)
    app.include_router(partners.router)
    app.include_router(messaging.router)
    app.add_exception_handler(PartnerUnavailable, _unavailable)
    app.add_exception_handler(FaultTimeout, _timeout)
    app.add_exception_handler(FaultAfterCommit, _failed_after_commit)
    app.add_exception_handler(FaultDuplicateKey, _duplicate_key)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    world: SimWorld = app.state.world
    async with httpx.AsyncClient(timeout=10.0) as client:
        # A world built with its own sender (a test's recorder) keeps it.
        installed = world.callback_sender is None
        if installed:
            world.callback_sender = _http_sender(client)
        try:
            yield
        finally:
            world.payments.cancel()
            if installed:
                world.callback_sender = None


def _http_sender(client: httpx.AsyncClient) -> CallbackSender:
    async def send(url: str, headers: dict[str, str], body: bytes) -> None:
        response = await client.post(url, content=body, headers=headers)
        response.raise_for_status()

    return send


def _problem(status: int, title: str, code: str) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": title, "code": code}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return _problem(503, "Partner unavailable (simulated)", "PARTNER_UNAVAILABLE")


async def _timeout(request: Request, exc: Exception) -> JSONResponse:
    # The work is done; holding the answer back makes the caller's own timeout fire first.
    assert isinstance(exc, FaultTimeout)
    await asyncio.sleep(exc.ms / 1000)
    return _problem(504, "Partner timed out (simulated)", "PARTNER_TIMEOUT")


async def _failed_after_commit(request: Request, exc: Exception) -> JSONResponse:
    return _problem(500, "Internal error (simulated, after the disbursement was recorded)", "INTERNAL_ERROR")


async def _duplicate_key(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FaultDuplicateKey)
    return _problem(409, "Idempotency key already received (simulated)", exc.code)
