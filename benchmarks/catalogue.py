"""Benchmark: the public catalogue's queries over 100,000 courses and 1,000,000 reviews.

    .venv/bin/python -m benchmarks.catalogue                 # fresh SQLite file
    .venv/bin/python -m benchmarks.catalogue --postgres      # also PostgreSQL (TEST_POSTGRES_URL, own database)

Seeds straight into a freshly migrated database (90 % of the courses approved, 1 review in 10 purchases' worth
of text), counts each course's rating once from its reviews (seeding only: the API adds them one by one), then
runs each catalogue query `--runs` times through services/catalogue.py, as the routes do, and prints p50/p99 in
milliseconds. No Temporal needed.
"""

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.databases import add_postgres_option, postgres_bench_url, postgres_server
from db.migrate import upgrade
from db.models import Course, Partner
from db.session import make_engine, make_sessionmaker
from services import catalogue
from services.catalogue import CatalogueQuery, Sort

BENCH_DATABASE = "prakerja_catalogue_bench"
TOPICS = ["excel", "akuntansi", "desain grafis", "barista", "menjahit", "pemasaran digital", "bahasa inggris",
          "python", "fotografi", "tata boga", "otomotif", "listrik", "kecantikan", "public speaking"]  # fmt: skip
LEVELS = ["dasar", "menengah", "lanjutan", "praktis", "kilat", "bersertifikat"]
CATEGORIES = ["OFFICE", "FINANCE", "DESIGN", "F&B", "CRAFT", "MARKETING", "LANGUAGE", "IT", "ARTS", "TRADE"]
PROVINCES = ["DKI Jakarta", "Jawa Barat", "Jawa Tengah", "Jawa Timur", "Bali", "Sumatera Utara", "Sulawesi Selatan",
             "Kalimantan Timur", "Papua", "Aceh"]  # fmt: skip
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def course_rows(n: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        topic, level = rng.choice(TOPICS), rng.choice(LEVELS)
        offline = rng.random() < 0.3
        rows.append(
            {
                "course_id": f"C{i:06d}",
                "title": f"{topic.title()} {level} {i}",
                "description": f"Pelatihan {topic} tingkat {level}: teori, praktik dan proyek akhir.",
                "provider_client_code": "BENCH-PRV",
                "price": rng.randrange(50_000, 1_000_001, 5_000),
                "category": rng.choice(CATEGORIES),
                "mode": "OFFLINE" if offline else "ONLINE",
                "province": rng.choice(PROVINCES) if offline else None,
                "duration_hours": rng.randrange(4, 40),
                "marketplace_client_code": "BENCH-MKT",
                "status": "PENDING" if i % 10 == 9 else "APPROVED",
                "listed_at": NOW - timedelta(minutes=i),
                "created_at": NOW - timedelta(minutes=i),
            }
        )
    return rows


REVIEWS_SQLITE = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :reviews - 1)
INSERT INTO purchases (purchase_ref, registration_id, marketplace_client_code, provider_client_code, course_id,
                       price, status, review_rating, review_text, reviewed_at, created_at)
SELECT printf('R%07d', i), printf('REG-%07d', i), 'BENCH-MKT', 'BENCH-PRV', printf('C%06d', (i * 7) % :courses),
       100000, 'COMPLETED', 1 + (i * 31) % 5, 'Materinya jelas dan praktis', datetime(:now, printf('-%d seconds', i)),
       :now
FROM n"""
REVIEWS_POSTGRES = """
INSERT INTO purchases (purchase_ref, registration_id, marketplace_client_code, provider_client_code, course_id,
                       price, status, review_rating, review_text, reviewed_at, created_at)
SELECT 'R' || lpad(i::text, 7, '0'), 'REG-' || lpad(i::text, 7, '0'), 'BENCH-MKT', 'BENCH-PRV',
       'C' || lpad(((i * 7) % :courses)::text, 6, '0'), 100000, 'COMPLETED', 1 + (i * 31) % 5,
       'Materinya jelas dan praktis', CAST(:now AS timestamptz) - i * interval '1 second', CAST(:now AS timestamptz)
FROM generate_series(0, :reviews - 1) AS i"""
RATINGS = """
UPDATE courses SET
  rating_sum = (SELECT COALESCE(SUM(p.review_rating), 0) FROM purchases p WHERE p.course_id = courses.course_id),
  rating_count = (SELECT COUNT(*) FROM purchases p WHERE p.course_id = courses.course_id)"""
AVERAGE = "UPDATE courses SET rating_avg = CASE WHEN rating_count > 0 THEN CAST(rating_sum AS FLOAT) / rating_count ELSE 0 END"  # noqa: E501


async def seed(sessions: async_sessionmaker[AsyncSession], dialect: str, courses: int, reviews: int) -> None:
    rng = random.Random(16)
    async with sessions.begin() as s:
        s.add(Partner(client_code="BENCH-PRV", kind="training_provider", name="Bench", sign_key_sealed="-"))
    rows = course_rows(courses, rng)
    for start in range(0, len(rows), 10_000):
        async with sessions.begin() as s:
            await s.execute(insert(Course), rows[start : start + 10_000])
    now: Any = NOW if dialect == "postgresql" else NOW.strftime("%Y-%m-%d %H:%M:%S")
    sql = REVIEWS_POSTGRES if dialect == "postgresql" else REVIEWS_SQLITE
    async with sessions.begin() as s:
        await s.execute(text(sql), {"reviews": reviews, "courses": courses, "now": now})
        await s.execute(text(RATINGS))
        await s.execute(text(AVERAGE))
    async with sessions.begin() as s:
        await s.execute(text("ANALYZE"))


async def cursor_of_page(sessions: async_sessionmaker[AsyncSession], where: CatalogueQuery, page: int) -> str | None:
    cursor = None
    async with sessions() as s:
        for _ in range(page - 1):
            _, cursor = await catalogue.search_courses(s, CatalogueQuery(**{**where.__dict__, "cursor": cursor}))
    return cursor


def queries(
    sessions: async_sessionmaker[AsyncSession], courses: int, page5: str | None
) -> dict[str, Callable[[], Awaitable[Any]]]:
    def listing(**kw: Any) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            async with sessions() as s:
                return await catalogue.search_courses(s, CatalogueQuery(**kw))

        return run

    async def detail() -> Any:
        course_id = f"C{random.randrange(0, courses) // 10 * 10:06d}"  # an approved one (i % 10 != 9)
        async with sessions() as s:
            return await catalogue.approved_course(s, course_id), await catalogue.latest_reviews(s, course_id)

    return {
        "best rated (no filter)": listing(),
        "newest, 5th page (cursor)": listing(sort=Sort.NEWEST, cursor=page5),
        "cheapest, max_price 200k": listing(sort=Sort.PRICE, max_price=200_000),
        "category + province, by rating": listing(category="F&B", province="Bali"),
        "q=excel, by rating": listing(q="excel"),
        "q='desain grafis lanjutan', by price": listing(q="desain grafis lanjutan", sort=Sort.PRICE),
        "q=python + OFFLINE + max_price 300k": listing(q="python", mode="OFFLINE", max_price=300_000),
        "q=zzz (no match)": listing(q="zzzz"),
        "detail + 10 latest reviews": detail,
    }


async def measure(run: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    await run()  # warm the caches once
    took = []
    for _ in range(runs):
        began = time.perf_counter()
        await run()
        took.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(took, n=100)
    return statistics.median(took), cuts[98]


async def bench(name: str, url: str, courses: int, reviews: int, runs: int) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    began = time.perf_counter()
    await seed(sessions, engine.dialect.name, courses, reviews)
    print(f"{name}: seeded {courses:,} courses and {reviews:,} reviews in {time.perf_counter() - began:.0f} s")
    if engine.dialect.name == "postgresql":  # the search must use the GIN index, not scan
        async with sessions() as s:
            match = f"{catalogue.PG_DOCUMENT} @@ plainto_tsquery('simple', 'excel')"
            plan = (await s.execute(text(f"EXPLAIN SELECT 1 FROM courses WHERE {match}"))).scalars().all()
            print("  search plan uses:", "ix_courses_search" if any("ix_courses_search" in p for p in plan) else plan)
    page5 = await cursor_of_page(sessions, CatalogueQuery(sort=Sort.NEWEST), 5)
    for label, run in queries(sessions, courses, page5).items():
        p50, p99 = await measure(run, runs)
        print(f"  {label:38} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--courses", type=int, default=100_000)
    parser.add_argument("--reviews", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    add_postgres_option(parser)
    args = parser.parse_args()
    targets = {"sqlite": f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='catalogue-bench-')}/bench.db"}
    if postgres := postgres_server(parser, args):
        targets["postgres"] = await postgres_bench_url(postgres, BENCH_DATABASE)
    for name, url in targets.items():
        await bench(name, url, args.courses, args.reviews, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
