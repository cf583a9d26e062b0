"""Programme terms as data: a wave opened under an admin-defined profile judges its applicants by that
profile's rules, and its awards pin that profile's balance, instalments, surveys and deadline."""

import asyncio
from datetime import date

from sqlalchemy import select

from core.terms import ProgrammeTerms
from db.models import Beneficiary, Payment
from services import profiles
from tests.workflows.conftest import wait_status
from tests.workflows.harness import order
from tests.workflows.test_journey_money import ACCOUNT, _now, answer_surveys, link_account
from tests.workflows.test_journey_money import harness as harness  # noqa: F401 (the fixture)
from workflows.journey import BeneficiaryJourney

PILOT = ProgrammeTerms(
    profile="pilot-2027",
    training_balance=2_000_000,
    incentive_amount=400_000,
    incentive_count=2,
    incentive_interval_days=30,
    survey_amount=25_000,
    survey_count=1,
    survey_offsets_days=[0],
    survey_window_days=30,
    purchase_deadline_days=30,
    min_age=18,
    max_age=40,
    exclude_students=True,
    cross_programme_exclusion=False,
    max_per_kk=1,
    programme_close_days=365,
)


async def pilot_wave(harness) -> str:
    async with harness.sessions() as session:
        await profiles.define(session, PILOT, "admin")
    return await harness.open_wave(quota=5, profile=PILOT.profile)


async def test_a_custom_profiles_cohort_is_paid_by_its_own_terms(harness):
    wave_id = await pilot_wave(harness)
    handle = await harness.register(harness.citizen())  # the API's default profile at registration ...
    await wait_status(handle, "WAITING_FOR_WAVE")
    await harness.draw(wave_id, seed=wave_id)  # ... but the wave's terms at award
    await wait_status(handle, "AWARDED")
    harness.world.add_payment_account("EWALLET", ACCOUNT, harness.persons[-1].nik, kyc=True)

    bought = await handle.execute_update(BeneficiaryJourney.purchase, order("P-1", price=1_500_000), id="p1")
    await handle.signal(
        BeneficiaryJourney.completion, {"purchase_ref": "P-1", "certificate_number": "C", "completed_at": _now()}
    )
    await wait_status(handle, "INCENTIVES")
    await handle.signal(BeneficiaryJourney.review, {"purchase_ref": "P-1", "rating": 5})
    assert (await link_account(handle, "EWALLET", ACCOUNT)).verified
    await answer_surveys(harness, handle, [1])
    result = await asyncio.wait_for(handle.result(), timeout=60)

    assert bought.balance_remaining == 500_000  # of the pilot's Rp 2,000,000
    assert result.status == "COMPLETED"
    assert sorted(p.amount for p in harness.world.payments.received("EWALLET")) == [25_000, 400_000, 400_000]
    rid = handle.id.removeprefix("journey-")
    async with harness.sessions() as s:
        row = await s.get(Beneficiary, rid)
        ledger = sorted(
            (p.kind, p.number, p.amount) for p in await s.scalars(select(Payment).where(Payment.registration_id == rid))
        )
    assert (row.profile, row.detail["terms"]["profile"]) == ("pilot-2027", "pilot-2027")
    assert ledger == [("INCENTIVE", 1, 400_000), ("INCENTIVE", 2, 400_000), ("SURVEY", 1, 25_000)]


async def test_applicants_who_join_a_custom_waves_pool_are_judged_by_its_rules(harness):
    await pilot_wave(harness)  # max_age 40, one per family card
    older = await harness.register(harness.citizen(date_of_birth=date(1970, 6, 15)))
    first = await harness.register(sibling := harness.citizen())
    await wait_status(first, "WAITING_FOR_WAVE")  # holds the card's one slot before the sibling applies
    second = await harness.register(harness.citizen(kk_number=sibling.kk_number))

    assert (await wait_status(older, "INELIGIBLE")).reasons == ["OVER_AGE"]  # prakerja-2020 has no upper age
    assert (await wait_status(second, "INELIGIBLE")).reasons == ["KK_LIMIT_REACHED"]  # 2020 allows two per card
