"""Development data, created idempotently through the public API (partners, a course) and the simulators."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

DEV_PARTNERS = (
    ("DEV-MARKET", "marketplace", "Dev Marketplace"),
    ("DEV-PROVIDER", "training_provider", "Dev Training Provider"),
    ("DEV-EWALLET", "payment", "Dev E-Wallet"),
    ("DEV-REGISTRY", "civil_registry", "Dev Civil Registry"),
)
DEV_COURSE = {
    "course_id": "DEV-COURSE-1",
    "title": "Digital marketing for small businesses",
    "provider_client_code": "DEV-PROVIDER",
    "price": 500_000,
}
Credentials = dict[str, dict[str, str]]  # client_code -> {kind, sign_key}

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never send 127.0.0.1 via a proxy


def request(method: str, url: str, body: object = None, token: str | None = None) -> tuple[int, object]:
    """(status, parsed JSON or text); HTTP error statuses are returned, connection errors raise OSError."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return resp.status, _parse(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, _parse(err.read())


def _parse(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def http_status(url: str) -> int | None:
    try:
        return request("GET", url)[0]
    except OSError:
        return None


def load_credentials(path: Path) -> Credentials:
    return json.loads(path.read_text()) if path.exists() else {}


def save_credentials(creds: Credentials, path: Path) -> None:
    """Sign keys are secrets even in development: owner-only file, replaced atomically."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def warn(message: str) -> None:
    print(f"  ! {message}", flush=True)


class Seeder:
    def __init__(self, api_url: str, sim_url: str, admin_token: str, credentials_file: Path) -> None:
        self.api_url, self.sim_url = api_url.rstrip("/"), sim_url.rstrip("/")
        self.token, self.path = admin_token, credentials_file

    def run(self) -> Credentials:
        creds = load_credentials(self.path)
        for code, kind, name in DEV_PARTNERS:
            self.ensure_partner(creds, code, kind, name)
        self.ensure_course()
        for code, entry in creds.items():
            if entry.get("kind") == "payment":
                self.tell_simulators(code, entry["sign_key"])
            elif entry.get("kind") == "civil_registry":
                self.tell_registry(code, entry["sign_key"])
        return creds

    def ensure_partner(self, creds: Credentials, code: str, kind: str, name: str) -> None:
        """Create a partner once; its sign key is shown only at creation, so the credentials file keeps it."""
        partner = {"client_code": code, "kind": kind, "name": name}
        status, reply = self.admin_post("/v1/admin/partners", partner)
        if status == 201 and isinstance(reply, dict) and "sign_key" in reply:
            creds[code] = {"kind": kind, "sign_key": reply["sign_key"]}
            save_credentials(creds, self.path)
        elif status == 409 and code not in creds:
            warn(f"partner {code} exists but its sign key is lost from {self.path} (reset: make clean)")
        elif status in (404, 405):
            warn(f"POST /v1/admin/partners answered {status} (not implemented yet): skipped {code}")
        elif status != 409:
            warn(f"creating partner {code} failed: {status} {reply}")

    def ensure_course(self) -> None:
        status, reply = self.admin_post("/v1/admin/courses", DEV_COURSE)
        course = DEV_COURSE["course_id"]
        if status in (404, 405):
            warn(f"POST /v1/admin/courses answered {status} (not implemented yet): skipped {course}")
        elif status not in (201, 409):
            warn(f"creating course {course} failed: {status} {reply}")

    def tell_simulators(self, code: str, sign_key: str) -> None:
        """The simulators keep state in memory: they learn each payment partner's key on every start."""
        body = {"client_code": code, "sign_key": sign_key, "mode": "sync"}
        status, reply = request("POST", f"{self.sim_url}/sim/payment-partners", body)
        if status >= 300:
            warn(f"POST /sim/payment-partners for {code} answered {status}: {reply}")

    def tell_registry(self, code: str, sign_key: str) -> None:
        """The simulated civil registry signs its life events (`POST /sim/registry-events`) and sends them here."""
        body = {"client_code": code, "sign_key": sign_key, "api_url": self.api_url}
        status, reply = request("POST", f"{self.sim_url}/sim/registry-partners", body)
        if status >= 300:
            warn(f"POST /sim/registry-partners for {code} answered {status}: {reply}")

    def admin_post(self, path: str, body: object) -> tuple[int, object]:
        return request("POST", f"{self.api_url}{path}", body, self.token)
