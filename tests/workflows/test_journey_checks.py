"""Journey part 1 up to the pool: identity and face checks, eligibility rules, every reason code."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType

from activities.eligibility import EligibilityActivities
from core.contracts import CheckEligibilityInput
from core.domain import JourneyStatus
from core.security import nik_hash
from core.terms import terms_for
from db.models import Beneficiary, KkSlot, NikBlacklist, PendingSelfie
from tests.workflows.conftest import wait_status
from tests.workflows.harness import Person, adult_birthday

ACTIVITY_SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED


async def outcome(harness, person, profile="prakerja-2020"):
    handle = await harness.register(person, profile)
    view = await wait_status(handle, "REJECTED", "INELIGIBLE", "WAITING_FOR_WAVE")
    async with harness.sessions() as s:
        row = await s.get(Beneficiary, handle.id.removeprefix("journey-"))
    assert row.status == view.status and row.reasons == view.reasons  # projection agrees with the workflow
    return view


async def test_known_citizen_joins_the_pool_and_selfie_is_discarded(harness):
    view = await outcome(harness, harness.citizen())
    assert (view.status, view.reasons) == (JourneyStatus.WAITING_FOR_WAVE, [])
    async with harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(PendingSelfie)) == 0
        assert await s.scalar(select(func.count()).where(Beneficiary.in_pool.is_(True))) == 1


async def test_unknown_nik_is_rejected(harness):
    view = await outcome(harness, Person())
    assert (view.status, view.reasons) == (JourneyStatus.REJECTED, ["NIK_NOT_FOUND"])


async def test_name_dob_and_kk_mismatch_and_deceased(harness):
    person = harness.citizen()
    harness.world.add_citizen(person.nik, "3200000000000001", "Someone Else", person.date_of_birth, deceased=True)
    view = await outcome(harness, person)
    assert view.status == JourneyStatus.REJECTED
    assert view.reasons == ["NAME_DOB_MISMATCH", "KK_MISMATCH", "DECEASED"]


@pytest.mark.parametrize(
    ("liveness", "score", "reasons"),
    [(False, 0.95, ["LIVENESS_FAILED"]), (True, 0.5, ["FACE_MISMATCH"]), (True, 0.8, [])],
)
async def test_face_check(harness, liveness, score, reasons):
    person = harness.citizen()
    harness.world.set_biometrics(person.nik, liveness=liveness, match_score=score)
    view = await outcome(harness, person)
    assert view.reasons == reasons


async def test_same_face_under_another_nik_is_a_duplicate(harness):
    first = harness.citizen()
    assert (await outcome(harness, first)).status == JourneyStatus.WAITING_FOR_WAVE
    broker = harness.citizen(selfie_b64=first.selfie_b64, full_name="Budi Santoso")
    view = await outcome(harness, broker)
    assert (view.status, view.reasons) == (JourneyStatus.REJECTED, ["DUPLICATE_FACE"])


async def test_every_failing_rule_is_reported(harness):
    person = harness.citizen(date_of_birth=adult_birthday(17), occupation="CIVIL_SERVANT", is_student=True)
    harness.world.add_social_assistance(person.nik, "PKH")
    view = await outcome(harness, person)
    assert view.status == JourneyStatus.INELIGIBLE
    assert view.reasons == ["UNDER_AGE", "EXCLUDED_OCCUPATION", "STUDENT", "RECEIVES_OTHER_ASSISTANCE"]


async def test_registry_occupation_excludes_even_if_not_declared(harness):
    person = harness.citizen()
    harness.world.add_occupation(person.nik, "POLICE")
    assert (await outcome(harness, person)).reasons == ["EXCLUDED_OCCUPATION"]


async def test_profile_2023_has_an_upper_age_and_no_cross_programme_exclusion(harness):
    old = harness.citizen(date_of_birth=adult_birthday(65))
    assert (await outcome(harness, old, "prakerja-2023")).reasons == ["OVER_AGE"]
    assisted = harness.citizen()
    harness.world.add_social_assistance(assisted.nik, "BPNT")
    assert (await outcome(harness, assisted, "prakerja-2023")).status == JourneyStatus.WAITING_FOR_WAVE


async def test_third_member_of_a_family_card_is_refused(harness):
    kk = "3273010101010001"
    views = [await outcome(harness, harness.citizen(kk_number=kk)) for _ in range(3)]
    assert [v.reasons for v in views] == [[], [], ["KK_LIMIT_REACHED"]]


async def test_kk_slots_are_race_safe(harness, sessions):
    """Ten applicants of one family card checked at once: exactly two get a slot."""
    activities = EligibilityActivities(social_affairs=None, sessions=sessions)  # type: ignore[arg-type]
    terms = terms_for("prakerja-2023")
    people = [Person(kk_number="3273010101010002") for _ in range(10)]
    inputs = [
        CheckEligibilityInput(
            registration_id=f"REG-RACE-{i}",
            applicant=p.applicant(),
            nik_hash=f"n{i}",
            kk_hash="kk-race",
            terms=terms,
        )
        for i, p in enumerate(people)
    ]
    results = await asyncio.gather(*(activities.check_eligibility(i) for i in inputs))
    assert sorted(r.reasons for r in results) == [[]] * 2 + [["KK_LIMIT_REACHED"]] * 8
    async with sessions() as s:
        assert await s.scalar(select(func.count()).where(KkSlot.kk_hash == "kk-race")) == 2


async def test_previously_revoked_nik_is_ineligible(harness):
    person = harness.citizen()
    async with harness.sessions.begin() as s:
        s.add(
            NikBlacklist(
                nik_hash=nik_hash(harness.settings.secret_key, person.nik),
                registration_id="OLD",
                reason="FRAUD",
            )
        )
    assert (await outcome(harness, person)).reasons == ["PREVIOUSLY_REVOKED"]


async def test_partner_outage_is_retried_not_fatal(harness):
    harness.world.add_fault("civil_registry", "error_5xx", rate=1.0)
    handle = await harness.register(harness.citizen())
    async with asyncio.timeout(15):
        while not (desc := await handle.describe()).raw_description.pending_activities or (
            desc.raw_description.pending_activities[0].attempt < 2
        ):
            await asyncio.sleep(0.1)
    harness.world.clear_faults()
    assert (await wait_status(handle, "WAITING_FOR_WAVE", timeout=30)).reasons == []
    # No deadline of ours: however long the outage, the check is retried rather than failing the journey
    # (the server reports an unset schedule-to-close as its own maximum, ten years).
    events = (await handle.fetch_history()).events
    scheduled = [e.activity_task_scheduled_event_attributes for e in events if e.event_type == ACTIVITY_SCHEDULED]
    assert scheduled and all(a.schedule_to_close_timeout.ToTimedelta() >= timedelta(days=3650) for a in scheduled[:2])


async def test_a_check_finishing_after_a_revocation_leaves_the_applicant_revoked(sessions):
    """Partner checks are not waited for when an operator revokes: a late one must not undo the revocation."""
    async with sessions.begin() as s:
        s.add(
            Beneficiary(
                registration_id="REG-LATE",
                nik_hash="n-late",
                kk_hash="kk-late",
                token_hash="t-late",
                status=JourneyStatus.REVOKED,
                reasons=["REVOKED_BY_OPERATOR"],
                province="Bali",
                profile="prakerja-2023",
                detail={},
            )
        )
    check = CheckEligibilityInput(
        registration_id="REG-LATE",
        applicant=Person().applicant(),
        nik_hash="n-late",
        kk_hash="kk-late",
        terms=terms_for("prakerja-2023"),
    )

    result = await EligibilityActivities(social_affairs=None, sessions=sessions).check_eligibility(check)  # type: ignore[arg-type]

    assert result.reasons == []  # eligible on the merits ...
    async with sessions() as s:
        row = await s.get(Beneficiary, "REG-LATE")
    assert (row.status, row.reasons, row.in_pool) == ("REVOKED", ["REVOKED_BY_OPERATOR"], False)  # ... yet revoked


def activity_types(events) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == ACTIVITY_SCHEDULED
    ]


async def test_both_checks_are_one_activity_and_a_failed_identity_skips_eligibility(harness):
    # Counts the calls to each partner: a latency fault of 1 ms fires on every call and fails none.
    registry = harness.world.add_fault("civil_registry", "latency", ms=1)
    assistance = harness.world.add_fault("social_affairs", "latency", ms=1)
    rejected = await harness.register(Person())  # unknown to the civil registry
    assert (await outcome_of(harness, rejected)).status == JourneyStatus.REJECTED
    assert (registry.fired, assistance.fired) == (1, 0)  # never checked for eligibility
    pooled = await harness.register(harness.citizen())
    assert (await outcome_of(harness, pooled)).status == JourneyStatus.WAITING_FOR_WAVE
    assert (registry.fired, assistance.fired) == (2, 1)

    for handle in (rejected, pooled):  # one activity (one action, one workflow task) for both checks
        assert activity_types((await handle.fetch_history()).events) == ["screen_applicant"]


async def test_a_retried_screening_does_not_ask_the_civil_registry_again(harness):
    registry = harness.world.add_fault("civil_registry", "latency", ms=1)
    outage = harness.world.add_fault("social_affairs", "error_5xx", times=2)  # eligibility fails twice, then heals
    handle = await harness.register(harness.citizen())
    assert (await outcome_of(harness, handle)).status == JourneyStatus.WAITING_FOR_WAVE
    assert outage.fired == 2  # the activity ran three times
    assert registry.fired == 1  # the identity recorded on the first run was read back by the retries


async def outcome_of(harness, handle):  # type: ignore[no-untyped-def]
    return await wait_status(handle, "REJECTED", "INELIGIBLE", "WAITING_FOR_WAVE", timeout=30)
