"""RFC 9457 problem JSON for every error the API returns, and the handlers that produce it."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

from api.middleware import HttpMiddleware, WatchedSend
from core.problems import ProblemCode
from services.errors import Refused

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_HTTP_CODES = {
    400: ProblemCode.BAD_REQUEST,
    401: ProblemCode.UNAUTHENTICATED,
    403: ProblemCode.FORBIDDEN,
    404: ProblemCode.NOT_FOUND,
    405: ProblemCode.METHOD_NOT_ALLOWED,
    406: ProblemCode.NOT_ACCEPTABLE,
    413: ProblemCode.PAYLOAD_TOO_LARGE,
    415: ProblemCode.UNSUPPORTED_MEDIA_TYPE,
    429: ProblemCode.RATE_LIMITED,
}


class Problem(BaseModel):
    """Problem details (RFC 9457); `code` is the stable machine-readable reason."""

    type: str
    title: str
    status: int
    detail: str
    code: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class ValidationProblem(Problem):
    # Absent from a 422 that is a rule's refusal rather than a malformed request (EKYC_FAILED,
    # INVALID_CHARACTERS, VERIFICATION_FAILED): those carry their own members instead.
    errors: list[FieldError] = []


class ProblemError(Refused):
    """Raise anywhere in a request to answer with a problem body (`extra` adds members, never PII)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        title: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status, code, detail, extra=extra)
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers

    @classmethod
    def of(cls, refused: Refused) -> "ProblemError":
        if isinstance(refused, ProblemError):
            return refused
        return cls(refused.status, refused.code, refused.detail, extra=refused.extra)


def problem_response(error: ProblemError, request: Request | None = None) -> JSONResponse:
    if request is not None:
        request.state.problem_code = error.code  # the audit trail records why a call was refused
    body = {
        "type": f"urn:prakerja:problem:{error.code.lower()}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        **error.extra,
    }
    return JSONResponse(body, status_code=error.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting problem bodies in OpenAPI."""
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "content": {PROBLEM_MEDIA_TYPE: {}},
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)  # a use case's refusal or a route's problem
    return problem_response(ProblemError.of(exc), request)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    # Only where and what: the input itself may be a NIK, a name or a selfie.
    fields = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]
    if any(e.get("type") == "json_invalid" for e in errors):
        error = ProblemError(
            422, ProblemCode.INVALID_JSON, "The request body is not valid JSON.", extra={"errors": fields}
        )
    else:
        error = ProblemError(422, ProblemCode.VALIDATION_ERROR, "The request is invalid.", extra={"errors": fields})
    return problem_response(error, request)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request, (headers or {}).get("Allow", ""))}
    return problem_response(ProblemError(exc.status_code, code, detail, headers=headers), request)


def _allowed_methods(request: Request, allowed: str) -> str:
    """Every method the path answers to: Starlette's 405 lists only those of the first route matching the path,
    where several routes (GET from one router, POST from another) can share it; the others are in the document."""
    methods = {m.strip() for m in allowed.split(",") if m.strip()}
    for template, operations in request.app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {m.upper() for m in operations if m.upper() in _METHODS}
    return ", ".join(sorted(methods))


def internal_error() -> JSONResponse:
    return problem_response(ProblemError(500, ProblemCode.INTERNAL_ERROR, "An unexpected error occurred."))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return internal_error()


class CatchAllMiddleware(HttpMiddleware):
    """Turns any escaped exception into a 500 problem and logs its type only.

    Starlette's own last-resort handler re-raises so the server logs the traceback; exception messages
    (database errors quote their parameters) can carry personal data, so the error stops here.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            log.error("unhandled %s on %s %s", type(exc).__name__, scope.get("method"), scope.get("path"))
            if not watched.started:
                await internal_error()(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Refused, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
    _document_validation_problems(app)


def _document_validation_problems(app: FastAPI) -> None:
    """Show FastAPI's automatic 422 responses as the problem body the handlers actually send."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()  # cached by FastAPI; edited in place
        ref = {"$ref": "#/components/schemas/ValidationProblem"}
        for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
            response = operation.get("responses", {}).get("422", {})
            if "HTTPValidationError" in str(response.get("content")):
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": ref}}
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        extra = ValidationProblem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(extra.pop("$defs", {}))
        components.setdefault("ValidationProblem", extra)
        return schema

    # FastAPI's documented way to extend the schema; its types declare `openapi` a method, not an attribute.
    app.openapi = openapi  # type: ignore[method-assign]
