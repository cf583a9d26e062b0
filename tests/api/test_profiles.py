"""Admins define programme profiles (validated, immutable); operators open waves under them."""

import pytest

from tests.api.helpers import admin, assert_problem, bearer, staff_token

PILOT = {
    "profile": "pilot-2027",
    "training_balance": 2_000_000,
    "incentive_amount": 400_000,
    "incentive_count": 2,
    "incentive_interval_days": 30,
    "survey_amount": 25_000,
    "survey_count": 1,
    "survey_offsets_days": [0],
    "survey_window_days": 30,
    "purchase_deadline_days": 30,
    "min_age": 18,
    "max_age": 64,
    "excluded_occupations": ["CIVIL_SERVANT", "MILITARY"],
    "exclude_students": True,
    "cross_programme_exclusion": False,
    "max_per_kk": 2,
    "programme_close_days": 365,
}


async def test_a_profile_is_defined_once_and_never_changes(client, settings):
    first = await client.post("/v1/admin/profiles", json=PILOT, headers=admin(settings))
    again = await client.post("/v1/admin/profiles", json=PILOT, headers=admin(settings))
    changed = await client.post(
        "/v1/admin/profiles", json=PILOT | {"incentive_amount": 500_000}, headers=admin(settings)
    )
    builtin = await client.post(
        "/v1/admin/profiles", json=PILOT | {"profile": "prakerja-2020"}, headers=admin(settings)
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json() and first.json()["training_balance"] == 2_000_000
    assert_problem(changed, 409, "PROFILE_EXISTS")
    assert_problem(builtin, 409, "PROFILE_EXISTS")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"training_balance": 0}, "VALIDATION_ERROR"),
        ({"incentive_amount": -600_000}, "VALIDATION_ERROR"),
        ({"incentive_amount": "600000"}, "VALIDATION_ERROR"),
        ({"survey_amount": 25_000.5}, "VALIDATION_ERROR"),
        ({"survey_window_days": 0}, "VALIDATION_ERROR"),
        ({"min_age": 7}, "VALIDATION_ERROR"),
        ({"profile": "Pilot 2027!"}, "VALIDATION_ERROR"),
        ({"unknown_field": 1}, "VALIDATION_ERROR"),
        ({"survey_offsets_days": [0, 30]}, "INVALID_PROFILE"),  # two offsets for one survey
        ({"survey_offsets_days": [400]}, "INVALID_PROFILE"),  # after the programme closes
        ({"purchase_deadline_days": 400}, "INVALID_PROFILE"),
        ({"min_age": 40, "max_age": 30}, "INVALID_PROFILE"),
        ({"incentive_count": 14, "incentive_interval_days": 30}, "INVALID_PROFILE"),  # the 14th on day 390
    ],
)
async def test_unusable_terms_are_refused(client, settings, change, code):
    resp = await client.post("/v1/admin/profiles", json=PILOT | change, headers=admin(settings))
    assert_problem(resp, 422, code)


async def test_who_may_define_and_list_profiles(client, settings):
    operator = bearer(await staff_token(client, settings, "operator"))
    support = bearer(await staff_token(client, settings, "support"))
    by_operator = await client.post("/v1/admin/profiles", json=PILOT, headers=operator)
    await client.post("/v1/admin/profiles", json=PILOT, headers=admin(settings))

    listed = await client.get("/v1/admin/profiles", headers=operator)

    assert_problem(by_operator, 403, "FORBIDDEN_ROLE")
    assert_problem(await client.get("/v1/admin/profiles", headers=support), 403, "FORBIDDEN_ROLE")
    assert [p["profile"] for p in listed.json()["items"]] == ["prakerja-2020", "prakerja-2023", "pilot-2027"]


async def test_a_wave_opens_under_a_named_profile(client, settings):
    operator = bearer(await staff_token(client, settings, "operator"))
    unknown = await client.post("/v1/waves", json={"name": "W", "quota": 5, "profile": "pilot-2027"}, headers=operator)
    await client.post("/v1/admin/profiles", json=PILOT, headers=admin(settings))

    opened = await client.post("/v1/waves", json={"name": "W", "quota": 5, "profile": "pilot-2027"}, headers=operator)

    assert_problem(unknown, 422, "UNKNOWN_PROFILE")
    assert opened.status_code == 201 and opened.json()["profile"] == "pilot-2027"
    shown = await client.get(f"/v1/waves/{opened.json()['wave_id']}", headers=operator)
    assert shown.json()["profile"] == "pilot-2027"
