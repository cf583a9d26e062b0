"""Body limits (413 PAYLOAD_TOO_LARGE, counted while the body streams in) and the wiring of every limit.

A declared `Content-Length` over the limit is refused before a byte is read; a body that keeps coming (chunked, or
lying about its length) is refused as soon as the bytes received pass it, so no more than the limit is ever held.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from api.auth import current_partner, current_staff, current_staff_or_cookie
from api.errors import PROBLEM_MEDIA_TYPE, Problem, ProblemError, problem_response
from api.middleware import HttpMiddleware, WatchedSend
from api.ratelimit import RateLimitMiddleware, anonymous_caller
from api.schemas import MAX_SELFIE_BYTES
from core.problems import ProblemCode

KIB = 1024
# The registration carries the selfie (base64: 4/3 of its bytes) beside a few short fields.
REGISTRATION_BODY_LIMIT = MAX_SELFIE_BYTES * 4 // 3 + 64 * KIB
# The Temporal UI sends a page's payloads to decode in one call.
CODEC_BODY_LIMIT = 4 * KIB * KIB
DEFAULT_BODY_LIMIT = 64 * KIB
# The unread rest of a refused body is not wanted: the server closes the connection after the answer.
CLOSE = {"Connection": "close"}


def body_limit(path: str) -> int:
    if path == "/v1/registrations":
        return REGISTRATION_BODY_LIMIT
    if path.startswith("/codec/"):
        return CODEC_BODY_LIMIT
    return DEFAULT_BODY_LIMIT


class BodyTooLarge(HTTPException):
    """Raised from `receive`; an HTTPException, so a route reading its body answers 413 rather than 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.", headers=CLOSE)


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = body_limit(scope["path"])
        if (declared_length(scope) or 0) > limit:
            await _refuse(limit, scope, receive, send)
            return
        received, watched = 0, WatchedSend(send)

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counting_receive, watched)
        except BodyTooLarge:  # read outside a route (a middleware): the route's handler never saw it
            if not watched.started:
                await _refuse(limit, scope, receive, send)


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    error = ProblemError(
        413, ProblemCode.PAYLOAD_TOO_LARGE, f"The request body is larger than {limit} bytes.", headers=CLOSE
    )
    await problem_response(error)(scope, receive, send)


def install_limits(app: FastAPI) -> None:
    """Add the limits just outside the NUL guard (which reads bodies whole): rate limits first, then body limits;
    the catch-all, audit and metrics middleware stay outside them and see their refusals."""
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RateLimitMiddleware)
    _document(app)


# ---- OpenAPI ----------------------------------------------------------------------------------------------

_AUTHENTICATED = {current_partner, current_staff, current_staff_or_cookie}


def _calls(dependant: Any) -> set[Any]:
    return {dependant.call} | {call for sub in dependant.dependencies for call in _calls(sub)}


def rate_limited_route(path: str, route: APIRoute) -> bool:
    return anonymous_caller(path) is not None or bool(_calls(route.dependant) & _AUTHENTICATED)


def _problem(description: str) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": ref}}}


def _document(app: FastAPI) -> None:
    """400 and 413 on every operation with a body, 429 (with Retry-After) on every rate-limited one."""
    generate = app.openapi
    retry_after = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()  # cached by FastAPI; edited in place
        for context in iter_route_contexts(app.routes):
            route, path = context.original_route, context.path_format or ""
            if not isinstance(route, APIRoute):
                continue
            for method in route.methods or ():
                operation = schema.get("paths", {}).get(path, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                if "requestBody" in operation:
                    limit = body_limit(path)
                    # Starlette answers a body it cannot decode (not UTF-8, say) before any route runs.
                    responses.setdefault("400", _problem("BAD_REQUEST: the body could not be parsed"))
                    responses.setdefault("413", _problem(f"PAYLOAD_TOO_LARGE: body over {limit} bytes"))
                if rate_limited_route(path, route):
                    responses.setdefault("429", _problem("RATE_LIMITED: retry after Retry-After seconds"))
                    responses["429"]["headers"] = retry_after
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("Problem", Problem.model_json_schema())
        return schema

    # FastAPI's documented way to extend the schema; its types declare `openapi` a method, not an attribute.
    app.openapi = openapi  # type: ignore[method-assign]
