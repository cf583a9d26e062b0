"""Rows for the API benchmark: completed journeys as the journey benchmark leaves them (a purchase completed and
reviewed, 7 payments PAID, 3 surveys answered), and the marketplaces that sold their trainings, with sign keys."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.domain import JourneyStatus, PaymentKind, PaymentStatus, PurchaseStatus
from core.payments import payment_id_for
from core.security import seal, token_hash
from db.models import Beneficiary, Partner, Payment, Purchase, SurveyResponse

MARKETPLACES = 8  # partners are rate-limited per client code (100/s by default): the load is spread over several


@dataclass(frozen=True)
class Seeded:
    tokens: list[str]  # beneficiary bearer tokens
    purchases: list[tuple[str, str]]  # (purchase_ref, selling marketplace)
    sign_keys: dict[str, str]  # marketplace client code -> sign key


async def seed(sessions: async_sessionmaker[AsyncSession], secret_key: str, journeys: int) -> Seeded:
    keys = {f"MKT-B{i}": secrets.token_urlsafe(32) for i in range(MARKETPLACES)}
    tokens, purchases = [], []
    async with sessions.begin() as session:
        for code, key in keys.items():
            session.add(Partner(client_code=code, kind="marketplace", name=code, sign_key_sealed=seal(secret_key, key)))
        for i in range(journeys):
            token, marketplace = secrets.token_urlsafe(24), f"MKT-B{i % MARKETPLACES}"
            rid = "REG-" + uuid.uuid4().hex[:16].upper()
            session.add_all(completed_journey(rid, token, marketplace, i))
            tokens.append(token)
            purchases.append((f"P-{rid}", marketplace))
    return Seeded(tokens, purchases, keys)


def completed_journey(rid: str, token: str, marketplace: str, i: int) -> list[object]:
    now = datetime.now(UTC)
    windows = [
        {"survey_no": n, "opens_at": (now - timedelta(days=100 - 30 * n)).isoformat(), "closes_at": now.isoformat()}
        for n in (1, 2, 3)
    ]
    rows: list[object] = [
        Beneficiary(
            registration_id=rid,
            nik_hash=uuid.uuid4().hex,
            kk_hash=uuid.uuid4().hex,
            token_hash=token_hash(token),
            status=JourneyStatus.COMPLETED,
            province="Jawa Barat",
            profile="prakerja-2020",
            wave_id="WAVE-BENCH",
            prakerja_number=f"{i:016d}",
            balance=3_150_000,
            payment_partner="EWALLET",
            payment_account=f"08{i:010d}",
            detail={"surveys": windows},
        ),
        Purchase(
            purchase_ref=f"P-{rid}",
            registration_id=rid,
            marketplace_client_code=marketplace,
            provider_client_code="PRV-A",
            course_id="C-1",
            price=400_000,
            status=PurchaseStatus.COMPLETED,
            certificate_number=f"C-{rid}",
            completed_at=now - timedelta(days=95),
            review_rating=5,
        ),
    ]
    plan = [(PaymentKind.INCENTIVE, n, 600_000) for n in (1, 2, 3, 4)] + [
        (PaymentKind.SURVEY, n, 50_000) for n in (1, 2, 3)
    ]
    for kind, n, amount in plan:
        rows.append(
            Payment(
                payment_id=payment_id_for(rid, kind, n),
                registration_id=rid,
                kind=kind,
                number=n,
                amount=amount,
                status=PaymentStatus.PAID,
                partner_client_code="EWALLET",
                account_number=f"08{i:010d}",
                attempts=1,
                paid_at=now,
            )
        )
    rows += [SurveyResponse(registration_id=rid, survey_no=n, answers={"q1": "ok"}) for n in (1, 2, 3)]
    return rows
