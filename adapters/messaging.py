"""The SMS/e-mail gateway that delivers one-time codes to applicants (port + simulated + HTTP)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import httpx

from adapters._http import ensure_success, send


class MessageGateway(Protocol):
    async def send_code(self, phone: str, code: str) -> None:
        """Deliver `code` to `phone` (raises PartnerUnavailable when the gateway is down)."""
        ...


@dataclass
class SentMessage:
    to: str
    code: str
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class SimulatedMessageGateway:
    """In-process: keeps what it "sent", for tests (`last_code`)."""

    sent: list[SentMessage] = field(default_factory=list)

    async def send_code(self, phone: str, code: str) -> None:
        self.sent.append(SentMessage(phone, code))

    def last_code(self, phone: str) -> str | None:
        return next((m.code for m in reversed(self.sent) if m.to == phone), None)


class HttpMessageGateway:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http, self.base_url = http, base_url.rstrip("/")

    async def send_code(self, phone: str, code: str) -> None:
        text = f"Kode verifikasi Prakerja Anda: {code}. Jangan berikan kode ini kepada siapa pun."
        body = {"to": phone, "text": text}
        ensure_success(await send(self.http, "POST", f"{self.base_url}/messaging/sms", json=body, system="messaging"))
