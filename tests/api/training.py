"""A training marketplace around the live app: signed partners, a catalogue, awarded cards, and what to check.

Everything goes through the API (admin registers partners and courses, the operator awards through a wave);
the ledger, audit log and the journey's `view` query are read directly, as an auditor would.
"""

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from core.contracts import JourneyState, journey_id
from db.models import AuditLog, BalanceEntry
from tests.api.helpers import bearer, register_partner, signed
from tests.api.live import Live
from workflows.journey import BeneficiaryJourney

BALANCE = 1_000_000  # prakerja-2020
PARTNERS = {
    "MKT-A": "marketplace",
    "MKT-B": "marketplace",
    "PRV-A": "training_provider",
    "PRV-B": "training_provider",
    "PAY-A": "payment",
}
NOW = "2025-03-01T10:00:00Z"
COURSES = {  # course_id: (provider, price)
    "C-400": ("PRV-A", 400_000),
    "C-100": ("PRV-A", 100_000),
    "C-600": ("PRV-B", 600_000),
    "C-2M": ("PRV-B", 2_000_000),
}


@dataclass(frozen=True)
class Card:
    registration_id: str
    token: str
    number: str
    nik: str  # only to prove it never leaks


@dataclass
class Shop:
    live: Live
    keys: dict[str, str]

    @property
    def http(self) -> httpx.AsyncClient:
        return self.live.http

    async def call(self, by: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return await signed(self.http, method, path, by, self.keys[by], body)

    async def buy(self, card: Card | str, ref: str, course: str = "C-400", by: str = "MKT-A") -> httpx.Response:
        number = card.number if isinstance(card, Card) else card
        body = {"prakerja_number": number, "course_id": course, "purchase_ref": ref}
        return await self.call(by, "POST", "/v1/partners/purchases", body)

    async def cancel(self, ref: str, by: str = "MKT-A") -> httpx.Response:
        return await self.call(by, "POST", f"/v1/partners/purchases/{ref}/cancel")

    async def complete(self, ref: str, by: str = "MKT-A", certificate: str | None = None) -> httpx.Response:
        body = {"purchase_ref": ref, "certificate_number": certificate or f"CERT-{ref}", "completed_at": NOW}
        return await self.call(by, "POST", "/v1/partners/completions", body)

    async def review(self, card: Card, ref: str, body: Any) -> httpx.Response:
        return await self.http.post(f"/v1/me/trainings/{ref}/review", json=body, headers=bearer(card.token))

    async def me(self, card: Card) -> dict[str, Any]:
        resp = await self.http.get("/v1/me", headers=bearer(card.token))
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def view(self, card: Card) -> JourneyState:
        """The journey's own `view` query: the workflow's state, not the projection."""
        handle = self.live.temporal.get_workflow_handle(journey_id(card.registration_id))
        return await handle.query(BeneficiaryJourney.view)

    async def ledger(self, card: Card) -> list[tuple[str, int, str]]:
        async with self.live.sessions() as s:
            rows = await s.scalars(
                select(BalanceEntry)
                .where(BalanceEntry.registration_id == card.registration_id)
                .order_by(BalanceEntry.id)
            )
            return [(r.kind, r.amount, r.reference) for r in rows]

    async def audit(self) -> list[AuditLog]:
        async with self.live.sessions() as s:
            return list(await s.scalars(select(AuditLog).where(AuditLog.actor_kind == "partner").order_by(AuditLog.id)))

    async def awarded(self, n: int = 1) -> list[Card]:
        """`n` registrations that pass every check and all win one wave (quota n)."""
        people = [self.live.citizen() for _ in range(n)]
        tokens = [(await self.live.register(person))["beneficiary_token"] for person in people]
        for token in tokens:
            await self.live.wait_me(token, "WAITING_FOR_WAVE")
        operator = await self.live.staff("operator")
        wave = await self.http.post("/v1/waves", json={"name": "Gelombang", "quota": n}, headers=operator)
        assert wave.status_code == 201, wave.text
        drawn = await self.http.post(f"/v1/waves/{wave.json()['wave_id']}/draw", json={}, headers=operator)
        assert drawn.status_code == 202, drawn.text
        await self.live.wait_wave(wave.json()["wave_id"], "DRAWN")  # so the next wave may open
        views = [await self.live.wait_me(token, "AWARDED", timeout=10) for token in tokens]
        return [
            Card(v["registration_id"], t, v["prakerja_number"], p.nik)
            for v, t, p in zip(views, tokens, people, strict=True)
        ]

    async def revoke(self, card: Card, reason: str = "fraud report #7") -> None:
        path = f"/v1/beneficiaries/{card.registration_id}/revoke"
        resp = await self.http.post(path, json={"reason": reason}, headers=await self.live.staff("operator"))
        assert resp.status_code == 200, resp.text
        await self.live.wait_me(card.token, "REVOKED")


async def open_shop(live: Live) -> Shop:
    """Register the partners and the catalogue through the admin API (sign keys are returned only then)."""
    keys = {code: await register_partner(live.http, live.settings, code, kind) for code, kind in PARTNERS.items()}
    for course_id, (provider, price) in COURSES.items():
        body = {
            "course_id": course_id,
            "title": f"Kursus {course_id}",
            "provider_client_code": provider,
            "price": price,
        }
        resp = await live.http.post("/v1/admin/courses", json=body, headers=bearer(live.settings.admin_token))
        assert resp.status_code == 201, resp.text
    return Shop(live, keys)


def statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


def kinds(ledger: list[tuple[str, int, str]], kind: str) -> list[str]:
    """The references of the ledger rows of one kind, in order."""
    return [ref for k, _, ref in ledger if k == kind]


def purchases(me: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """The journey view's purchases as {purchase_ref: (status, reviewed)}."""
    return {p["purchase_ref"]: (p["status"], p["reviewed"]) for p in me["purchases"]}
