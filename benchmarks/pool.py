"""A draw-sized pool seeded straight into the database (no journeys): shared by the scale test and benchmark."""

import hashlib
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.domain import JourneyStatus, WaveStatus
from db.models import Beneficiary
from tests.api.ledger import wave

PROVINCES = ("Aceh", "Bali", "Jawa Barat", "Jawa Timur", "Sulawesi Selatan")
PROVINCE_QUOTAS = {"Aceh": 200, "Bali": 500}
INSERT_BATCH = 2_000


def _digest(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def pool_rows(size: int, tag: str) -> list[dict[str, object]]:
    """`size` eligible applicants waiting for a wave, spread evenly over PROVINCES."""
    now = datetime.now(UTC)
    return [
        {
            "registration_id": f"REG-{tag}-{i:07d}",
            "nik_hash": _digest("nik", tag, i),
            "kk_hash": _digest("kk", tag, i),
            "token_hash": _digest("token", tag, i),
            "status": JourneyStatus.WAITING_FOR_WAVE.value,
            "reasons": [],
            "province": PROVINCES[i % len(PROVINCES)],
            "profile": "prakerja-2020",
            "in_pool": True,
            "detail": {},
            "created_at": now,
            "updated_at": now,
        }
        for i in range(size)
    ]


async def seed_pool(sessions: async_sessionmaker[AsyncSession], size: int, tag: str) -> None:
    rows = pool_rows(size, tag)
    async with sessions.begin() as session:
        for start in range(0, len(rows), INSERT_BATCH):
            await session.execute(insert(Beneficiary), rows[start : start + INSERT_BATCH])


async def seed_drawing_wave(
    sessions: async_sessionmaker[AsyncSession],
    wave_id: str,
    quota: int,
    seed: str,
    province_quotas: dict[str, int] | None = None,
) -> None:
    """A wave as `POST /v1/waves/{id}/draw` leaves it: closed (DRAWING) with its seed recorded."""
    row = wave(wave_id, status=WaveStatus.DRAWING, quota=quota, province_quotas=province_quotas, seed=seed)
    async with sessions.begin() as session:
        session.add(row)
