"""The public catalogue (`GET /v1/catalog/courses`), on each backend: only approved courses, full-text search,
filters, the three sorts and their cursors, the detail with reviews and no names; operators' withdrawal."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Course, CourseAssessment, Partner, Purchase
from services import catalogue
from tests.api.helpers import assert_problem, bearer, staff_token

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# course_id: (title, description, price, category, mode, province, status, (rating sum, count), listed day)
COURSES: dict[str, tuple[Any, ...]] = {
    "EXCEL-1": (
        "Dasar Excel",
        "Rumus, tabel pivot dan grafik",
        300_000,
        "OFFICE",
        "ONLINE",
        None,
        "APPROVED",
        (9, 2),
        1,
    ),
    "EXCEL-2": ("Excel Lanjutan", "Makro dan Power Query", 500_000, "OFFICE", "ONLINE", None, "APPROVED", (5, 1), 2),
    "BARISTA": ("Barista Pemula", "Espresso, latte art", 750_000, "F&B", "OFFLINE", "Bali", "APPROVED", (12, 3), 3),
    "JAHIT": (
        "Menjahit Baju",
        "Pola dan mesin jahit",
        400_000,
        "CRAFT",
        "OFFLINE",
        "Jawa Barat",
        "APPROVED",
        (0, 0),
        4,
    ),
    "MARKETING": (
        "Pemasaran Digital",
        "Iklan media sosial dan Excel",
        450_000,
        "BIZ",
        "ONLINE",
        None,
        "APPROVED",
        (8, 2),
        5,
    ),
    "DRAFT": ("Excel Rahasia", "Belum dinilai", 100_000, "OFFICE", "ONLINE", None, "PENDING", (0, 0), None),
    "GONE": ("Excel Lama", "Ditarik", 100_000, "OFFICE", "ONLINE", None, "WITHDRAWN", (10, 2), 6),
}
PATH = "/v1/catalog/courses"


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as s:
        s.add(Partner(client_code="PRV", kind="training_provider", name="Provider", sign_key_sealed="-"))
    async with sessions.begin() as s:
        for course_id, (title, text, price, category, mode, province, status, (total, n), day) in COURSES.items():
            s.add(
                Course(
                    course_id=course_id,
                    title=title,
                    description=text,
                    provider_client_code="PRV",
                    price=price,
                    category=category,
                    mode=mode,
                    province=province,
                    status=status,
                    listed_at=None if day is None else T0 + timedelta(days=day),
                    rating_sum=total,
                    rating_count=n,
                    rating_avg=total / n if n else 0.0,
                )
            )


async def ids(client, **params: Any) -> list[str]:
    resp = await client.get(PATH, params=params)
    assert resp.status_code == 200, resp.text
    return [item["course_id"] for item in resp.json()["items"]]


async def walk(client, **params: Any) -> list[list[str]]:
    """Every page, following next_cursor."""
    pages, cursor = [], None
    while True:
        resp = await client.get(PATH, params={**params, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200, resp.text
        pages.append([item["course_id"] for item in resp.json()["items"]])
        if not (cursor := resp.json()["next_cursor"]):
            return pages


async def test_only_approved_courses_are_listed_best_rated_first(client, seeded):
    resp = await client.get(PATH)

    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert [i["course_id"] for i in items] == [
        "EXCEL-2",
        "EXCEL-1",
        "MARKETING",
        "BARISTA",
        "JAHIT",
    ]  # ties: course_id descending
    assert items[1] == {
        "course_id": "EXCEL-1",
        "title": "Dasar Excel",
        "provider_client_code": "PRV",
        "price": 300_000,
        "category": "OFFICE",
        "mode": "ONLINE",
        "province": None,
        "rating_avg": 4.5,
        "rating_count": 2,
    }
    assert items[-1]["rating_avg"] is None and items[-1]["rating_count"] == 0
    assert resp.json()["next_cursor"] is None


async def test_search_matches_every_word_in_title_or_description(client, seeded):
    assert sorted(await ids(client, q="excel")) == ["EXCEL-1", "EXCEL-2", "MARKETING"]
    assert await ids(client, q="EXCEL pivot") == ["EXCEL-1"]
    assert await ids(client, q="latte") == ["BARISTA"]
    assert await ids(client, q="sepeda") == []
    # Query syntax of either backend is only words here: quotes, operators and stars change nothing.
    assert await ids(client, q='"excel": (pivot* -') == ["EXCEL-1"]
    assert len(await ids(client, q="  !!! ")) == 5  # no words: no search


async def test_filters_combine(client, seeded):
    assert await ids(client, category="OFFICE", sort="price") == ["EXCEL-1", "EXCEL-2"]
    assert await ids(client, mode="OFFLINE", sort="price") == ["JAHIT", "BARISTA"]
    assert await ids(client, province="Bali") == ["BARISTA"]
    assert await ids(client, max_price=450_000, sort="price") == ["EXCEL-1", "JAHIT", "MARKETING"]
    assert await ids(client, q="excel", mode="ONLINE", max_price=450_000, sort="price") == ["EXCEL-1", "MARKETING"]


async def test_sorts_page_through_every_course_once(client, seeded):
    assert await walk(client, sort="price", limit=2) == [["EXCEL-1", "JAHIT"], ["MARKETING", "EXCEL-2"], ["BARISTA"]]
    assert await walk(client, sort="newest", limit=2) == [["MARKETING", "JAHIT"], ["BARISTA", "EXCEL-2"], ["EXCEL-1"]]
    assert await walk(client, sort="rating", limit=3) == [["EXCEL-2", "EXCEL-1", "MARKETING"], ["BARISTA", "JAHIT"]]
    assert await walk(client, q="excel", sort="price", limit=1) == [["EXCEL-1"], ["MARKETING"], ["EXCEL-2"]]


async def test_bad_queries_are_422_problems(client, seeded):
    first = (await client.get(PATH, params={"sort": "price", "limit": 1})).json()["next_cursor"]
    assert_problem(await client.get(PATH, params={"sort": "rating", "cursor": first}), 422, "INVALID_CURSOR")
    assert_problem(await client.get(PATH, params={"cursor": "not-a-cursor"}), 422, "INVALID_CURSOR")
    assert_problem(await client.get(PATH, params={"sort": "cheapest"}), 422, "VALIDATION_ERROR")
    assert_problem(await client.get(PATH, params={"limit": 0}), 422, "VALIDATION_ERROR")
    assert_problem(await client.get(PATH, params={"max_price": "lots"}), 422, "VALIDATION_ERROR")


async def test_detail_shows_the_latest_reviews_without_names(client, seeded, sessions):
    async with sessions.begin() as s:
        for n, (rating, text) in enumerate([(5, "Sangat jelas"), (4, "Bagus"), (3, "")]):
            purchase = Purchase(
                purchase_ref=f"P-{n}",
                registration_id=f"REG-{n}",
                marketplace_client_code="MKT",
                provider_client_code="PRV",
                course_id="BARISTA",
                price=750_000,
                status="COMPLETED",
            )
            s.add(purchase)
            await s.flush()
            await catalogue.record_review(s, purchase, rating, text, T0 + timedelta(hours=n))

    resp = await client.get(f"{PATH}/BARISTA")
    hidden = await client.get(f"{PATH}/DRAFT")

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["rating_count"], body["rating_avg"]) == (6, 4.0)  # (12 + 5 + 4 + 3) / (3 + 3)
    assert [(r["rating"], r["text"]) for r in body["reviews"]] == [(3, ""), (4, "Bagus"), (5, "Sangat jelas")]
    assert all(set(r) == {"rating", "text", "at"} for r in body["reviews"])
    assert "REG-" not in resp.text
    assert_problem(hidden, 404, "COURSE_NOT_FOUND")


async def test_a_replaced_review_moves_the_rating_by_the_difference(sessions, seeded):
    async with sessions.begin() as s:
        purchase = Purchase(
            purchase_ref="P-1",
            registration_id="REG-1",
            marketplace_client_code="MKT",
            provider_client_code="PRV",
            course_id="JAHIT",
            price=400_000,
            status="COMPLETED",
        )
        s.add(purchase)
        await s.flush()
        await catalogue.record_review(s, purchase, 2, "kurang", T0)
    async with sessions.begin() as s:
        again = await s.get(Purchase, "P-1")
        await catalogue.record_review(s, again, 4, "ternyata bagus", T0 + timedelta(days=1))
    async with sessions() as s:
        course = await s.get(Course, "JAHIT")
        assert (course.rating_sum, course.rating_count, course.rating_avg) == (4, 1, 4.0)


async def test_operators_withdraw_approved_courses(client, settings, seeded):
    operator = bearer(await staff_token(client, settings, "operator"))
    support = bearer(await staff_token(client, settings, "support"))

    refused = await client.post("/v1/assessments/EXCEL-1/withdraw", headers=support)
    done = await client.post("/v1/assessments/EXCEL-1/withdraw", headers=operator)
    again = await client.post("/v1/assessments/EXCEL-1/withdraw", headers=operator)
    unknown = await client.post("/v1/assessments/NOPE/withdraw", headers=operator)

    assert_problem(refused, 403, "FORBIDDEN_ROLE")
    assert done.status_code == 200 and done.json() == {"course_id": "EXCEL-1", "status": "WITHDRAWN"}
    assert_problem(again, 409, "COURSE_NOT_APPROVED")
    assert_problem(unknown, 404, "COURSE_NOT_FOUND")
    assert "EXCEL-1" not in await ids(client)
    assert_problem(await client.get(f"{PATH}/EXCEL-1"), 404, "COURSE_NOT_FOUND")


async def test_only_operators_see_the_assessment_queue(client, settings, seeded):
    support = bearer(await staff_token(client, settings, "support"))
    operator = bearer(await staff_token(client, settings, "operator"))

    assert_problem(await client.get("/v1/assessments", headers=support), 403, "FORBIDDEN_ROLE")
    assert_problem(await client.get("/v1/assessments"), 401, "UNAUTHENTICATED")
    resp = await client.get("/v1/assessments", params={"status": "PENDING"}, headers=operator)
    assert resp.status_code == 200 and resp.json() == {"items": [], "next_cursor": None}
    down = await client.post("/v1/assessments/DRAFT/decision", json={"decision": "APPROVED"}, headers=operator)
    assert_problem(down, 404, "ASSESSMENT_NOT_FOUND")  # no submission recorded for this seeded row


async def test_the_console_queue_is_for_operators_and_its_forms_need_their_token(client, settings, seeded, sessions):
    from tests.api.test_console import as_role, csrf_of

    async with sessions.begin() as s:
        s.add(CourseAssessment(course_id="DRAFT", submission_no=1, status="PENDING", submitted_by="MKT",
                               due_at=T0, overdue_at=T0, reasons=[]))  # fmt: skip
    await as_role(client, settings, "support")
    assert (await client.get("/console/assessments")).status_code == 403
    await as_role(client, settings, "operator")

    page = await client.get("/console/assessments", params={"lang": "id"})
    forged = await client.post("/console/assessments/DRAFT/decision", data={"decision": "APPROVED", "csrf": "x"})
    down = await client.post(
        "/console/assessments/DRAFT/decision", data={"decision": "APPROVED", "csrf": csrf_of(page)}
    )

    assert page.status_code == 200 and "Excel Rahasia" in page.text and "TERLAMBAT" in page.text
    assert forged.status_code == 403
    assert down.status_code == 303 and "error=TEMPORAL_UNAVAILABLE" in down.headers["location"]
    async with sessions() as s:
        assert (await s.get(CourseAssessment, ("DRAFT", 1))).status == "PENDING"
