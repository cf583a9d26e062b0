"""Marketplace partners: told when a card is blocked (revocation) or a purchase is voided."""

from enum import StrEnum
from typing import Protocol
from urllib.parse import quote

import httpx

from adapters._http import ensure_success, send


class NotificationKind(StrEnum):
    CARD_BLOCKED = "CARD_BLOCKED"
    PURCHASE_VOIDED = "PURCHASE_VOIDED"


class Marketplace(Protocol):
    """Both calls are idempotent at the partner: repeating one after a timeout is harmless."""

    async def card_blocked(self, marketplace_client_code: str, prakerja_number: str, reason: str) -> None: ...

    async def purchase_voided(self, marketplace_client_code: str, purchase_ref: str, reason: str) -> None: ...


class HttpMarketplace:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def card_blocked(self, marketplace_client_code: str, prakerja_number: str, reason: str) -> None:
        body = {"kind": NotificationKind.CARD_BLOCKED, "prakerja_number": prakerja_number, "reason": reason}
        await self._notify(marketplace_client_code, body)

    async def purchase_voided(self, marketplace_client_code: str, purchase_ref: str, reason: str) -> None:
        body = {"kind": NotificationKind.PURCHASE_VOIDED, "purchase_ref": purchase_ref, "reason": reason}
        await self._notify(marketplace_client_code, body)

    async def _notify(self, client_code: str, body: dict[str, str]) -> None:
        url = f"{self._base}/marketplaces/{quote(client_code, safe='')}/notifications"
        ensure_success(await send(self._http, "POST", url, json=body, system="marketplace"))
