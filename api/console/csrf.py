"""Cross-site request protection for every console form.

Signed in, a form carries HMAC(secret key, the session's token hash): a page from another site cannot know it.
Before sign-in there is no session, so the sign-in form uses a double-submit cookie instead. A browser's
Origin header, when sent, must also be the console's own origin.
"""

import hashlib
import hmac
import secrets

from fastapi import Request

from core.security import token_hash

CSRF_FIELD = "csrf"
PRESESSION_COOKIE = "prakerja_csrf"


def session_token(secret_key: str, staff_token: str) -> str:
    message = b"console-csrf:" + token_hash(staff_token).encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def new_presession_token() -> str:
    return secrets.token_urlsafe(24)


def same_origin(request: Request) -> bool:
    """True unless the browser says the form came from another origin."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.rstrip("/") == f"{request.url.scheme}://{request.url.netloc}"


def session_form_ok(request: Request, secret_key: str, staff_token: str, submitted: str | None) -> bool:
    expected = session_token(secret_key, staff_token)
    return same_origin(request) and hmac.compare_digest(expected, submitted or "")


def presession_form_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(PRESESSION_COOKIE) or ""
    return same_origin(request) and bool(cookie) and hmac.compare_digest(cookie, submitted or "")
