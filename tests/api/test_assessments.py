"""Course submission and assessment through the real app, a dev-server worker and signed partners: who may
submit, decide and withdraw; a course sells only while approved; a beneficiary's review reaches its rating."""

import uuid
from typing import Any

import pytest
import pytest_asyncio

from tests.api.helpers import assert_problem
from tests.api.live import live_app
from tests.api.training import Shop, open_shop

COURSE = {
    "course_id": "NEW",  # made unique per test: workflow ids (assessment-<course>-<n>) outlive a test's database
    "title": "Akuntansi UMKM",
    "description": "Pembukuan sederhana untuk usaha kecil",
    "provider_client_code": "PRV-A",
    "price": 350_000,
    "category": "FINANCE",
    "mode": "ONLINE",
    "duration_hours": 12,
}


@pytest_asyncio.fixture
async def shop(dev_env, engine):
    async with live_app(dev_env.client, engine) as live:
        yield await open_shop(live)


@pytest.fixture(autouse=True)
def new_course_id(monkeypatch: pytest.MonkeyPatch) -> str:
    course_id = f"NEW-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(COURSE, "course_id", course_id)
    return course_id


async def submit(shop: Shop, by: str = "MKT-A", **changes: Any):
    return await shop.call(by, "POST", "/v1/partners/courses", COURSE | changes)


async def decide(shop: Shop, decision: str, *reasons: str, role: str = "operator"):
    body = {"decision": decision, "reasons": list(reasons)}
    path = f"/v1/assessments/{COURSE['course_id']}/decision"
    return await shop.http.post(path, json=body, headers=await shop.live.staff(role))


async def queue(shop: Shop, status: str) -> list[dict[str, Any]]:
    resp = await shop.http.get("/v1/assessments", params={"status": status}, headers=await shop.live.staff("operator"))
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


async def test_marketplaces_submit_others_may_not(shop):
    by_provider = await submit(shop, by="PRV-A")
    unknown_provider = await submit(shop, provider_client_code="MKT-B")
    invalid = await submit(shop, price=0, mode="HYBRID")
    accepted = await submit(shop)
    pending = await submit(shop)
    other_seller = await submit(shop, by="MKT-B")
    admins_course = await submit(shop, course_id="C-400")

    assert_problem(by_provider, 403, "FORBIDDEN_PARTNER_KIND")
    assert_problem(unknown_provider, 422, "UNKNOWN_PROVIDER")
    assert_problem(invalid, 422, "VALIDATION_ERROR")
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"course_id": COURSE["course_id"], "status": "SUBMITTED", "submission_no": 1}
    assert_problem(pending, 409, "COURSE_PENDING")
    assert_problem(other_seller, 409, "COURSE_EXISTS")
    assert_problem(admins_course, 409, "COURSE_EXISTS")
    [item] = await queue(shop, "PENDING")
    assert (item["course_id"], item["submitted_by"], item["flag"], item["course_status"]) == (
        COURSE["course_id"],
        "MKT-A",
        None,
        "PENDING",
    )


async def test_operators_decide_and_a_rejected_course_is_resubmitted(shop):
    assert (await submit(shop)).status_code == 202

    by_support = await decide(shop, "APPROVED", role="support")
    no_reasons = await decide(shop, "REJECTED")
    rejected = await decide(shop, "REJECTED", "Silabus belum lengkap")
    twice = await decide(shop, "APPROVED")
    resubmitted = await submit(shop, description="Pembukuan sederhana, silabus 12 jam")
    approved = await decide(shop, "APPROVED")
    again = await submit(shop)

    assert_problem(by_support, 403, "FORBIDDEN_ROLE")
    assert_problem(no_reasons, 422, "REASONS_REQUIRED")
    operator_id = rejected.json()["decided_by"]
    assert rejected.status_code == 200 and rejected.json()["reasons"] == ["Silabus belum lengkap"]
    assert operator_id.startswith("operator-")
    assert_problem(twice, 409, "ASSESSMENT_NOT_PENDING")
    assert resubmitted.json()["submission_no"] == 2
    assert (approved.status_code, approved.json()["submission_no"], approved.json()["status"]) == (200, 2, "APPROVED")
    assert_problem(again, 409, "COURSE_APPROVED")
    [old] = await queue(shop, "REJECTED")
    [new] = await queue(shop, "APPROVED")
    assert (old["submission_no"], old["decided_by"], old["reasons"]) == (1, operator_id, ["Silabus belum lengkap"])
    assert (new["submission_no"], new["decided_by"], new["course_status"]) == (2, operator_id, "APPROVED")


async def test_only_approved_courses_sell_and_reviews_reach_the_catalogue(shop):
    card, other = await shop.awarded(2)
    assert (await submit(shop)).status_code == 202

    while_pending = await shop.buy(card, "P-0", course=COURSE["course_id"])
    hidden = await shop.http.get(f"/v1/catalog/courses/{COURSE['course_id']}")
    assert (await decide(shop, "APPROVED")).status_code == 200
    bought = await shop.buy(card, "P-1", course=COURSE["course_id"])
    assert (await shop.complete("P-1")).status_code == 200
    await shop.live.wait_me(card.token, "INCENTIVES")
    reviewed = await shop.review(card, "P-1", {"rating": 4, "text": "Mudah diikuti"})
    listed = await shop.http.get("/v1/catalog/courses", params={"q": "pembukuan"})
    detail = await shop.http.get(f"/v1/catalog/courses/{COURSE['course_id']}")

    assert_problem(while_pending, 409, "COURSE_NOT_APPROVED")
    assert_problem(hidden, 404, "COURSE_NOT_FOUND")
    assert bought.status_code == 201, bought.text
    assert reviewed.status_code == 200, reviewed.text
    [item] = listed.json()["items"]
    assert (item["course_id"], item["rating_avg"], item["rating_count"]) == (COURSE["course_id"], 4.0, 1)
    [review] = detail.json()["reviews"]
    assert (review["rating"], review["text"]) == (4, "Mudah diikuti")
    assert card.registration_id not in detail.text and card.nik not in detail.text

    # Withdrawn: no new purchases, the bought training goes on (a repeat of its purchase is still the same 201).
    second = await shop.buy(other, "P-2", course=COURSE["course_id"])
    withdrawn = await shop.http.post(
        f"/v1/assessments/{COURSE['course_id']}/withdraw", headers=await shop.live.staff("operator")
    )
    refused = await shop.buy(card, "P-3", course=COURSE["course_id"])
    repeat = await shop.buy(other, "P-2", course=COURSE["course_id"])
    completed = await shop.complete("P-2")

    assert second.status_code == 201, second.text
    assert withdrawn.json() == {"course_id": COURSE["course_id"], "status": "WITHDRAWN"}
    assert_problem(refused, 409, "COURSE_NOT_APPROVED")
    assert (repeat.status_code, repeat.json()) == (201, second.json())
    assert completed.status_code == 200, completed.text
    assert (await shop.http.get("/v1/catalog/courses", params={"q": "pembukuan"})).json()["items"] == []
