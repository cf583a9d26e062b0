"""A journey driven through the API moves the business series on /metrics by exactly what it did."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

import api.context
from tests.api.test_money import INCENTIVE, Money, money_app
from tests.api.test_programme_office import series


@pytest_asyncio.fixture
async def money(dev_env, engine, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Money]:
    monkeypatch.setattr(api.context, "FIGURES_TTL_S", 0.1)  # the test reads its own writes, not a 5 s old count
    async with money_app(dev_env, engine, 1.0) as m:
        yield m


async def scrape(money: Money) -> str:
    await asyncio.sleep(0.15)
    resp = await money.http.get("/metrics")
    assert resp.status_code == 200
    return resp.text


async def test_a_paid_incentive_moves_the_series_by_exactly_one_payment(money: Money) -> None:
    before = await scrape(money)
    [card] = await money.trained()
    assert (await money.link(card, money.ewallet, money.account(card, money.ewallet))).status_code == 200
    await money.complete(card)
    await money.review(card)
    await money.until(card, lambda v: any(p["kind"] == "INCENTIVE" and p["status"] == "PAID" for p in v["payments"]))
    after = await scrape(money)

    def delta(name: str) -> dict:
        old, new = series(before, name), series(after, name)
        return {k: new.get(k, 0) - old.get(k, 0) for k in set(old) | set(new) if new.get(k, 0) != old.get(k, 0)}

    journeys = delta("prakerja_journeys")
    assert journeys == {(("status", "INCENTIVES"),): 1}  # one journey more, in INCENTIVES
    assert delta("prakerja_paid_rupiah_total") == {(("kind", "INCENTIVE"), ("partner", money.ewallet)): INCENTIVE}
    # The ledger holds a payment from when it falls due: the first instalment, paid once, at the linked partner.
    assert delta("prakerja_payments_total") == {
        (("kind", "INCENTIVE"), ("partner", money.ewallet), ("status", "PAID")): 1
    }
