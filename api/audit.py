"""Append-only audit trail of partner calls and staff (and beneficiary) writes.

Auth dependencies name the actor with `set_actor`; routes add non-personal ids with `add_audit_detail`.
`AuditMiddleware` writes one row once the response status is known, in its own transaction, so a
request that fails and rolls back still leaves its audit row. The row names the registration the call
concerns (`resource`), so a journey's timeline finds its rows through an index.
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import State
from starlette.types import Message, Receive, Scope, Send

from api.metrics import route_template
from api.middleware import HttpMiddleware
from core.payments import registration_of_payment
from db.models import AuditLog

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Outcome codes a response may carry that its row keeps (an e-KYC refusal's reason, the partner an account
# was linked at), so a timeline can say why. Codes only: problem bodies and these members hold no personal data.
RESPONSE_IDS = ("partner_client_code", "reason")
MAX_CAPTURED_BODY = 8192


class ActorKind(StrEnum):
    PARTNER = "partner"
    STAFF = "staff"
    BENEFICIARY = "beneficiary"


@dataclass(frozen=True)
class AuditActor:
    kind: ActorKind
    id: str  # client_code, staff_id or registration_id: never a personal identifier


def set_actor(request: Request, kind: ActorKind, actor_id: str) -> None:
    """Name who is calling; from then on the call is audited (partners always, others on writes)."""
    request.state.audit_actor = AuditActor(kind, actor_id)


def add_audit_detail(request: Request, **ids: str | int | bool | None) -> None:
    """Attach ids (purchase_ref, payment_id, ...) to this call's audit row. Never personal data."""
    detail: dict[str, Any] = getattr(request.state, "audit_detail", None) or {}
    detail.update(ids)
    request.state.audit_detail = detail


def should_record(actor: AuditActor, method: str) -> bool:
    return actor.kind is ActorKind.PARTNER or method in WRITE_METHODS


def resource_of(actor: AuditActor, detail: dict[str, Any]) -> str | None:
    """The registration a call concerns: the beneficiary's own, a registration or payment named in the path,
    or one a route attached with `add_audit_detail(registration_id=...)`."""
    if actor.kind is ActorKind.BENEFICIARY:
        return actor.id
    if isinstance(found := detail.get("registration_id"), str):
        return found
    for key in ("payment_id", "attempt_id"):
        if isinstance(found := detail.get(key), str) and (registration_id := registration_of_payment(found)):
            return registration_id
    return None


async def record_audit(
    sessions: async_sessionmaker[AsyncSession],
    actor: AuditActor,
    action: str,
    status: int,
    detail: dict[str, Any],
    at: datetime | None = None,
) -> None:
    resource = resource_of(actor, detail)
    async with sessions.begin() as session:
        session.add(
            AuditLog(
                at=at or datetime.now(UTC),
                actor_kind=actor.kind.value,
                actor_id=actor.id[:64],
                action=action,
                status_code=status,
                detail=detail,
                resource=resource[:64] if resource else None,
            )
        )


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | None) else str(value)


def _detail(scope: Scope, state: State, body: bytes) -> dict[str, Any]:
    detail = {k: _jsonable(v) for k, v in scope.get("path_params", {}).items()}
    detail.update({k: _jsonable(v) for k, v in (getattr(state, "audit_detail", None) or {}).items()})
    if code := getattr(state, "problem_code", None):
        detail["code"] = code
    for key, value in _response_ids(body).items():
        detail.setdefault(key, value)
    return detail


def _response_ids(body: bytes) -> dict[str, str]:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: v for k in RESPONSE_IDS if isinstance(v := parsed.get(k), str) and len(v) <= 200}


def _is_json(message: Message) -> bool:
    headers = dict(message.get("headers") or [])
    return b"json" in headers.get(b"content-type", b"")


def _audited(state: State, method: str) -> AuditActor | None:
    actor: AuditActor | None = getattr(state, "audit_actor", None)
    return actor if actor is not None and should_record(actor, method) else None


class AuditMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The row is dated when the call arrived: before anything it caused (a retry's new attempt).
        started, status, json_body, body = datetime.now(UTC), 500, False, bytearray()
        # Shared with every Request built for this scope, so dependencies' state is visible here.
        state = State(scope.setdefault("state", {}))

        async def send_wrapper(message: Message) -> None:
            nonlocal status, json_body
            if message["type"] == "http.response.start":
                status = message["status"]
                # Only an audited call's (small, JSON) answer is kept, to pick out RESPONSE_IDS.
                json_body = _is_json(message) and _audited(state, scope["method"]) is not None
            elif message["type"] == "http.response.body" and json_body and len(body) <= MAX_CAPTURED_BODY:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if (actor := _audited(state, scope["method"])) is not None:
                captured = bytes(body) if len(body) <= MAX_CAPTURED_BODY else b""
                await self._write(scope, actor, status, _detail(scope, state, captured), started)

    async def _write(self, scope: Scope, actor: AuditActor, status: int, detail: dict[str, Any], at: datetime) -> None:
        action = f"{scope['method']} {route_template(scope)}"[:200]
        try:
            await record_audit(scope["app"].state.ctx.sessions, actor, action, status, detail, at)
        except Exception as exc:  # the response is already out; losing the row must at least be loud
            log.error("audit write failed for %s (%s)", action, type(exc).__name__)
