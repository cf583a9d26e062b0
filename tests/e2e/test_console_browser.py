"""The console in Chromium, as a support agent, an admin and an operator use it, over the real stack.

A support agent who knows only the console's URL and a token finds a held payment, reads why on the
timeline, retries it to a new account, confirms, and sees it paid (once, at the partner); an admin finds
the retry in the audit log; an operator opens the journey in the Temporal UI (behind the dev stack's
same-origin proxy) and reads its input decrypted. Set CONSOLE_SCREENSHOTS=<dir> to keep a picture of
each page, in English and Bahasa Indonesia (docs/console.md shows them).
"""

import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from core.contracts import journey_id
from core.temporal import search_attribute_flags
from tests.e2e.stack import loopback_socket, poll, serving, stack, staff_headers, url_of
from tests.e2e.test_money_e2e import INCENTIVE, awarded, open_programme
from tests.workflows.harness import Person

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import uiproxy  # noqa: E402

CHROMIUM = os.environ.get("PRAKERJA_CHROMIUM", "/usr/bin/chromium")
BIN = Path(sys.executable).parent
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")
pytestmark = [
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"browser tests need a chromium at {CHROMIUM}"),
    pytest.mark.timeout(150),
]
# Chromium on a machine with no internet: no background calls home, no sandbox (root in CI).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def shot(page: Any, name: str, full_page: bool = True) -> None:
    if SHOTS:
        clip = None if full_page else {"x": 0, "y": 0, "width": 1280, "height": 500}
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page, clip=clip)


async def assert_private(page: Any, person: Person, *accounts: str) -> None:
    """No console page shows who the person is or a full account number."""
    html = await page.content()
    for secret in (person.nik, person.kk_number, person.full_name, "81234567890", *accounts):
        assert secret not in html, f"{page.url} shows personal data"


async def sign_in(page: Any, api: str, token: str) -> None:
    await page.goto(f"{api}/console?lang=en")
    await page.get_by_label("Staff token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="What would you like to do?").wait_for()


async def test_support_retries_a_held_payment_in_the_console_and_an_operator_reads_the_journey(browser, engine):
    proxy_sock, ui_port = loopback_socket(), loopback_socket()
    ui_port_number = ui_port.getsockname()[1]
    ui_port.close()  # the dev server binds it itself
    proxy = url_of(proxy_sock)
    flags = [arg for flag in search_attribute_flags() for arg in ("--search-attribute", flag)]
    async with (
        await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"),
            ui=True,
            ui_port=ui_port_number,
            dev_server_extra_args=["--ui-codec-endpoint", f"{proxy}/codec", "--ui-disable-news-fetch", *flags],
        ) as temporal,
        stack(temporal, engine, "console", ui_origin=proxy) as live,
        serving(uiproxy.UIProxy(str(live.http.base_url).rstrip("/"), f"http://127.0.0.1:{ui_port_number}"), proxy_sock),
    ):
        api = str(live.http.base_url).rstrip("/")
        programme = await open_programme(live)
        [b] = await awarded(programme, [Person()])
        closing, new_account = "081200003333", "9876543210"
        await programme.account(programme.ewallet, closing, b.person)
        await programme.account(programme.bank, new_account, b.person)  # opened at the bank, KYC done
        await programme.train((await b.me())["prakerja_number"], "TOKO-C")
        await b.link(programme.ewallet, closing)
        await programme.account(programme.ewallet, closing, b.person, status="CLOSED")  # closed after linking
        await programme.complete("TOKO-C")
        await b.review("TOKO-C")
        await b.until(lambda v: v["status"] == "PAYMENT_ON_HOLD")
        support_token = (await staff_headers(live.http, live.settings.admin_token, "support"))["Authorization"][7:]
        payment_id = f"PAY-{b.registration_id}-I1"

        context = await browser.new_context()
        page = await context.new_page()
        # --- support: sign in, find the held payment, read why, retry elsewhere, confirm ---
        await page.goto(f"{api}/console?lang=id")
        await page.get_by_role("heading", name="Masuk untuk petugas").wait_for()
        await shot(page, "signin-id")
        await page.goto(f"{api}/console?lang=en")
        await shot(page, "signin-en")
        await sign_in(page, api, support_token)
        await shot(page, "home-en")
        await page.get_by_role("link", name="Payments on hold").first.click()
        row = page.get_by_role("row").filter(has_text=payment_id)
        await row.get_by_text("ACCOUNT_CLOSED").wait_for()
        await shot(page, "payments-on-hold-en")
        await assert_private(page, b.person, closing, new_account)
        await page.goto(f"{api}/console/payments?status=ON_HOLD&lang=id")
        await shot(page, "payments-on-hold-id")
        await page.goto(f"{api}/console/payments?status=ON_HOLD&lang=en")
        await row.get_by_role("link", name=b.registration_id).click()
        await page.get_by_role("heading", name=f"Beneficiary {b.registration_id}").wait_for()
        timeline = page.get_by_role("table").filter(has_text="PAYMENT_ON_HOLD")
        await timeline.get_by_text("ACCOUNT_CLOSED").first.wait_for()
        await shot(page, "beneficiary-on-hold-en")
        await assert_private(page, b.person, closing, new_account)
        await page.goto(f"{api}/console/beneficiaries/{b.registration_id}?lang=id")
        await page.get_by_role("heading", name="Linimasa").wait_for()
        await shot(page, "beneficiary-on-hold-id")
        await page.goto(f"{api}/console/beneficiaries/{b.registration_id}?lang=en")

        await page.get_by_label("New payment partner").select_option(programme.bank)
        await page.get_by_label("New account number").fill(new_account)
        await page.get_by_role("button", name="Retry").click()
        await page.get_by_role("heading", name="Confirm the retry").wait_for()
        assert new_account not in await page.content()  # the target account is shown masked
        await page.get_by_text("******3210").wait_for()
        await shot(page, "retry-confirm-en")
        await page.get_by_role("button", name="Confirm").click()
        await page.get_by_role("status").filter(has_text="Retry accepted").wait_for()

        async def status_on_page() -> str:
            await page.reload()
            return await page.get_by_role("row").filter(has_text=payment_id).first.inner_text()

        await poll(status_on_page, lambda text: "PAID" in text, timeout=30)
        await page.get_by_role("table").filter(has_text="PAYMENT_RETRIED").wait_for()
        await shot(page, "beneficiary-paid-en")
        await assert_private(page, b.person, closing, new_account)
        paid = await programme.received(programme.bank, b.registration_id)
        assert [(p["idempotency_key"], p["amount"], p["status"]) for p in paid] == [
            (f"{payment_id}-A2", INCENTIVE, "SUCCEEDED")
        ]  # paid once, to the new account, under the second attempt's key
        assert new_account not in await page.content() and closing not in await page.content()

        await page.goto(f"{api}/console/waves")
        await page.get_by_role("heading", name="Not allowed").wait_for()  # a support token may not see waves
        assert (await page.request.get(f"{api}/console/waves")).status == 403

        # --- admin: the retry in the audit log ---
        await page.get_by_role("button", name="Sign out").click()
        await sign_in(page, api, live.settings.admin_token)
        await page.get_by_role("link", name="Audit log").first.click()
        await page.get_by_label("Registration id").fill(b.registration_id)
        await page.get_by_role("button", name="Filter").click()
        retried = page.get_by_role("row").filter(has_text="/retry/confirm")
        await retried.filter(has_text="303").first.wait_for()
        assert "staff:" in await retried.first.inner_text()
        await shot(page, "audit-en")
        await assert_private(page, b.person, closing, new_account)
        await page.goto(f"{api}/console/audit?lang=id")
        await shot(page, "audit-id")

        # --- operator: waves, and the journey in the Temporal UI, decrypted ---
        await page.goto(f"{api}/console/waves?lang=en")
        await page.get_by_role("heading", name="Waves").wait_for()
        await shot(page, "waves-en")
        await page.goto(f"{api}/console/waves?lang=id")
        await page.get_by_role("heading", name="Gelombang").first.wait_for()
        await shot(page, "waves-id")
        await page.goto(f"{api}/console/waves?lang=en")
        await page.goto(f"{api}/console/beneficiaries/{b.registration_id}?lang=en")
        async with context.expect_page() as opened:
            await page.get_by_role("link", name="Open this journey in the Temporal UI").click()
        ui = await opened.value
        assert ui.url.startswith(f"{proxy}/namespaces/") and journey_id(b.registration_id) in ui.url
        # The workflow's input is encrypted at rest; decrypted, it names the registration in clear JSON.
        await ui.get_by_text(f'"registration_id": "{b.registration_id}"').first.wait_for(timeout=30_000)
        await shot(ui, "temporal-ui-decrypted", full_page=False)  # the top: no test person's details
        await context.close()
        await temporal.client.get_workflow_handle(journey_id(b.registration_id)).terminate("browser test finished")
