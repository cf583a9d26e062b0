"""The console's pages over HTTP: sign-in, roles on every page and form, CSRF, languages, masking.

(What a person does in a browser, end to end, is tests/e2e/test_console_browser.py.)
"""

import re

import httpx
import pytest
from sqlalchemy import func, select

from api.console.messages import MESSAGES
from core.domain import PaymentStatus
from db.models import Payment, Wave
from services.errors import Refused
from services.payments import PaymentFilter, newest_payments
from tests.api.helpers import staff_token
from tests.api.seeds import held_incentive

ACCOUNT = "0811222233334444"


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def signed_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    form = await client.get("/console")
    done = await client.post("/console/sign-in", data={"token": token, "csrf": csrf_of(form)})
    assert done.status_code == 303 and done.headers["location"] == "/console", done.text
    return done


async def as_role(client: httpx.AsyncClient, settings, role: str) -> None:
    token = settings.admin_token if role == "admin" else await staff_token(client, settings, role)
    client.cookies.clear()
    await signed_in(client, token)


async def seed_journey(sessions, status=PaymentStatus.ON_HOLD) -> str:
    registration_id, _ = await held_incentive(sessions, partner="EWALLET", account=ACCOUNT, status=status, linked=True)
    return registration_id


async def test_signing_in_sets_an_httponly_cookie_and_shows_what_the_role_may_use(client, settings):
    form = await client.get("/console")
    assert form.status_code == 200 and 'name="token"' in form.text

    done = await signed_in(client, await staff_token(client, settings, "support"))
    home = await client.get("/console")

    cookie = done.headers["set-cookie"].lower()
    assert "prakerja_staff=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "/console/payments" in home.text and "/console/waves" not in home.text
    assert "/console/audit" not in home.text


async def test_a_wrong_token_stays_on_the_sign_in_form(client):
    form = await client.get("/console")
    refused = await client.post("/console/sign-in", data={"token": "not-a-token", "csrf": csrf_of(form)})
    assert refused.status_code == 401 and MESSAGES["en"]["signin.failed"] in refused.text
    assert "prakerja_staff" not in refused.headers.get("set-cookie", "")


async def test_sign_in_without_the_forms_token_or_from_another_site_is_refused(client, settings):
    form = await client.get("/console")
    token = csrf_of(form)
    missing = await client.post("/console/sign-in", data={"token": settings.admin_token})
    wrong = await client.post("/console/sign-in", data={"token": settings.admin_token, "csrf": token + "x"})
    foreign = await client.post(
        "/console/sign-in",
        data={"token": settings.admin_token, "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert [r.status_code for r in (missing, wrong, foreign)] == [403, 403, 403]
    assert all("prakerja_staff" not in r.headers.get("set-cookie", "") for r in (missing, wrong, foreign))


async def test_a_form_without_its_csrf_token_changes_nothing(client, settings, sessions):
    await as_role(client, settings, "operator")
    page = await client.get("/console/waves")
    forged = await client.post("/console/waves", data={"name": "Forged", "quota": "5", "csrf": "forged"})
    other_site = await client.post(
        "/console/waves",
        data={"name": "Forged", "quota": "5", "csrf": csrf_of(page)},
        headers={"Origin": "https://evil.example"},
    )
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Wave)) == 0
    assert (forged.status_code, other_site.status_code) == (403, 403)

    opened = await client.post("/console/waves", data={"name": "Wave 1", "quota": "5", "csrf": csrf_of(page)})

    assert opened.status_code == 303 and "outcome=WAVE_OPENED" in opened.headers["location"]
    listed = await client.get(opened.headers["location"])
    assert "Wave 1" in listed.text and MESSAGES["en"]["outcome.WAVE_OPENED"] in listed.text
    again = await client.post("/console/waves", data={"name": "Wave 2", "quota": "5", "csrf": csrf_of(page)})
    assert "error=WAVE_ALREADY_OPEN" in again.headers["location"]  # the service's rule, shown as a message


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("support", "/console/waves", 403),
        ("support", "/console/audit", 403),
        ("operator", "/console/audit", 403),
        ("support", "/console/payments", 200),
        ("operator", "/console/waves", 200),
        ("admin", "/console/audit", 200),
        ("admin", "/console/waves", 200),
    ],
)
async def test_every_page_checks_the_role(client, settings, role, path, status):
    await as_role(client, settings, role)
    page = await client.get(path)
    assert page.status_code == status
    if status == 403:
        assert MESSAGES["en"]["forbidden.heading"] in page.text


async def test_forms_check_the_role_too(client, settings, sessions):
    registration_id = await seed_journey(sessions)
    await as_role(client, settings, "operator")
    page = await client.get(f"/console/beneficiaries/{registration_id}")
    token = csrf_of(page)

    retry = await client.post(f"/console/payments/PAY-{registration_id}-I1/retry/confirm", data={"csrf": token})
    await as_role(client, settings, "support")
    revoke = await client.post(
        f"/console/beneficiaries/{registration_id}/revoke/confirm", data={"csrf": token, "reason": "fraud"}
    )
    draw = await client.post("/console/waves/WAVE-1/draw", data={"csrf": token})

    assert [r.status_code for r in (retry, revoke, draw)] == [403, 403, 403]


async def test_signed_out_visitors_are_sent_to_sign_in(client):
    for path in ("/console/payments", "/console/waves", "/console/audit", "/console/beneficiaries/REG-1"):
        page = await client.get(path)
        assert (page.status_code, page.headers["location"]) == (303, "/console")


async def test_the_beneficiary_page_masks_the_account_and_offers_retry_for_a_held_payment(client, settings, sessions):
    registration_id = await seed_journey(sessions)
    await as_role(client, settings, "support")

    page = await client.get(f"/console/beneficiaries/{registration_id}")

    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert ACCOUNT not in page.text and "*" * 12 + ACCOUNT[-4:] in page.text
    assert f"/console/payments/PAY-{registration_id}-I1/retry" in page.text
    assert "/workflows/journey-" + registration_id in page.text
    unknown = await client.get("/console/beneficiaries/REG-NOPE")
    assert unknown.status_code == 404


async def test_the_retry_confirmation_never_holds_the_account_in_clear(client, settings, sessions):
    registration_id = await seed_journey(sessions)
    await as_role(client, settings, "support")
    async with sessions.begin() as s:
        from db.models import Partner

        s.add(Partner(client_code="BANK", kind="payment", name="Bank", sign_key_sealed="x"))
    page = await client.get(f"/console/beneficiaries/{registration_id}")
    body = {"csrf": csrf_of(page), "partner": "BANK", "account": "5550001234"}

    confirm = await client.post(f"/console/payments/PAY-{registration_id}-I1/retry", data=body)

    assert confirm.status_code == 200 and 'name="account_sealed"' in confirm.text
    assert "5550001234" not in confirm.text and "******1234" in confirm.text
    tampered = await client.post(
        f"/console/payments/PAY-{registration_id}-I1/retry/confirm",
        data={"csrf": csrf_of(page), "partner": "BANK", "account_sealed": "bm90LXNlYWxlZA=="},
    )
    assert tampered.status_code == 303 and "error=INVALID_INPUT" in tampered.headers["location"]


async def test_payments_are_listed_newest_first_filtered_and_paged(client, settings, sessions):
    ids = [await seed_journey(sessions, status) for status in [PaymentStatus.ON_HOLD] * 3 + [PaymentStatus.PAID]]
    await as_role(client, settings, "support")

    held = await client.get("/console/payments", params={"status": "ON_HOLD"})
    shown = re.findall(r"<td>(PAY-REG-[0-9A-F]+-I1)</td>", held.text)

    assert shown == [f"PAY-{i}-I1" for i in reversed(ids[:3])]
    assert all(word in held.text for word in ("ACCOUNT_CLOSED", "Rp 600.000", "EWALLET"))
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 4


async def test_pages_speak_bahasa_indonesia_by_accept_language_or_choice(client, settings):
    indonesian = await client.get("/console", headers={"Accept-Language": "id-ID,id;q=0.9,en;q=0.8"})
    english = await client.get("/console", headers={"Accept-Language": "en-GB,en;q=0.9,id;q=0.5"})
    chosen = await client.get("/console?lang=id", headers={"Accept-Language": "en"})

    assert MESSAGES["id"]["signin.heading"] in indonesian.text and 'lang="id"' in indonesian.text
    assert MESSAGES["en"]["signin.heading"] in english.text
    assert MESSAGES["id"]["signin.heading"] in chosen.text and "prakerja_lang=id" in chosen.headers["set-cookie"]


def test_both_languages_have_every_message():
    assert MESSAGES["en"].keys() == MESSAGES["id"].keys()
    placeholders = re.compile(r"\{(\w+)\}")
    for key, text in MESSAGES["en"].items():
        assert set(placeholders.findall(text)) == set(placeholders.findall(MESSAGES["id"][key])), key


async def test_a_form_whose_workflow_service_is_down_says_so_and_changes_nothing(client, settings, sessions):
    await as_role(client, settings, "operator")  # this app's Temporal client points at a closed port
    page = await client.get("/console/waves")
    await client.post("/console/waves", data={"name": "Wave 1", "quota": "5", "csrf": csrf_of(page)})
    async with sessions() as s:
        wave_id = await s.scalar(select(Wave.wave_id))

    draw = await client.post(f"/console/waves/{wave_id}/draw", data={"csrf": csrf_of(page)})
    shown = await client.get(draw.headers["location"])

    assert draw.status_code == 303 and "error=TEMPORAL_UNAVAILABLE" in draw.headers["location"]
    assert MESSAGES["en"]["error.TEMPORAL_UNAVAILABLE"] in shown.text
    async with sessions() as s:
        assert await s.scalar(select(Wave.status).where(Wave.wave_id == wave_id)) == "OPEN"  # reopened


async def test_the_json_sign_in_refuses_another_sites_page(client, settings):
    foreign = await client.post(
        "/console/login", data={"token": settings.admin_token}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and foreign.json()["code"] == "CROSS_SITE_REQUEST"
    assert "prakerja_staff" not in foreign.headers.get("set-cookie", "")


async def test_payment_pages_follow_their_cursor_to_the_end(sessions):
    ids = {await seed_journey(sessions) for _ in range(5)}
    seen: list[str] = []
    cursor = None
    async with sessions() as s:
        everything, _ = await newest_payments(s, PaymentFilter(status="ON_HOLD"), 10)
        while True:
            rows, cursor = await newest_payments(s, PaymentFilter(status="ON_HOLD"), 2, cursor)
            seen += [r.registration_id for r in rows]
            if cursor is None:
                break

    assert seen == [p.registration_id for p in everything] and set(seen) == ids  # each once, in order
    with pytest.raises(Refused):
        async with sessions() as s:
            await newest_payments(s, PaymentFilter(), 2, "not-a-cursor")
