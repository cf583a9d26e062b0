"""Partner calls counted by system and outcome, timed, at the transport: adapters only name their system.

The composition root (worker main, API lifespan) wraps its httpx transport in `MeteredTransport` with a
recorder for its own metrics (Prometheus in the API, the Temporal runtime's meter in the worker). Labels are
the system's name and an outcome class: never a URL, an account or anything else from the request.
"""

import time
from typing import Protocol

import httpx

SYSTEM = "prakerja.partner_system"  # request extension set by adapters._http.send
UNKNOWN_SYSTEM = "other"


class PartnerCallRecorder(Protocol):
    def record(self, system: str, outcome: str, seconds: float) -> None: ...


def outcome_of(status: int) -> str:
    """`ok` (2xx), `rejected` (4xx other than 429: a definitive answer), `error` (5xx, 429)."""
    if status < 400:
        return "ok"
    return "rejected" if status < 500 and status != 429 else "error"


class MeteredTransport(httpx.AsyncBaseTransport):
    def __init__(self, recorder: PartnerCallRecorder, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._recorder = recorder
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        system = str(request.extensions.get(SYSTEM, UNKNOWN_SYSTEM))
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TimeoutException:
            self._recorder.record(system, "timeout", time.perf_counter() - started)
            raise
        except httpx.TransportError:
            self._recorder.record(system, "unavailable", time.perf_counter() - started)
            raise
        self._recorder.record(system, outcome_of(response.status_code), time.perf_counter() - started)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
