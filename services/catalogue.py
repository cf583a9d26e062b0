"""The public catalogue: approved courses, full-text search, filters, sorts with keyset cursors, and ratings
kept incrementally as reviews arrive."""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, Select, cast, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement, TextClause

from core.catalogue import CourseStatus
from core.problems import ProblemCode
from db.models import Course, Purchase
from db.session import rows_matched
from services.errors import Refused
from services.paging import decode_cursor, encode_cursor

LATEST_REVIEWS = 10
_WORD = re.compile(r"\w+", re.UNICODE)
# The expression of the GIN index in migration 0007, written identically or PostgreSQL does not use the index.
PG_DOCUMENT = "to_tsvector('simple', courses.title || ' ' || courses.description)"


class Sort(StrEnum):
    RATING = "rating"  # best rated first
    PRICE = "price"  # cheapest first
    NEWEST = "newest"  # most recently approved first


@dataclass(frozen=True)
class CatalogueQuery:
    q: str | None = None
    category: str | None = None
    province: str | None = None
    mode: str | None = None
    max_price: int | None = None
    sort: Sort = Sort.RATING
    limit: int = 20
    cursor: str | None = None


def _key(sort: Sort) -> tuple[Any, Any]:
    column = {Sort.RATING: Course.rating_avg, Sort.PRICE: Course.price, Sort.NEWEST: Course.listed_at}[sort]
    return column, Course.course_id


async def search_courses(session: AsyncSession, where: CatalogueQuery) -> tuple[list[Course], str | None]:
    """A page of approved courses in the chosen order and the cursor of the next one. Each sort walks its own
    (status, sort key, course_id) index; the cursor is the last row's key, so pages never overlap or skip."""
    value, course_id = _key(where.sort)
    ascending = where.sort is Sort.PRICE
    order = (value.asc(), course_id.asc()) if ascending else (value.desc(), course_id.desc())
    query = select(Course).where(Course.status == CourseStatus.APPROVED).order_by(*order).limit(where.limit + 1)
    query = _filtered(query, where)
    if where.q and (match := _text_match(session, where.q)) is not None:
        query = query.where(match)
    if where.cursor:
        after = tuple_(value, course_id)
        last = tuple_(*_parse_cursor(where.cursor, where.sort))
        query = query.where(after > last if ascending else after < last)
    rows = list(await session.scalars(query))
    page = rows[: where.limit]
    return page, (_cursor(page[-1], where.sort) if len(rows) > where.limit else None)


def _filtered(query: Select[Any], where: CatalogueQuery) -> Select[Any]:
    if where.category:
        query = query.where(Course.category == where.category)
    if where.province:
        query = query.where(Course.province == where.province)
    if where.mode:
        query = query.where(Course.mode == where.mode)
    if where.max_price is not None:
        query = query.where(Course.price <= where.max_price)
    return query


def _text_match(session: AsyncSession, q: str) -> ColumnElement[bool] | TextClause | None:
    """Every word of `q` in the title or description (case-insensitive, no stemming on either backend)."""
    words = _WORD.findall(q.lower())[:12]
    if not words:
        return None
    if session.get_bind().dialect.name == "postgresql":
        return text(f"{PG_DOCUMENT} @@ plainto_tsquery('simple', :q)").bindparams(q=" ".join(words))
    # SQLite: the FTS5 table of migration 0007; each word quoted, so no input is read as FTS5 query syntax.
    match = " ".join(f'"{word}"' for word in words)
    subquery = text("SELECT course_id FROM courses_fts WHERE courses_fts MATCH :match").bindparams(match=match)
    return Course.course_id.in_(subquery.columns(course_id=Course.course_id.type))


def _cursor(course: Course, sort: Sort) -> str:
    value = course.listed_at.isoformat() if sort is Sort.NEWEST and course.listed_at else getattr(course, _attr(sort))
    return encode_cursor(sort.value, value, course.course_id)


def _attr(sort: Sort) -> str:
    return {Sort.RATING: "rating_avg", Sort.PRICE: "price", Sort.NEWEST: "listed_at"}[sort]


def _parse_cursor(cursor: str, sort: Sort) -> tuple[Any, str]:
    detail = "The cursor is not one this list gave out (with this sort)."
    refused = Refused(422, ProblemCode.INVALID_CURSOR, detail)
    kind, value, course_id = decode_cursor(cursor, 3, detail)
    if kind != sort.value or not isinstance(course_id, str):
        raise refused
    try:
        if sort is Sort.NEWEST:
            return datetime.fromisoformat(value), course_id
        if sort is Sort.PRICE and isinstance(value, int) and not isinstance(value, bool):
            return value, course_id
        if sort is Sort.RATING and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), course_id
    except (ValueError, TypeError):
        pass
    raise refused


async def approved_course(session: AsyncSession, course_id: str) -> Course:
    course = await session.get(Course, course_id)
    if course is None or course.status != CourseStatus.APPROVED:
        raise Refused(404, ProblemCode.COURSE_NOT_FOUND, f"No course {course_id} in the catalogue.")
    return course


@dataclass(frozen=True)
class PublicReview:
    rating: int
    text: str
    at: datetime | None


async def latest_reviews(session: AsyncSession, course_id: str, limit: int = LATEST_REVIEWS) -> list[PublicReview]:
    """The newest reviews of a course: rating, text and time only, never who wrote them."""
    query = (
        select(Purchase.review_rating, Purchase.review_text, Purchase.reviewed_at)
        .where(Purchase.course_id == course_id, Purchase.reviewed_at.is_not(None))
        .order_by(Purchase.reviewed_at.desc())
        .limit(limit)
    )
    return [PublicReview(int(r or 0), t or "", at) for r, t, at in (await session.execute(query)).all()]


async def record_review(session: AsyncSession, purchase: Purchase, rating: int, review: str, at: datetime) -> None:
    """Record (or replace) a purchase's review and add it to its course's rating, in the caller's transaction.
    The purchase row is compare-and-set on its previous rating, so two racing reviews of one training cannot
    both count; the course's figures move by the difference, never by a recount."""
    previous = purchase.review_rating
    unchanged = Purchase.review_rating.is_(None) if previous is None else Purchase.review_rating == previous
    written = await session.execute(
        update(Purchase)
        .where(Purchase.purchase_ref == purchase.purchase_ref, unchanged)
        .values(review_rating=rating, review_text=review, reviewed_at=at)
        .execution_options(synchronize_session=False)
    )
    if rows_matched(written) != 1:
        raise Refused(409, ProblemCode.REVIEW_CONFLICT, "The review changed at the same time; send it again.")
    added, counted = rating - (previous or 0), 0 if previous is not None else 1
    await session.execute(
        update(Course)
        .where(Course.course_id == purchase.course_id)
        .values(
            rating_sum=Course.rating_sum + added,
            rating_count=Course.rating_count + counted,
            rating_avg=cast(Course.rating_sum + added, Float) / (Course.rating_count + counted),
        )
        .execution_options(synchronize_session=False)
    )
