"""The staff console's pages: thin handlers that read through the services and render templates.

Signed in by the HttpOnly staff cookie (`POST /console/sign-in`, or the JSON `POST /console/login`). Every
state-changing form carries a CSRF token (api.console.csrf) and every page checks the role it needs.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.audit import ActorKind, add_audit_detail, set_actor
from api.auth import STAFF_COOKIE, Staff, find_staff
from api.console import csrf
from api.console.messages import LANG_COOKIE, LANGUAGES, language, translator
from api.console.query import outcome_query, page_query
from api.context import get_ctx
from api.deps import SessionDep, SettingsDep, SnapshotDep
from api.views import journey_view
from core.contracts import journey_id
from core.domain import PaymentKind, PaymentStatus, Role
from core.problems import ProblemCode
from core.security import mask, seal, unseal
from core.settings import Settings
from db.models import Payment
from services import journeys, profiles, waves
from services.audit import AuditFilter, audit_entries
from services.errors import Refused
from services.payments import (
    PaymentFilter,
    RetryPayment,
    execute_retry,
    newest_payments,
    payment_partners,
    plan_retry,
)
from services.timeline import journey_timeline

# Not signed in: on to the sign-in form; after a form: on to the page that shows its outcome. (GET /console itself
# shows the sign-in form instead, the one page of this router that never redirects.)
REDIRECTS: dict[int | str, dict[str, Any]] = {303: {"description": "On to another console page (`Location`)"}}
router = APIRouter(prefix="/console", tags=["console"], dependencies=[Depends(page_query)], responses=REDIRECTS)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

COOKIE_MAX_AGE_S = 8 * 3600  # one working shift
PAGE_SIZE = 25
_CODE = re.compile(r"^[A-Z0-9_]{1,64}$")
_ACCOUNT = re.compile(r"^[0-9A-Za-z-]{4,64}$")
STAFF_PAGES = (Role.SUPPORT, Role.OPERATOR)


@dataclass
class Console:
    """One page request: who is signed in, in which language, and the form token for this session."""

    request: Request
    settings: Settings
    lang: str
    staff: Staff | None = None
    csrf_token: str = ""
    extra_cookies: dict[str, str] = field(default_factory=dict)

    def t(self, key: str, **values: object) -> str:
        return translator(self.lang)(key, **values)

    def may(self, *roles: Role) -> bool:
        return self.staff is not None and (self.staff.role is Role.ADMIN or self.staff.role in roles)

    def form_ok(self, submitted: str | None) -> bool:
        token = self.request.cookies.get(STAFF_COOKIE) or ""
        return csrf.session_form_ok(self.request, self.settings.secret_key, token, submitted)


async def console(request: Request, session: SessionDep, settings: SettingsDep) -> Console:
    page = Console(request, settings, language(request))
    token = request.cookies.get(STAFF_COOKIE)
    if token and (staff := await find_staff(session, settings, token)) is not None:
        page.staff = staff
        page.csrf_token = csrf.session_token(settings.secret_key, token)
        set_actor(request, ActorKind.STAFF, staff.staff_id)
    return page


async def maybe_temporal(request: Request) -> Client | None:
    """The Temporal client, or None while it is unreachable: a form then says so on its page, not in JSON."""
    return await get_ctx(request).connect_temporal()


ConsoleDep = Annotated[Console, Depends(console)]
MaybeTemporal = Annotated[Client | None, Depends(maybe_temporal)]
CsrfField = Annotated[str, Form(alias=csrf.CSRF_FIELD)]


def render(page: Console, template: str, status: int = 200, **values: Any) -> Response:
    context = {"t": page.t, "lang": page.lang, "staff": page.staff, "csrf": page.csrf_token, "may": page.may}
    response = templates.TemplateResponse(page.request, template, {**context, **values}, status_code=status)
    if page.request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, page.lang, max_age=365 * 86400, samesite="lax")
    for name, value in page.extra_cookies.items():
        response.set_cookie(name, value, httponly=True, samesite="strict")
    response.headers["Cache-Control"] = "no-store"  # pages show a journey's personal state
    return response


def guard(page: Console, *roles: Role) -> Response | None:
    """The response that replaces the page when nobody is signed in (the sign-in form) or the role may not see it."""
    if page.staff is None:
        return RedirectResponse("/console", status_code=303)
    if not page.may(*roles):
        return render(page, "message.html", 403, heading=page.t("forbidden.heading"),
                      text=page.t("forbidden.text", role=page.staff.role.value))  # fmt: skip
    return None


def refuse_post(page: Console, csrf_field: str, *roles: Role) -> Response | None:
    """What replaces a form's handling: the sign-in page, the 403 page for the wrong role, or a refusal of a
    form without this session's CSRF token."""
    if (refused := guard(page, *roles)) is not None:
        return refused
    if not page.form_ok(csrf_field):
        return refused_by_form(page)
    return None


def refused_by_form(page: Console) -> Response:
    return render(page, "message.html", 403, heading=page.t("forbidden.heading"), text=page.t("csrf.failed"))


def back_to(path: str, **params: str | None) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def error_params(page: Console, refused: Refused) -> dict[str, str | None]:
    """The query that shows why an action was refused, after its redirect; the audit row records the code."""
    page.request.state.problem_code = refused.code
    reason = refused.extra.get("reason") or refused.code
    return {"error": refused.code, "reason": reason if isinstance(reason, str) and _CODE.match(reason) else None}


def connected(client: Client | None) -> Client:
    """The Temporal client, or the refusal a form shows (on its page, not as JSON) while it is unreachable."""
    if client is None:
        raise Refused(503, ProblemCode.TEMPORAL_UNAVAILABLE, "The workflow service is unavailable; try again.")
    return client


def notice(page: Console) -> dict[str, str | None]:
    """The outcome of the last action (after its redirect), from the message catalogue only."""
    params = page.request.query_params
    outcome, error, reason = params.get("outcome"), params.get("error"), params.get("reason") or ""
    reason = reason if _CODE.match(reason) else "?"
    if outcome and _CODE.match(outcome) and f"outcome.{outcome}" in _keys(page):
        return {"kind": "ok", "text": page.t(f"outcome.{outcome}")}
    if error and _CODE.match(error):
        key = f"error.{error}" if f"error.{error}" in _keys(page) else "error.OTHER"
        return {"kind": "error", "text": page.t(key, reason=reason if key != "error.OTHER" else error)}
    return {"kind": None, "text": None}


def _keys(page: Console) -> set[str]:
    from api.console.messages import MESSAGES

    return set(MESSAGES[page.lang])


# --- sign-in -------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def home(page: ConsoleDep) -> Response:
    """The sign-in form (field `token`), or, signed in, links to what the role may use."""
    if page.staff is None:
        token = csrf.new_presession_token()
        page.extra_cookies[csrf.PRESESSION_COOKIE] = token
        return render(page, "signin.html", presession=token, failed=False)
    return render(page, "home.html")


@router.post(
    "/sign-in",
    response_class=HTMLResponse,
    responses={
        303: {"description": "Signed in: on to the console's home page"},
        401: {"description": "The sign-in form again: not a staff token", "content": {"text/html": {}}},
        403: {"description": "The form is not this site's (cross-site request)", "content": {"text/html": {}}},
    },
)
async def sign_in(
    page: ConsoleDep, session: SessionDep, token: Annotated[str, Form()] = "", csrf_field: CsrfField = ""
) -> Response:
    """Sign in from the form: the staff token goes into the HttpOnly cookie, then the home page."""
    if not csrf.presession_form_ok(page.request, csrf_field):
        return refused_by_form(page)
    staff = await find_staff(session, page.settings, token) if token else None
    if staff is None:
        fresh = csrf.new_presession_token()
        page.extra_cookies[csrf.PRESESSION_COOKIE] = fresh
        return render(page, "signin.html", 401, presession=fresh, failed=True)
    set_actor(page.request, ActorKind.STAFF, staff.staff_id)
    response = RedirectResponse("/console", status_code=303)
    secure = page.settings.api_public_url.startswith("https://")
    response.set_cookie(STAFF_COOKIE, token, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="lax", secure=secure)
    response.delete_cookie(csrf.PRESESSION_COOKIE)
    return response


@router.post("/sign-out", response_class=HTMLResponse)
async def sign_out(page: ConsoleDep, csrf_field: CsrfField = "") -> Response:
    """Forget the staff cookie."""
    if page.staff is not None and not page.form_ok(csrf_field):
        return refused_by_form(page)
    response = RedirectResponse("/console", status_code=303)
    response.delete_cookie(STAFF_COOKIE, httponly=True, samesite="lax")
    return response


@router.get("/find", response_class=HTMLResponse)
async def find(page: ConsoleDep, registration_id: Annotated[str, Query(max_length=64)] = "") -> Response:
    """The home page's lookup form: on to the beneficiary's page."""
    if (refused := guard(page, *STAFF_PAGES)) is not None:
        return refused
    return back_to(f"/console/beneficiaries/{registration_id.strip() or '-'}")


# --- payments ----------------------------------------------------------------------------------------


@router.get("/payments", response_class=HTMLResponse)
async def payments(
    page: ConsoleDep,
    session: SessionDep,
    status: Annotated[PaymentStatus | None, Query()] = None,
    partner: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[PaymentKind | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Payments newest first (one row each: id, registration, kind, number, amount, status, reason, partner,
    attempts, age), filtered by status, partner and kind, paged."""
    if (refused := guard(page, *STAFF_PAGES)) is not None:
        return refused
    where = PaymentFilter(status.value if status else None, partner or None, kind.value if kind else None)
    try:
        rows, next_cursor = await newest_payments(session, where, PAGE_SIZE, cursor)
    except Refused:
        rows, next_cursor = await newest_payments(session, where, PAGE_SIZE)
    now = datetime.now(UTC)
    filters = {"status": where.status, "partner": where.partner_client_code, "kind": where.kind}
    next_url = None
    if next_cursor:
        next_url = "/console/payments?" + urlencode({**{k: v for k, v in filters.items() if v}, "cursor": next_cursor})
    return render(
        page,
        "payments.html",
        rows=[{**_payment_row(p), "age": age(now, p.created_at)} for p in rows],
        filters=filters,
        statuses=[s.value for s in PaymentStatus if s is not PaymentStatus.SCHEDULED],
        kinds=[k.value for k in PaymentKind],
        partners=await payment_partners(session),
        next_url=next_url,
        paged=bool(cursor),
    )


def _payment_row(p: Any) -> dict[str, Any]:
    return {
        "payment_id": p.payment_id,
        "registration_id": p.registration_id,
        "kind": p.kind,
        "number": p.number,
        "amount": rupiah(p.amount),
        "status": p.status,
        "reason": p.reason or "",
        "partner": p.partner_client_code or "",
        "attempts": p.attempts,
    }


def rupiah(amount: int | None) -> str:
    return "" if amount is None else f"{amount:,}".replace(",", ".")


def age(now: datetime, then: datetime) -> str:
    then = then if then.tzinfo else then.replace(tzinfo=UTC)
    seconds = max(int((now - then).total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min" if rest >= 60 else f"{rest} s"


# --- one beneficiary ------------------------------------------------------------------------------------


@router.get("/beneficiaries/{registration_id}", response_class=HTMLResponse, dependencies=[Depends(outcome_query)])
async def beneficiary(page: ConsoleDep, snapshot: SnapshotDep, session: SessionDep, registration_id: str) -> Response:
    """Status, reasons, payments and the timeline of one journey, a link to it in the Temporal UI, and
    for a payment on hold the Retry form (support); Revoke for operators."""
    if (refused := guard(page, *STAFF_PAGES)) is not None:
        return refused
    view = await journey_view(snapshot, registration_id)
    if view is None:
        text = page.t("notfound.text", id=registration_id[:64])
        return render(page, "message.html", 404, heading=page.t("notfound.heading"), text=text)
    timeline = await journey_timeline(snapshot, registration_id) or []
    settings = page.settings
    return render(
        page,
        "beneficiary.html",
        view=view,
        payments=[{**p.model_dump(mode="json"), "amount_text": rupiah(p.amount)} for p in view.payments],
        balance=rupiah(view.balance),
        account=(
            f"{view.payment_account.partner_client_code} {view.payment_account.account_number_masked}"
            if view.payment_account
            else ""
        ),
        timeline=[_timeline_row(item) for item in timeline],
        partners=await payment_partners(session),
        temporal_url=(
            f"{settings.ui_origin.rstrip('/')}/namespaces/{settings.temporal_namespace}"
            f"/workflows/{journey_id(registration_id)}"
        ),
        notice=notice(page),
    )


def _timeline_row(item: Any) -> dict[str, Any]:
    detail = ", ".join(
        f"{key}: {', '.join(value) if isinstance(value, list) else value}"
        for key, value in item.detail.items()
        if value is not None and value != []
    )
    return {"at": item.at.strftime("%Y-%m-%d %H:%M:%S"), "kind": str(item.kind), "detail": detail, "actor": item.actor}


def _unsealed(page: Console, sealed: str) -> str:
    try:
        return unseal(page.settings.secret_key, sealed) if sealed else ""
    except (ValueError, InvalidTag):
        raise Refused(422, ProblemCode.INVALID_INPUT, "account number", extra={"reason": "ACCOUNT_NUMBER"}) from None


def _retry_cmd(page: Console, payment_id: str, partner: str, account: str) -> RetryPayment:
    if account and not _ACCOUNT.match(account):
        raise Refused(422, ProblemCode.INVALID_INPUT, "account number", extra={"reason": "ACCOUNT_NUMBER"})
    assert page.staff is not None
    return RetryPayment(payment_id, page.staff.staff_id, partner or None, account or None)


@router.post("/payments/{payment_id}/retry", response_class=HTMLResponse)
async def retry_review(
    page: ConsoleDep,
    session: SessionDep,
    payment_id: str,
    csrf_field: CsrfField = "",
    partner: Annotated[str, Form(max_length=64)] = "",
    account: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Step one of a retry: what will be sent where, with a Confirm button (nothing is sent yet)."""
    if (refused := refuse_post(page, csrf_field, Role.SUPPORT)) is not None:
        return refused
    try:
        plan = await plan_retry(session, _retry_cmd(page, payment_id, partner.strip(), account.strip()))
    except Refused as refusal:
        return await _after_refusal(page, session, payment_id, refusal)
    payment = plan.payment
    if plan.moves:
        target = page.t("confirm.new_target", partner=plan.partner_client_code, account=mask(plan.account_number or ""))
    else:
        target = page.t("confirm.same_target", partner=payment.partner_client_code or "")
    return render(
        page,
        "confirm.html",
        heading=page.t("confirm.heading"),
        text=page.t("confirm.text", payment=payment.payment_id, amount=rupiah(payment.amount), target=target),
        action=f"/console/payments/{payment_id}/retry/confirm",
        # The account number travels sealed: the page never holds it in clear, and the confirmation cannot be
        # altered into another account without the secret key.
        fields={"partner": partner.strip(), "account_sealed": seal(page.settings.secret_key, account.strip())},
        cancel=f"/console/beneficiaries/{payment.registration_id}",
    )


@router.post("/payments/{payment_id}/retry/confirm", response_class=HTMLResponse)
async def retry_confirm(
    page: ConsoleDep,
    session: SessionDep,
    client: MaybeTemporal,
    payment_id: str,
    csrf_field: CsrfField = "",
    partner: Annotated[str, Form(max_length=64)] = "",
    account_sealed: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """Step two: the payment's workflow retries it (the same service as `POST /v1/support/payments/{id}/retry`)."""
    if (refused := refuse_post(page, csrf_field, Role.SUPPORT)) is not None:
        return refused
    assert page.staff is not None
    add_audit_detail(page.request, payment_id=payment_id, requested_by=page.staff.staff_id)
    try:
        account = _unsealed(page, account_sealed)
        plan = await plan_retry(session, _retry_cmd(page, payment_id, partner.strip(), account))
        add_audit_detail(page.request, partner_client_code=plan.partner_client_code)
        await execute_retry(session, connected(client), plan)
    except Refused as refusal:
        return await _after_refusal(page, session, payment_id, refusal)
    return back_to(f"/console/beneficiaries/{plan.payment.registration_id}", outcome="RETRY_ACCEPTED")


async def _after_refusal(page: Console, session: AsyncSession, payment_id: str, refusal: Refused) -> Response:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        return render(page, "message.html", 404, heading=page.t("notfound.heading"), text=payment_id[:64])
    return back_to(f"/console/beneficiaries/{payment.registration_id}", **error_params(page, refusal))


@router.post("/beneficiaries/{registration_id}/revoke", response_class=HTMLResponse)
async def revoke_review(
    page: ConsoleDep,
    registration_id: str,
    csrf_field: CsrfField = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Step one of a revocation: what it does, with a Confirm button."""
    if (refused := refuse_post(page, csrf_field, Role.OPERATOR)) is not None:
        return refused
    if len(reason.strip()) < 3:
        return back_to(f"/console/beneficiaries/{registration_id}", error=ProblemCode.INVALID_INPUT, reason="REASON")
    return render(
        page,
        "confirm.html",
        heading=page.t("revoke.confirm_heading"),
        text=page.t("revoke.confirm_text", id=registration_id),
        action=f"/console/beneficiaries/{registration_id}/revoke/confirm",
        fields={"reason": reason.strip()},
        cancel=f"/console/beneficiaries/{registration_id}",
    )


@router.post("/beneficiaries/{registration_id}/revoke/confirm", response_class=HTMLResponse)
async def revoke_confirm(
    page: ConsoleDep,
    session: SessionDep,
    client: MaybeTemporal,
    registration_id: str,
    csrf_field: CsrfField = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Step two: the same service as `POST /v1/beneficiaries/{id}/revoke`."""
    if (refused := refuse_post(page, csrf_field, Role.OPERATOR)) is not None:
        return refused
    assert page.staff is not None
    here = f"/console/beneficiaries/{registration_id}"
    if len(reason.strip()) < 3:
        return back_to(here, error=ProblemCode.INVALID_INPUT, reason="REASON")
    try:
        await journeys.revoke(
            session, connected(client), journeys.Revoke(registration_id, reason.strip(), page.staff.staff_id)
        )
    except Refused as refusal:
        return back_to(here, **error_params(page, refusal))
    return back_to(here, outcome="REVOCATION_REQUESTED")


# --- waves ------------------------------------------------------------------------------------------------


@router.get("/waves", response_class=HTMLResponse, dependencies=[Depends(outcome_query)])
async def wave_list(page: ConsoleDep, session: SessionDep) -> Response:
    """Waves with quota, pool size and number selected; open a wave; draw the open one (operators)."""
    if (refused := guard(page, Role.OPERATOR)) is not None:
        return refused
    rows = [
        {"wave": w, "pool": await waves.pool_size(session, w), "open": w.status == "OPEN"}
        for w in await waves.list_waves(session)
    ]
    names = [t.profile for t in await profiles.all_profiles(session)]
    return render(page, "waves.html", rows=rows, notice=notice(page), profile=page.settings.profile, profiles=names)


@router.post("/waves", response_class=HTMLResponse)
async def wave_open(
    page: ConsoleDep,
    session: SessionDep,
    csrf_field: CsrfField = "",
    name: Annotated[str, Form(max_length=200)] = "",
    quota: Annotated[str, Form(max_length=12)] = "",
    profile: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Open a wave (the same service as `POST /v1/waves`)."""
    if (refused := refuse_post(page, csrf_field, Role.OPERATOR)) is not None:
        return refused
    if not name.strip() or not quota.strip().isdigit() or not 0 < int(quota) <= 10_000_000:
        return back_to("/console/waves", error=ProblemCode.INVALID_INPUT, reason="NAME_AND_QUOTA")
    try:
        cmd = waves.OpenWave(name.strip(), int(quota), profile.strip() or page.settings.profile)
        wave = await waves.open_wave(session, cmd)
    except Refused as refusal:
        return back_to("/console/waves", **error_params(page, refusal))
    add_audit_detail(page.request, wave_id=wave.wave_id)
    return back_to("/console/waves", outcome="WAVE_OPENED")


@router.post("/waves/{wave_id}/draw", response_class=HTMLResponse)
async def wave_draw(
    page: ConsoleDep,
    session: SessionDep,
    client: MaybeTemporal,
    wave_id: str,
    csrf_field: CsrfField = "",
    seed: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Close the wave and start its draw (the same service as `POST /v1/waves/{id}/draw`)."""
    if (refused := refuse_post(page, csrf_field, Role.OPERATOR)) is not None:
        return refused
    try:
        await waves.draw_wave(session, connected(client), page.settings.task_queue, wave_id, seed.strip() or None)
    except Refused as refusal:
        return back_to("/console/waves", **error_params(page, refusal))
    return back_to("/console/waves", outcome="WAVE_DRAWING")


# --- audit ------------------------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
async def audit(
    page: ConsoleDep,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    resource: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The audit log (admins): who did what to which registration, when; filter by actor and registration."""
    if (refused := guard(page, Role.ADMIN)) is not None:
        return refused
    where = AuditFilter(actor or None, resource or None)
    rows, older = await audit_entries(session, where, PAGE_SIZE * 2, before)
    older_url = None
    if older is not None:
        params = {k: v for k, v in {"actor": where.actor_id, "resource": where.resource}.items() if v}
        older_url = "/console/audit?" + urlencode({**params, "before": older})
    entries = [
        {
            "at": r.at.strftime("%Y-%m-%d %H:%M:%S"),
            "actor": f"{r.actor_kind}:{r.actor_id}",
            "action": r.action,
            "status": r.status_code,
            "resource": getattr(r, "resource", None) or "",
            "detail": ", ".join(f"{k}: {v}" for k, v in (r.detail or {}).items() if v is not None),
        }
        for r in rows
    ]
    return render(page, "audit.html", entries=entries, filters={"actor": actor, "resource": resource}, older=older_url)
