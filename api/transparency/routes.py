"""Public figures (no sign-in): JSON and a server-rendered page with SVG bar charts, both cacheable.

The figures are computed at most once every few seconds per process (api.cache) and served with a weak ETag
and `Cache-Control: public`, so a spike of visitors costs one query and mostly 304s.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from api.console.messages import language, translator
from api.context import AppContext
from api.deps import ContextDep
from api.errors import ProblemError, problem_responses
from api.transparency.messages import MESSAGES
from core.problems import ProblemCode
from services.transparency import MIN_CELL, Figures

router = APIRouter(tags=["public"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

CACHE_CONTROL = "public, max-age=30"
CHART_WIDTH = 360  # px of the longest bar


class Row(BaseModel):
    registered: int | None
    eligible: int | None
    awarded: int | None
    trained: int | None
    incentives_paid_rupiah: int | None
    surveys_paid_rupiah: int | None


class ProvinceRow(Row):
    province: str


class WaveRow(Row):
    wave_id: str
    name: str


class Transparency(BaseModel):
    generated_at: str
    min_cell: int = Field(description="Counts under this (and sums paid to fewer people) are published as null.")
    totals: Row
    by_province: list[ProvinceRow]
    by_wave: list[WaveRow]


async def _figures(ctx: AppContext) -> dict[str, Any]:
    if ctx.transparency is None:  # pragma: no cover - set by the lifespan
        raise ProblemError(503, ProblemCode.NOT_READY, "Not ready.")
    try:
        figures: Figures = await ctx.transparency.get()
    except Exception as exc:
        raise ProblemError(
            503, ProblemCode.FIGURES_UNAVAILABLE, "The figures cannot be computed now; retry later."
        ) from exc
    return figures.published()


def _etag(document: dict[str, Any], *variant: str) -> str:
    stable = {k: v for k, v in document.items() if k != "generated_at"}  # same figures, same tag
    digest = hashlib.sha256(json.dumps([stable, *variant], sort_keys=True).encode()).hexdigest()[:32]
    return f'W/"{digest}"'


def _not_modified(request: Request, etag: str) -> bool:
    asked = request.headers.get("if-none-match", "")
    return etag in {tag.strip() for tag in asked.split(",")} or asked.strip() == "*"


def _cacheable(response: Response, etag: str, vary: str | None = None) -> Response:
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = CACHE_CONTROL
    if vary:
        response.headers["Vary"] = vary
    return response


@router.get("/v1/public/transparency", response_model=Transparency, responses=problem_responses(503))
async def transparency(request: Request, ctx: ContextDep) -> Response:
    """Registrations, eligibility, awards, trainings completed and rupiah paid, in total, by province and by
    wave. A count under 10 is null, and so is a sum paid to fewer than 10 people. Cacheable (ETag)."""
    document = await _figures(ctx)
    etag = _etag(document)
    if _not_modified(request, etag):
        return _cacheable(Response(status_code=304), etag)
    return _cacheable(JSONResponse(Transparency.model_validate(document).model_dump(mode="json")), etag)


@router.get("/transparency", response_class=HTMLResponse, include_in_schema=True)
async def transparency_page(request: Request, ctx: ContextDep) -> Response:
    """The same figures as a public page with bar charts (English or Bahasa Indonesia: `?lang=en|id`, else
    the browser's Accept-Language)."""
    document = await _figures(ctx)
    lang = language(request)
    etag = _etag(document, lang)
    vary = "Accept-Language, Cookie"
    if _not_modified(request, etag):
        return _cacheable(Response(status_code=304), etag, vary)
    t = translator(lang, MESSAGES)
    values = {
        "t": t,
        "lang": lang,
        "doc": document,
        "min": MIN_CELL,
        "fmt": lambda value: _number(value, lang, t),
        "charts": _charts(document, t, lang),
    }
    page = templates.TemplateResponse(request, "transparency.html", values)
    return _cacheable(page, etag, vary)


def _number(value: int | None, lang: str, t: Any) -> str:
    if value is None:
        return t("suppressed", min=MIN_CELL)
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "id" else text


def _charts(document: dict[str, Any], t: Any, lang: str) -> list[dict[str, Any]]:
    """Bar charts by province and by wave: each bar's label, shown value and length (None when suppressed)."""
    charts = []
    for group, label_key in (("by_province", "province"), ("by_wave", "name")):
        rows = document[group]
        if not rows:
            continue
        for key, title in (
            ("registered", "chart.registered"),
            ("awarded", "chart.awarded"),
            ("incentives_paid_rupiah", "chart.incentives"),
        ):
            top = max((row[key] or 0 for row in rows), default=0) or 1
            bars = [
                {
                    "label": str(row[label_key]),
                    "text": _number(row[key], lang, t),
                    "width": None if row[key] is None else round(CHART_WIDTH * row[key] / top, 1),
                }
                for row in rows
            ]
            charts.append({"id": f"{group}-{key}", "title": f"{t(title)} · {t(group)}", "bars": bars})
    return charts
