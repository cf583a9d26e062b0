"""Append-only audit trail of partner calls and staff (and beneficiary) writes.

Auth dependencies name the actor with `set_actor`; routes add non-personal ids with `add_audit_detail`.
`AuditMiddleware` writes one row once the response status is known, in its own transaction, so a
request that fails and rolls back still leaves its audit row.
"""

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import route_template
from db.models import AuditLog

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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


async def record_audit(
    sessions: async_sessionmaker[AsyncSession],
    actor: AuditActor,
    action: str,
    status: int,
    detail: dict[str, Any],
) -> None:
    async with sessions.begin() as session:
        session.add(
            AuditLog(
                actor_kind=actor.kind.value,
                actor_id=actor.id[:64],
                action=action,
                status_code=status,
                detail=detail,
            )
        )


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | None) else str(value)


def _detail(scope: Scope, state: State) -> dict[str, Any]:
    detail = {k: _jsonable(v) for k, v in scope.get("path_params", {}).items()}
    detail.update({k: _jsonable(v) for k, v in (getattr(state, "audit_detail", None) or {}).items()})
    if code := getattr(state, "problem_code", None):
        detail["code"] = code
    return detail


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        # Shared with every Request built for this scope, so dependencies' state is visible here.
        state = State(scope.setdefault("state", {}))

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            actor: AuditActor | None = getattr(state, "audit_actor", None)
            if actor is not None and should_record(actor, scope["method"]):
                await self._write(scope, actor, status, _detail(scope, state))

    async def _write(self, scope: Scope, actor: AuditActor, status: int, detail: dict[str, Any]) -> None:
        action = f"{scope['method']} {route_template(scope)}"[:200]
        try:
            await record_audit(scope["app"].state.ctx.sessions, actor, action, status, detail)
        except Exception as exc:  # the response is already out; losing the row must at least be loud
            log.error("audit write failed for %s (%s)", action, type(exc).__name__)
