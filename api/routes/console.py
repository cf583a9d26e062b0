"""Browser sign-in for staff tools: a staff token in an HttpOnly cookie (used by the codec endpoint)."""

import json
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api.audit import ActorKind, set_actor
from api.auth import STAFF_COOKIE, find_staff, unauthenticated
from api.console.csrf import same_origin
from api.deps import SessionDep, SettingsDep
from api.errors import ProblemError, problem_responses
from core.domain import Role
from core.problems import ProblemCode

router = APIRouter(prefix="/console", tags=["console"])

COOKIE_MAX_AGE_S = 8 * 3600  # one working shift
_TOKEN_SCHEMA = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string", "minLength": 1}}}
_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _TOKEN_SCHEMA},
            "application/x-www-form-urlencoded": {"schema": _TOKEN_SCHEMA},
        },
    }
}


class ConsoleSession(BaseModel):
    staff_id: str
    role: Role


async def _submitted_token(request: Request) -> str:
    # Read by hand: form parsing in FastAPI needs python-multipart, which this project does not ship.
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        token: object = (parse_qs(raw.decode("utf-8", "replace")).get("token") or [""])[0]
    else:
        try:
            data = json.loads(raw)
        except ValueError:
            raise ProblemError(422, ProblemCode.INVALID_JSON, "The request body is not valid JSON.") from None
        token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        missing = {"errors": [{"loc": ["body", "token"], "msg": "Field required"}]}
        raise ProblemError(422, ProblemCode.VALIDATION_ERROR, "The request is invalid.", extra=missing)
    return token


@router.post("/login", openapi_extra=_LOGIN_BODY, responses=problem_responses(401, 422))
async def login(request: Request, response: Response, session: SessionDep, settings: SettingsDep) -> ConsoleSession:
    """Exchange a staff token (JSON or form field `token`) for an HttpOnly `prakerja_staff` cookie."""
    if not same_origin(request):  # a page of another site must not sign a browser in (login CSRF)
        raise ProblemError(403, ProblemCode.CROSS_SITE_REQUEST, "Sign in from the console's own pages.")
    token = await _submitted_token(request)
    staff = await find_staff(session, settings, token)
    if staff is None:
        raise unauthenticated("A valid staff token is required.")
    set_actor(request, ActorKind.STAFF, staff.staff_id)
    response.set_cookie(
        STAFF_COOKIE,
        token,
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=settings.api_public_url.startswith("https://"),
    )
    return ConsoleSession(staff_id=staff.staff_id, role=staff.role)


@router.post("/logout", status_code=204)
async def logout(response: Response) -> None:
    """Forget the console cookie."""
    response.delete_cookie(STAFF_COOKIE, httponly=True, samesite="lax")
