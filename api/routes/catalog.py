"""The public course catalogue (no auth): approved courses with their ratings, and a course's latest reviews."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import SessionDep
from api.errors import problem_responses
from db.models import Course
from services import catalogue
from services.catalogue import CatalogueQuery, Sort

router = APIRouter(prefix="/v1/catalog", tags=["catalogue"], responses=problem_responses(404, 422))


class CourseItem(BaseModel):
    course_id: str
    title: str
    provider_client_code: str
    price: int
    category: str
    mode: str
    province: str | None
    rating_avg: float | None
    rating_count: int


class CoursePage(BaseModel):
    items: list[CourseItem]
    next_cursor: str | None


class Review(BaseModel):
    rating: int
    text: str
    at: datetime | None


class CourseDetail(CourseItem):
    description: str
    duration_hours: int | None
    reviews: list[Review]


def _item(course: Course) -> CourseItem:
    return CourseItem(
        course_id=course.course_id,
        title=course.title,
        provider_client_code=course.provider_client_code,
        price=course.price,
        category=course.category,
        mode=course.mode,
        province=course.province,
        rating_avg=round(course.rating_avg, 2) if course.rating_count else None,
        rating_count=course.rating_count,
    )


@router.get("/courses")
async def list_courses(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="Words of the title or description.")] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    province: Annotated[str | None, Query(max_length=64)] = None,
    mode: Annotated[str | None, Query(pattern=r"^(ONLINE|OFFLINE)$")] = None,
    max_price: Annotated[int | None, Query(ge=0, le=10**15)] = None,
    sort: Sort = Sort.RATING,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> CoursePage:
    """Approved courses: search the title and description, filter, sort by rating, price or newest; paged by
    `next_cursor` (pass it back with the same query)."""
    where = CatalogueQuery(q, category, province, mode, max_price, sort, limit, cursor)
    rows, next_cursor = await catalogue.search_courses(session, where)
    return CoursePage(items=[_item(c) for c in rows], next_cursor=next_cursor)


@router.get("/courses/{course_id}")
async def get_course(course_id: str, session: SessionDep) -> CourseDetail:
    """One approved course with its latest reviews (rating, text and time; never who wrote them)."""
    course = await catalogue.approved_course(session, course_id)
    reviews = await catalogue.latest_reviews(session, course_id)
    return CourseDetail(
        **_item(course).model_dump(),
        description=course.description,
        duration_hours=course.duration_hours,
        reviews=[Review(rating=r.rating, text=r.text, at=r.at) for r in reviews],
    )
