"""The journey timeline ("why was I not paid?") over the real app: one test per journey shape, as support and
the beneficiary read it, and proof that no timeline carries a person's NIK, KK, name, phone or account number."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from api.audit import ActorKind, AuditActor, resource_of
from core.payments import registration_of_payment
from tests.api.helpers import assert_problem, bearer
from tests.api.live import Live, live_app
from tests.api.test_money import Money, paid, ref
from tests.api.test_money import fast_money as fast_money  # noqa: F401 (fixtures used by the tests below)
from tests.api.test_money import fast_surveys as fast_surveys  # noqa: F401
from tests.api.test_money import money as money  # noqa: F401
from tests.workflows.harness import Person

PHONE = "081234567890"  # every registration's phone (tests.api.live.registration_body)
NAME = "Siti Rahayu"
EWALLET_ACCOUNT, BANK_ACCOUNT = "081277770001", "5550002222"


@pytest_asyncio.fixture
async def live(dev_env, engine) -> AsyncIterator[Live]:
    async with live_app(dev_env.client, engine) as app:
        yield app


def remembering(live: Live) -> list[Person]:
    """The people `live.citizen` makes from now on (their KK numbers, to prove they never leak)."""
    made: list[Person] = []
    citizen = live.citizen

    def recorded(**overrides: Any) -> Person:
        made.append(person := citizen(**overrides))
        return person

    live.citizen = recorded  # type: ignore[method-assign]
    return made


async def timeline(live: Live, registration_id: str, token: str, *secrets: str) -> list[dict[str, Any]]:
    """The timeline as support reads it, after checking the beneficiary reads the same and that neither raw
    JSON text holds any of `secrets`, the name or the phone."""
    resp = await live.http.get(f"/v1/beneficiaries/{registration_id}/timeline", headers=await live.staff("support"))
    assert resp.status_code == 200, resp.text
    mine = await live.http.get("/v1/me/timeline", headers=bearer(token))
    assert (mine.status_code, mine.json()) == (200, resp.json())
    for secret in (*secrets, NAME, PHONE):
        assert secret not in resp.text and secret not in mine.text, secret
    return resp.json()["items"]


async def staff_member(money: Money, role: str) -> tuple[dict[str, str], str]:
    admin = bearer(money.live.settings.admin_token)
    minted = await money.http.post("/v1/admin/staff-tokens", json={"role": role}, headers=admin)
    assert minted.status_code == 201, minted.text
    return bearer(minted.json()["token"]), minted.json()["staff_id"]


def kinds(items: list[dict[str, Any]]) -> list[str]:
    return [i["kind"] for i in items]


def the(items: list[dict[str, Any]], kind: str, **detail: Any) -> dict[str, Any]:
    """The one item of `kind` whose detail has these values."""
    [found] = [i for i in items if i["kind"] == kind and detail.items() <= i["detail"].items()]
    return found


def assert_ordered(items: list[dict[str, Any]]) -> None:
    ats = [i["at"] for i in items]
    assert ats == sorted(ats)


async def test_rejected_and_ineligible_journeys_say_which_check_refused_and_who_may_read_them(live):
    unknown = Person()  # the civil registry has never heard of this NIK
    student = live.citizen(is_student=True)
    rejected, ineligible = [await live.register(p) for p in (unknown, student)]
    await live.wait_me(rejected["beneficiary_token"], "REJECTED")
    await live.wait_me(ineligible["beneficiary_token"], "INELIGIBLE")

    refused = await timeline(
        live, rejected["registration_id"], rejected["beneficiary_token"], unknown.nik, unknown.kk_number
    )
    excluded = await timeline(
        live, ineligible["registration_id"], ineligible["beneficiary_token"], student.nik, student.kk_number
    )

    assert [(i["kind"], i["detail"], i["actor"]) for i in refused] == [
        ("REGISTERED", {}, None),
        ("IDENTITY_CHECKED", {"passed": False, "reasons": ["NIK_NOT_FOUND"]}, None),
    ]
    assert [(i["kind"], i["detail"]) for i in excluded] == [
        ("REGISTERED", {}),
        ("IDENTITY_CHECKED", {"passed": True, "reasons": []}),
        ("ELIGIBILITY_CHECKED", {"eligible": False, "reasons": ["STUDENT"], "wave_id": None}),
    ]
    assert_ordered(excluded)

    path = f"/v1/beneficiaries/{ineligible['registration_id']}/timeline"
    for role in ("operator", "admin"):
        headers = bearer(live.settings.admin_token) if role == "admin" else await live.staff(role)
        assert (await live.http.get(path, headers=headers)).json()["items"] == excluded
    assert_problem(await live.http.get(path), 401, "UNAUTHENTICATED")
    beneficiary = bearer(ineligible["beneficiary_token"])
    assert_problem(await live.http.get(path, headers=beneficiary), 401, "UNAUTHENTICATED")  # staff only
    assert_problem(await live.http.get("/v1/me/timeline"), 401, "UNAUTHENTICATED")
    assert_problem(await live.http.get("/v1/me/timeline", headers=await live.staff("support")), 401, "UNAUTHENTICATED")
    unknown_id = "/v1/beneficiaries/REG-NOPE/timeline"
    assert_problem(await live.http.get(unknown_id, headers=await live.staff("support")), 404, "REGISTRATION_NOT_FOUND")


async def test_a_held_payment_retried_by_support_to_a_new_account_then_revoked(money):
    """The grievance: paid late, and to another account. The timeline names the partner's answer, the staff
    member who moved it, the new partner and (masked) account, and the operator who revoked the card."""
    made = remembering(money.live)
    [card] = await money.trained()
    await money.complete(card)
    refusal = await money.link(card, money.ewallet, "081200000404")  # never opened at this partner
    assert assert_problem(refusal, 422, "EKYC_FAILED")["reason"] == "ACCOUNT_NOT_FOUND"
    money.account(card, money.ewallet, EWALLET_ACCOUNT)
    assert (await money.link(card, money.ewallet, EWALLET_ACCOUNT)).status_code == 200
    money.account(card, money.ewallet, EWALLET_ACCOUNT, status="CLOSED")  # closed after linking ...
    await money.review(card)  # ... so incentive 1, due now, is refused by the partner
    await money.live.wait_me(card.token, "PAYMENT_ON_HOLD")
    support, support_id = await staff_member(money, "support")
    payment_id = f"PAY-{card.registration_id}-I1"
    money.account(card, money.bank, BANK_ACCOUNT)
    moved = {"partner_client_code": money.bank, "account_number": BANK_ACCOUNT}
    retried = await money.http.post(f"/v1/support/payments/{payment_id}/retry", json=moved, headers=support)
    assert retried.status_code == 202, retried.text
    await money.until(card, lambda v: paid(v, "INCENTIVE", 1) is not None)
    operator, operator_id = await staff_member(money, "operator")
    revoke_url, note = f"/v1/beneficiaries/{card.registration_id}/revoke", {"reason": "fraud report #7"}
    assert (await money.http.post(revoke_url, json=note, headers=operator)).status_code == 200
    await money.live.wait_me(card.token, "REVOKED")

    [person] = made
    secrets = (card.nik, person.kk_number, EWALLET_ACCOUNT, BANK_ACCOUNT, "081200000404", "Bagus", "fraud report")
    items = await timeline(money.live, card.registration_id, card.token, *secrets)

    assert kinds(items)[:-3] == [
        "REGISTERED",
        "IDENTITY_CHECKED",
        "ELIGIBILITY_CHECKED",
        "POOLED",
        "DRAWN",
        "AWARDED",
        "PURCHASED",
        "COMPLETED",
        "ACCOUNT_LINKED",
        "ACCOUNT_LINKED",
        "REVIEWED",
        "PAYMENT_ATTEMPTED",
        "PAYMENT_ON_HOLD",
        "PAYMENT_RETRIED",
        "PAYMENT_ATTEMPTED",
        "PAYMENT_PAID",
    ]
    assert sorted(kinds(items)[-3:]) == ["BALANCE_RETURNED", "CLAWBACK_RECORDED", "REVOKED"]
    assert_ordered(items)
    assert the(items, "ACCOUNT_LINKED", verified=False)["detail"] == {"verified": False, "reason": "ACCOUNT_NOT_FOUND"}
    assert the(items, "ACCOUNT_LINKED", verified=True)["detail"] == {"verified": True, "partner": money.ewallet}
    assert the(items, "REVIEWED")["detail"] == {"purchase_ref": ref(card), "course_id": "C-400", "rating": 5}
    assert the(items, "PAYMENT_ATTEMPTED", attempt=1)["detail"] == {
        "payment_id": payment_id,
        "kind": "INCENTIVE",
        "number": 1,
        "attempt": 1,
        "partner": money.ewallet,
        "account": "********0001",
        "amount": 600_000,
    }
    held = the(items, "PAYMENT_ON_HOLD")
    assert (held["detail"]["reason"], held["detail"]["attempt"], held["actor"]) == ("ACCOUNT_CLOSED", 1, money.ewallet)
    retry = the(items, "PAYMENT_RETRIED")
    assert (retry["detail"], retry["actor"]) == ({"payment_id": payment_id, "partner": money.bank}, support_id)
    assert the(items, "PAYMENT_ATTEMPTED", attempt=2)["detail"]["account"] == "******2222"
    paid_item = the(items, "PAYMENT_PAID")
    assert (paid_item["detail"]["partner"], paid_item["detail"]["amount"], paid_item["actor"]) == (
        money.bank,
        600_000,
        money.bank,
    )
    revoked = the(items, "REVOKED")
    assert (revoked["detail"], revoked["actor"]) == ({"reasons": ["REVOKED_BY_OPERATOR"]}, operator_id)
    assert the(items, "CLAWBACK_RECORDED")["detail"] == {
        "amount": 600_000,
        "payment_ids": [payment_id],
        "reason": "REVOKED_BY_OPERATOR",
    }
    assert the(items, "BALANCE_RETURNED")["detail"] == {"amount": 600_000, "reason": "REVOKED"}


async def test_a_journey_revoked_at_the_purchase_deadline(fast_money):
    """Programme months of 3 s, the profile's own deadline: a card that buys nothing is revoked when it passes."""
    money = fast_money
    made = remembering(money.live)
    [idle] = await money.shop.awarded(1)
    # The wave's calendar tells it of the deadline a grace after (activities/draw.py: at least 5 s of real time).
    await money.live.wait_me(idle.token, "REVOKED", timeout=20)

    lapsed = await timeline(money.live, idle.registration_id, idle.token, idle.nik, made[0].kk_number)

    wave_id = the(lapsed, "AWARDED")["detail"]["wave_id"]
    assert [(i["kind"], i["detail"], i["actor"]) for i in lapsed] == [
        ("REGISTERED", {}, None),
        ("IDENTITY_CHECKED", {"passed": True, "reasons": []}, None),
        ("ELIGIBILITY_CHECKED", {"eligible": True, "reasons": [], "wave_id": None}, None),  # no wave open yet
        ("POOLED", {"wave_id": None}, None),
        ("DRAWN", {"wave_id": wave_id, "selected": True}, None),
        ("AWARDED", {"amount": 1_000_000, "profile": "prakerja-2020", "wave_id": wave_id}, None),
        ("REVOKED", {"reasons": ["PURCHASE_DEADLINE_MISSED"]}, None),
        ("BALANCE_RETURNED", {"amount": 1_000_000, "reason": "REVOKED"}, None),
    ]


async def test_a_completed_journey(fast_surveys):
    """Programme months of 3 s (awards pin a first-purchase deadline no slow machine misses): the card buys,
    trains, reviews, answers a survey and is paid."""
    money = fast_surveys
    made = remembering(money.live)
    [keen] = await money.shop.awarded(1)
    assert (await money.shop.buy(keen, ref(keen))).status_code == 201
    money.account(keen, money.ewallet, EWALLET_ACCOUNT)
    assert (await money.link(keen, money.ewallet, EWALLET_ACCOUNT)).status_code == 200
    await money.complete(keen)
    await money.review(keen)
    assert (await money.survey(keen, 1)).status_code == 200
    await money.until(keen, lambda v: paid(v, "INCENTIVE", 1) and paid(v, "SURVEY", 1))

    typed = (EWALLET_ACCOUNT, "digital marketing", "Bagus")  # the account, a survey answer, a review's text
    done = await timeline(money.live, keen.registration_id, keen.token, keen.nik, made[0].kk_number, *typed)

    assert kinds(done)[:8] == [
        "REGISTERED",
        "IDENTITY_CHECKED",
        "ELIGIBILITY_CHECKED",
        "POOLED",
        "DRAWN",
        "AWARDED",
        "PURCHASED",
        "ACCOUNT_LINKED",
    ]
    assert_ordered(done)
    assert the(done, "PURCHASED")["actor"] == "MKT-A"
    completed = the(done, "COMPLETED")
    assert (completed["detail"]["purchase_ref"], completed["actor"]) == (ref(keen), "MKT-A")
    assert the(done, "REVIEWED")["detail"]["rating"] == 5
    assert the(done, "SURVEY_SUBMITTED")["detail"] == {"survey_no": 1}
    survey_paid = the(done, "PAYMENT_PAID", payment_id=f"PAY-{keen.registration_id}-S1")
    assert (survey_paid["detail"]["amount"], survey_paid["actor"]) == (50_000, money.ewallet)
    assert the(done, "PAYMENT_PAID", payment_id=f"PAY-{keen.registration_id}-I1")["detail"]["account"] == "********0001"
    assert "REVOKED" not in kinds(done)
    order = kinds(done)
    assert order.index("COMPLETED") < order.index("REVIEWED") < order.index("PAYMENT_PAID")


@pytest.mark.parametrize(
    ("payment_id", "registration_id"),
    [
        ("PAY-REG-0A1B2C3D4E5F6A7B-I1", "REG-0A1B2C3D4E5F6A7B"),
        ("PAY-REG-0A1B2C3D4E5F6A7B-S3-A2", "REG-0A1B2C3D4E5F6A7B"),
        ("REG-0A1B2C3D4E5F6A7B", None),
        ("PAY-REG-X-Q1", None),
    ],
)
def test_an_audit_row_names_the_registration_a_payment_or_attempt_belongs_to(payment_id, registration_id):
    assert registration_of_payment(payment_id) == registration_id
    staff = AuditActor(ActorKind.STAFF, "stf-1")
    assert resource_of(staff, {"payment_id": payment_id}) == registration_id
    assert resource_of(AuditActor(ActorKind.BENEFICIARY, "REG-ME"), {"payment_id": payment_id}) == "REG-ME"
