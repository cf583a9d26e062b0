"""The civil registry's outgoing side: it tells the platform, in a signed request, that a NIK's holder died or
that the NIK was deactivated. The platform's URL and the registry's sign key are configured like a payment
partner's (`POST /sim/registry-partners`); the request goes out through the world's HTTP sender."""

import json
import time
from dataclasses import dataclass
from datetime import date

import httpx

from core.security import signed_headers

EVENTS_PATH = "/v1/registry/events"


@dataclass(frozen=True)
class RegistryPartner:
    client_code: str
    sign_key: str
    api_url: str


class RegistryEvents:
    def __init__(self) -> None:
        self.partner: RegistryPartner | None = None
        self.sent = 0

    def configure(self, client_code: str, sign_key: str, api_url: str) -> None:
        self.partner = RegistryPartner(client_code, sign_key, api_url.rstrip("/"))

    def request(self, nik: str, event: str, occurred_on: date) -> tuple[str, dict[str, str], bytes]:
        """(url, signed headers, body) of one event; the caller sends exactly these bytes."""
        if self.partner is None:
            raise LookupError("no civil registry partner configured")
        url = self.partner.api_url + EVENTS_PATH
        body = json.dumps({"nik": nik, "event": event, "occurred_on": occurred_on.isoformat()}).encode()
        path = httpx.URL(url).raw_path.decode("ascii")
        headers = signed_headers(self.partner.sign_key, self.partner.client_code, int(time.time()), "POST", path, body)
        return url, {"Content-Type": "application/json"} | headers, body
