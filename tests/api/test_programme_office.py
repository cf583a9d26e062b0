"""Programme office over the real app: business series on /metrics, the payment-partner SLA report (JSON and
console page), and the public transparency figures (JSON and page), on a seeded projection and ledger."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from core.domain import JourneyStatus
from db.models import Beneficiary
from services.reports import payment_partner_sla, percentile
from tests.api.helpers import assert_problem, bearer, staff_token
from tests.api.ledger import attempt, beneficiary, completed_training, partner, payment, wave
from tests.api.test_console import as_role

DAY = date(2026, 1, 10)


def at(hour: int, minute: int = 0, second: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


async def seed_ledger(sessions) -> None:
    """FAST pays 5 (10, 20, 30, 40 and 100 s after the first attempt, the last after one failed attempt) and
    has 2 pending; SLOW holds one and paid one in an hour; an older payment (the day before) is outside."""
    async with sessions.begin() as session:
        session.add_all([partner("FAST"), partner("SLOW"), partner("IDLE"), partner("MKT", "marketplace")])
        people = [beneficiary() for _ in range(10)]
        session.add_all(people)
        await session.flush()
        rows: list = []
        for person, seconds in zip(people[:4], (10, 20, 30, 40), strict=True):
            pay = payment(person.registration_id, "PAID", "FAST", paid_at=at(9) + timedelta(seconds=seconds))
            rows += [pay, attempt(pay, 1, "FAST", "SUCCEEDED", at(9))]
        retried = payment(people[4].registration_id, "PAID", "FAST", paid_at=at(10, 1, 40))
        rows += [
            retried,
            attempt(retried, 1, "FAST", "FAILED", at(10)),
            attempt(retried, 2, "FAST", "SUCCEEDED", at(10, 1)),
        ]
        for person, hour in ((people[5], 11), (people[6], 12)):
            pending = payment(person.registration_id, "PENDING", "FAST")
            rows += [pending, attempt(pending, 1, "FAST", "PENDING", at(hour, 30))]
        held = payment(people[7].registration_id, "ON_HOLD", "SLOW")
        rows += [held, attempt(held, 1, "SLOW", "FAILED", at(8))]
        slow = payment(people[8].registration_id, "PAID", "SLOW", paid_at=at(15))
        rows += [slow, attempt(slow, 1, "SLOW", "SUCCEEDED", at(14))]
        older = payment(people[9].registration_id, "PAID", "FAST", paid_at=at(23, day=DAY - timedelta(days=1)))
        rows += [older, attempt(older, 1, "FAST", "SUCCEEDED", at(22, day=DAY - timedelta(days=1)))]
        for row in rows:  # payments before their attempts (foreign key)
            session.add(row)
            await session.flush()


def test_percentiles_interpolate_like_percentile_cont() -> None:
    assert percentile([10, 20, 30, 40, 100], 0.5) == 30
    assert percentile([10, 20, 30, 40, 100], 0.95) == 88.0
    assert percentile([7], 0.95) == 7 and percentile([], 0.5) is None


async def test_the_sla_report_on_a_seeded_ledger(sessions) -> None:
    await seed_ledger(sessions)
    async with sessions() as session:
        rows = await payment_partner_sla(session, DAY, DAY, sla_s=3600, now=at(13))
    by_code = {row.partner_client_code: row for row in rows}
    assert list(by_code) == ["FAST", "IDLE", "SLOW"]  # payment partners only, every one
    fast, idle, slow = by_code["FAST"], by_code["IDLE"], by_code["SLOW"]
    assert (fast.attempts, fast.succeeded, fast.failed, fast.success_rate) == (8, 5, 1, 0.8333)
    assert (fast.p50_seconds_to_final, fast.p95_seconds_to_final) == (30, 88.0)
    assert (fast.pending, fast.pending_over_sla, fast.on_hold, fast.paid_rupiah) == (2, 1, 0, 3_000_000)
    assert (slow.attempts, slow.succeeded, slow.failed, slow.success_rate) == (2, 1, 1, 0.5)
    assert (slow.p50_seconds_to_final, slow.on_hold, slow.paid_rupiah) == (3600, 1, 600_000)
    assert (idle.attempts, idle.success_rate, idle.p50_seconds_to_final, idle.paid_rupiah) == (0, None, None, 0)


async def test_the_sla_report_over_http_for_support_and_operators_only(client, settings, sessions) -> None:
    await seed_ledger(sessions)
    path = f"/v1/reports/payment-partners?from={DAY}&to={DAY}"
    for role in ("support", "operator"):
        resp = await client.get(path, headers=bearer(await staff_token(client, settings, role)))
        assert resp.status_code == 200, resp.text
        report = resp.json()
        assert (report["from"], report["to"], report["sla_seconds"]) == (str(DAY), str(DAY), 86400)
        fast = next(item for item in report["items"] if item["partner_client_code"] == "FAST")
        assert fast["success_rate"] == 0.8333 and fast["p95_seconds_to_final"] == 88.0
        assert (fast["pending"], fast["pending_over_sla"], fast["paid_rupiah"]) == (2, 2, 3_000_000)  # long ago
    assert_problem(await client.get(path), 401, "UNAUTHENTICATED")
    backwards = await client.get(f"/v1/reports/payment-partners?from={DAY}&to={DAY - timedelta(days=1)}",
                                 headers=bearer(settings.admin_token))  # fmt: skip
    assert_problem(backwards, 422, "INVALID_RANGE")
    not_a_day = await client.get("/v1/reports/payment-partners?from=10-01-2026", headers=bearer(settings.admin_token))
    assert_problem(not_a_day, 422, "VALIDATION_ERROR")


async def test_the_console_shows_the_sla_report_in_both_languages(client, settings, sessions) -> None:
    await seed_ledger(sessions)
    await as_role(client, settings, "support")
    page = await client.get(f"/console/reports/payment-partners?from={DAY}&to={DAY}")
    assert page.status_code == 200 and "FAST" in page.text and "83.3 %" in page.text and "3.000.000" in page.text
    assert "Payment partners: service levels" in page.text
    in_bahasa = await client.get(f"/console/reports/payment-partners?from={DAY}&to={DAY}&lang=id")
    assert "Mitra pembayaran: tingkat layanan" in in_bahasa.text
    nonsense = await client.get("/console/reports/payment-partners?from=yesterday")
    assert nonsense.status_code == 200 and "bukan rentang yang sah" in nonsense.text  # the language stuck (cookie)
    client.cookies.clear()
    assert (await client.get("/console/reports/payment-partners")).status_code == 303  # sign in first


# --- /metrics -----------------------------------------------------------------------------------------


def series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def test_metrics_carry_the_programme_from_one_cached_query(client, sessions, app) -> None:
    await seed_ledger(sessions)
    async with sessions.begin() as session:
        done = beneficiary(status=JourneyStatus.COMPLETED)
        session.add(done)
        await session.flush()
        session.add(payment(done.registration_id, "PAID", "FAST", kind="SURVEY", amount=50_000, paid_at=at(9)))
        session.add(payment(done.registration_id, "SCHEDULED", None, number=2))

    scrapes = await asyncio.gather(*(client.get("/metrics") for _ in range(20)))

    assert app.state.ctx.programme.computations == 1  # a burst of scrapes, one grouped query
    text = scrapes[0].text
    journeys = series(text, "prakerja_journeys")
    assert journeys[(("status", "INCENTIVES"),)] == 10 and journeys[(("status", "COMPLETED"),)] == 1
    assert journeys[(("status", "REVOKED"),)] == 0
    payments = series(text, "prakerja_payments_total")
    assert payments[(("kind", "INCENTIVE"), ("partner", "FAST"), ("status", "PAID"))] == 6
    assert payments[(("kind", "INCENTIVE"), ("partner", "FAST"), ("status", "PENDING"))] == 2
    assert payments[(("kind", "INCENTIVE"), ("partner", "SLOW"), ("status", "ON_HOLD"))] == 1
    assert payments[(("kind", "INCENTIVE"), ("partner", "none"), ("status", "SCHEDULED"))] == 1
    paid = series(text, "prakerja_paid_rupiah_total")
    assert paid == {
        (("kind", "INCENTIVE"), ("partner", "FAST")): 3_600_000,
        (("kind", "INCENTIVE"), ("partner", "SLOW")): 600_000,
        (("kind", "SURVEY"), ("partner", "FAST")): 50_000,
    }
    assert "REG-" not in text and "0811000011112222" not in text  # ids and accounts never become labels


# --- transparency -----------------------------------------------------------------------------------


async def seed_population(sessions) -> None:
    """Jawa Barat: 12 registered, 2 rejected, 10 awarded, trained and paid one incentive; Papua: 3 registered."""
    async with sessions.begin() as session:
        session.add(wave("W-1", "Gelombang 1"))
        rejected = [beneficiary(status=JourneyStatus.REJECTED) for _ in range(2)]
        trained = [beneficiary(wave_id="W-1", awarded=True) for _ in range(10)]
        papua = [beneficiary("Papua", JourneyStatus.TRAINING, "W-1", awarded=True) for _ in range(3)]
        session.add_all([*rejected, *trained, *papua])
        await session.flush()
        for person in trained:
            session.add(completed_training(person.registration_id))
            session.add(payment(person.registration_id, "PAID", "FAST", paid_at=at(9)))
        session.add(payment(papua[0].registration_id, "PAID", "FAST", kind="SURVEY", amount=50_000, paid_at=at(9)))


async def test_transparency_matches_a_direct_count_and_suppresses_small_cells(client, sessions, app) -> None:
    await seed_population(sessions)
    async with sessions() as session:
        direct = dict(
            (await session.execute(select(Beneficiary.province, func.count()).group_by(Beneficiary.province))).all()
        )

    answers = await asyncio.gather(*(client.get("/v1/public/transparency") for _ in range(20)))

    assert app.state.ctx.transparency.computations == 1
    resp = answers[0]
    assert resp.status_code == 200 and "public" in resp.headers["cache-control"]
    body = resp.json()
    provinces = {row["province"]: row for row in body["by_province"]}
    assert provinces["Jawa Barat"]["registered"] == direct["Jawa Barat"] == 12
    assert provinces["Jawa Barat"] | {} == {
        "province": "Jawa Barat", "registered": 12, "eligible": 10, "awarded": 10, "trained": 10,
        "incentives_paid_rupiah": 6_000_000, "surveys_paid_rupiah": None,
    }  # fmt: skip
    assert direct["Papua"] == 3 and provinces["Papua"] == {
        "province": "Papua", "registered": None, "eligible": None, "awarded": None, "trained": None,
        "incentives_paid_rupiah": None, "surveys_paid_rupiah": None,
    }  # fmt: skip
    assert body["totals"] == {
        "registered": 15, "eligible": 13, "awarded": 13, "trained": 10,
        "incentives_paid_rupiah": 6_000_000, "surveys_paid_rupiah": None,
    }  # fmt: skip
    [w1] = body["by_wave"]
    assert (w1["wave_id"], w1["name"], w1["registered"], w1["awarded"]) == ("W-1", "Gelombang 1", 13, 13)
    assert "REG-" not in resp.text

    again = await client.get("/v1/public/transparency", headers={"If-None-Match": resp.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == resp.headers["etag"]


@pytest.mark.parametrize(
    ("headers", "query", "heading", "suppressed"),
    [
        ({"Accept-Language": "en-US,en;q=0.9"}, "", "Prakerja in numbers", "fewer than 10"),
        ({"Accept-Language": "id-ID,id;q=0.9"}, "", "Prakerja dalam angka", "kurang dari 10"),
        ({"Accept-Language": "id"}, "?lang=en", "Prakerja in numbers", "fewer than 10"),
    ],
)
async def test_the_public_page_shows_charts_in_the_readers_language(
    client, sessions, headers, query, heading, suppressed
):
    await seed_population(sessions)
    page = await client.get(f"/transparency{query}", headers=headers)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert heading in page.text and suppressed in page.text and "<svg" in page.text
    assert "6.000.000" in page.text or "6,000,000" in page.text
    assert page.headers["etag"] and "Accept-Language" in page.headers["vary"]
    cached = await client.get(f"/transparency{query}", headers={**headers, "If-None-Match": page.headers["etag"]})
    assert cached.status_code == 304
