"""Rate limits: 429 RATE_LIMITED with Retry-After once a caller has spent its budget (settings `rate_*`).

Anonymous endpoints are limited per client address by `RateLimitMiddleware`, before the body is read or any
database is touched; they are found by path prefix, so public routes count as soon as they exist. Signed partners
are limited per client code and staff per token, once the credential has verified (`enforce`, from api/auth.py):
counting a claimed identity would let anyone spend a partner's budget by naming it.
"""

import ipaddress
import math
from enum import StrEnum

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.context import AppContext
from api.errors import ProblemError, problem_response
from core.problems import ProblemCode
from core.security import keyed_hash
from core.settings import Settings


class Caller(StrEnum):
    REGISTRATION = "registration"
    PUBLIC = "public"
    PARTNER = "partner"
    STAFF = "staff"


# Anonymous endpoints: a path equal to a prefix or below it.
ANONYMOUS_PREFIXES: tuple[tuple[str, Caller], ...] = (
    ("/v1/registrations", Caller.REGISTRATION),
    ("/v1/public", Caller.PUBLIC),
    ("/v1/catalog", Caller.PUBLIC),
    ("/transparency", Caller.PUBLIC),
)


def anonymous_caller(path: str) -> Caller | None:
    for prefix, caller in ANONYMOUS_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return caller
    return None


def budget(settings: Settings, caller: Caller) -> tuple[float, float] | None:
    """(requests, per seconds) for `caller`, None when that limit is off (0)."""
    limit, period_s = {
        Caller.REGISTRATION: (settings.rate_registrations_per_min, 60.0),
        Caller.PUBLIC: (settings.rate_public_per_s, 1.0),
        Caller.PARTNER: (settings.rate_partner_per_s, 1.0),
        Caller.STAFF: (settings.rate_staff_per_s, 1.0),
    }[caller]
    return (limit, period_s) if limit > 0 else None


def client_address(scope: Scope, trusted_header: str | None) -> str:
    """The caller's address: the trusted proxy header's last entry (the one the proxy added) when configured,
    else the socket peer. IPv6 counts per /64, the block one subscriber typically holds."""
    if trusted_header and (value := Headers(scope=scope).get(trusted_header)):
        if found := _network(value.rsplit(",", 1)[-1].strip()):
            return found
    client = scope.get("client")
    return (_network(client[0]) or client[0]) if client else "unknown"


def _network(address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(getattr(ip, "ipv4_mapped", None) or ip)


async def hit(ctx: AppContext, caller: Caller, identity: str) -> float:
    """Count one request of `identity`; 0 if admitted, else the seconds until it would be."""
    limits = budget(ctx.settings, caller)
    if limits is None:
        return 0.0
    # A keyed hash: the store never holds an address or a token in clear.
    key = f"prakerja:rl:{caller}:{keyed_hash(ctx.settings.secret_key, 'rate-limit', identity)[:32]}"
    return await ctx.rates.hit(key, *limits)


def rate_limited(wait_s: float) -> ProblemError:
    retry_after = max(1, math.ceil(wait_s))
    return ProblemError(
        429,
        ProblemCode.RATE_LIMITED,
        f"Too many requests; retry in {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
    )


async def enforce(request: Request, caller: Caller, identity: str) -> None:
    """Refuse with 429 once `identity` (a verified client code or staff token) has spent its budget."""
    ctx: AppContext = request.app.state.ctx
    if (wait := await hit(ctx, caller, identity)) > 0:
        # Not audited: a runaway caller must not turn each refusal into a database write (metrics count it).
        request.state.audit_actor = None
        raise rate_limited(wait)


class RateLimitMiddleware:
    """Per-address limits of the anonymous endpoints, answered before the request reaches anything costly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: AppContext | None = getattr(scope["app"].state, "ctx", None) if "app" in scope else None
        if scope["type"] == "http" and ctx is not None and (caller := anonymous_caller(scope["path"])):
            wait = await hit(ctx, caller, client_address(scope, ctx.settings.client_ip_header))
            if wait > 0:
                await problem_response(rate_limited(wait))(scope, receive, send)
                return
        await self.app(scope, receive, send)
