"""Life events and money integrity end to end, over real sockets, with a programme month of five seconds.

One beneficiary dies after two instalments: the simulated civil registry sends the signed event to the live API,
nothing more is paid, and the clawback equals what the payment partner's own records show was paid. Another
relinks to a bank mid-schedule: the instalment already paid stays at the e-wallet, the later ones go to the
bank, which keeps a fee out of each, and reconciliation catches every one of those amounts."""

import asyncio
from typing import Any

from core.contracts import journey_id
from tests.e2e.stack import ok, stack, staff_headers
from tests.e2e.test_money_e2e import Beneficiary, Programme, awarded, ledger_days, open_programme
from tests.workflows.harness import NO_PURCHASE_RACE, Person

MONTH_S = 5
TIME_SCALE = 30 * 86400 / MONTH_S
INCENTIVE, FEE = 600_000, 2_500


def incentives(view: dict[str, Any]) -> list[tuple[int, str, str | None, str | None]]:
    return [
        (p["number"], p["status"], p["partner_client_code"], p["reason"])
        for p in sorted(view["payments"], key=lambda p: p["number"])
        if p["kind"] == "INCENTIVE"
    ]


def paid(view: dict[str, Any]) -> set[int]:
    return {n for n, status, _, _ in incentives(view) if status == "PAID"}


async def ready(b: Beneficiary, partner: str, account: str, ref: str) -> None:
    """Trained, reviewed, an account linked: the instalments start."""
    programme = b.programme
    await programme.train((await b.me())["prakerja_number"], ref)
    await programme.account(partner, account, b.person)
    await b.link(partner, account)
    await programme.complete(ref)
    await b.review(ref)


async def dies_in_month_two(b: Beneficiary, registry: str, dev_env) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    programme, live = b.programme, b.programme.live
    await ready(b, programme.ewallet, "081200003333", "TOKO-D")
    await b.until(lambda v: paid(v) == {1, 2}, timeout=4 * MONTH_S)  # instalment 3 is a month away

    sent = await live.sim("POST", "/sim/registry-events", {"nik": b.person.nik, "event": "DECEASED"}, 202)
    assert sent["sent"] is True

    view = await b.until(lambda v: v["status"] == "REVOKED")
    # Once the journey has closed nothing more can be paid: what the partner holds now is final.
    await dev_env.client.get_workflow_handle(journey_id(b.registration_id)).result()
    view = await b.me()
    assert view["reasons"] == ["DECEASED"]
    ew = programme.ewallet
    assert incentives(view) == [(1, "PAID", ew, None), (2, "PAID", ew, None)] + [
        (n, "CANCELLED", None, "DECEASED") for n in (3, 4)
    ]
    assert [p for p in view["payments"] if p["kind"] == "SURVEY"] == []
    received = await programme.received(ew, b.registration_id)
    ids = [f"PAY-{b.registration_id}-I{n}" for n in (1, 2)]
    assert sorted((r["idempotency_key"], r["status"], r["amount"]) for r in received) == [
        (f"{i}-A1", "SUCCEEDED", INCENTIVE) for i in ids
    ]
    assert view["clawback"] == {"amount": sum(r["amount"] for r in received), "payment_ids": ids}
    assert view["clawback"]["amount"] == 1_200_000
    support = await staff_headers(live.http, live.settings.admin_token, "support")
    listed = ok(await live.http.get("/v1/support/clawbacks", headers=support), 200)["items"]
    assert [(c["registration_id"], c["amount"], c["reason"]) for c in listed] == [
        (b.registration_id, 1_200_000, "DECEASED")
    ]
    path = f"/v1/beneficiaries/{b.registration_id}/timeline"
    timeline = ok(await live.http.get(path, headers=support), 200)["items"]
    assert [(i["detail"]["event"], i["actor"]) for i in timeline if i["kind"] == "LIFE_EVENT"] == [
        ("DECEASED", registry)
    ]
    assert b.person.nik not in str(timeline)
    return view


async def relinks_to_the_bank(b: Beneficiary) -> dict[str, Any]:
    programme = b.programme
    ew, bank, account = programme.ewallet, programme.bank, "1234500000"
    await ready(b, ew, "081200004444", "TOKO-R")
    await programme.account(bank, account, b.person)
    await b.until(lambda v: paid(v) == {1}, timeout=4 * MONTH_S)

    await b.link(bank, account)  # PUT /v1/me/payment-account, a month before instalment 2

    view = await b.until(lambda v: paid(v) == {1, 2, 3, 4}, timeout=6 * MONTH_S)
    assert incentives(view) == [(1, "PAID", ew, None)] + [(n, "PAID", bank, None) for n in (2, 3, 4)]
    assert view["payment_account"]["partner_client_code"] == bank
    at_ewallet = await programme.received(ew, b.registration_id)
    assert [(r["idempotency_key"], r["amount"]) for r in at_ewallet] == [(f"PAY-{b.registration_id}-I1-A1", INCENTIVE)]
    at_bank = await programme.received(bank, b.registration_id)
    assert sorted((r["idempotency_key"], r["account_number"], r["amount"]) for r in at_bank) == [
        (f"PAY-{b.registration_id}-I{n}-A1", account, INCENTIVE - FEE) for n in (2, 3, 4)
    ]
    return view


async def test_death_stops_the_money_and_a_partner_keeping_fees_is_caught(dev_env, engine):
    async with stack(dev_env, engine, "e2e-life", terms=NO_PURCHASE_RACE, time_scale=TIME_SCALE) as live:
        programme: Programme = await open_programme(live)
        registry = f"DUKCAPIL-{programme.bank.rsplit('-', 1)[1]}"
        body = {"client_code": registry, "kind": "civil_registry", "name": "Dukcapil"}
        key = ok(await live.http.post("/v1/admin/partners", json=body, headers=live.admin), 201)["sign_key"]
        config = {"client_code": registry, "sign_key": key, "api_url": str(live.http.base_url)}
        await live.sim("POST", "/sim/registry-partners", config, 201)
        fee = {"target": f"payment:{programme.bank}", "kind": "fee_deduction", "rate": 1, "amount": FEE}
        await live.sim("POST", "/sim/faults", fee, 201)
        dying, relinking = await awarded(programme, [Person(), Person()])
        try:
            await asyncio.gather(dies_in_month_two(dying, registry, dev_env), relinks_to_the_bank(relinking))

            support = await staff_headers(live.http, live.settings.admin_token, "support")
            reports = [
                ok(await live.http.get(f"/v1/support/reconciliation?date={day}", headers=support), 200)
                for day in await ledger_days(engine, dying.registration_id, relinking.registration_id)
            ]
            rows = [p for r in reports for p in r["partners"]]
            bank = [p for p in rows if p["partner_client_code"] == programme.bank]
            ewallet = [p for p in rows if p["partner_client_code"] == programme.ewallet]
            assert all(p["matches"] for p in ewallet) and not any(p["matches"] for p in bank if p["paid_count"])
            mismatches = [d for p in bank for d in p["differences"]]
            assert sorted(
                (d["idempotency_key"], d["kind"], d["ledger_amount"], d["partner_amount"]) for d in mismatches
            ) == [
                (f"PAY-{relinking.registration_id}-I{n}-A1", "AMOUNT_MISMATCH", INCENTIVE, INCENTIVE - FEE)
                for n in (2, 3, 4)
            ]
        finally:
            for b in (dying, relinking):
                try:
                    await dev_env.client.get_workflow_handle(journey_id(b.registration_id)).terminate("test finished")
                except Exception:  # already completed or terminated
                    pass
