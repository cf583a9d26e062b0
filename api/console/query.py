"""The query parameters console pages take: `?lang` on every page, the outcome of an action after its redirect on
the pages that show one, and each page's own. Any other parameter, or one given twice, is a 422: the document
lists every parameter a page reads, so a misspelt filter is refused instead of silently showing everything."""

from typing import Annotated, Literal

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant

from api.errors import ProblemError
from core.problems import ProblemCode

Lang = Literal["en", "id"]
_LANG = "Page language (kept in a cookie); default: the last one used, then Accept-Language."


async def page_query(request: Request, lang: Annotated[Lang | None, Query(description=_LANG)] = None) -> None:
    declared = _names(request.scope["route"].dependant)  # a handful of fields: not worth a cache
    params = request.query_params
    unknown = [name for name in params if name not in declared]
    repeated = [name for name in declared if len(params.getlist(name)) > 1]
    errors = [{"loc": ["query", n], "msg": "Extra inputs are not permitted"} for n in unknown]
    errors += [{"loc": ["query", n], "msg": "Given more than once"} for n in repeated]
    if errors:
        raise ProblemError(422, ProblemCode.VALIDATION_ERROR, "The request is invalid.", extra={"errors": errors})


async def outcome_query(
    outcome: Annotated[str | None, Query(max_length=64, description="What the last action did.")] = None,
    error: Annotated[str | None, Query(max_length=64, description="Why it was refused (a problem code).")] = None,
    reason: Annotated[str | None, Query(max_length=64, description="The refusal's reason code.")] = None,
) -> None:
    """Declares what `api.console.pages.notice` reads (set by an action's redirect)."""


def _names(dependant: Dependant) -> set[str]:
    return {param.alias for param in dependant.query_params}.union(*(_names(d) for d in dependant.dependencies))
