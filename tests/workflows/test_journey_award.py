"""Journey part 1 from the pool: wave draw, award with pinned terms, purchase deadline, revocation."""

import asyncio

import pytest_asyncio
from sqlalchemy import select
from temporalio import activity
from temporalio.api.sdk.v1 import WorkflowMetadata

from activities.draw import DrawActivities
from activities.programme import ProgrammeActivities
from core.cards import is_card_number
from core.contracts import AwardInput, AwardResult, RevokeInput
from core.domain import JourneyStatus
from core.temporal import SA_PROFILE, SA_PROVINCE, SA_STATUS, SA_WAVE
from core.terms import PROFILES
from db.models import BalanceEntry, Beneficiary, NikBlacklist, Partner, Wave, WaveEntry
from db.session import make_sessionmaker
from simulators.inprocess import SimulatedMarketplace
from simulators.world import SimWorld
from tests.api.ledger import beneficiary
from tests.conftest import test_settings as settings_for
from tests.workflows.conftest import wait_status
from tests.workflows.harness import Harness
from tests.workflows.test_journey_checks import activity_types
from workers.composition import build_adapters
from workers.main import build_workers, journey_activities
from workflows.journey import BeneficiaryJourney


async def pooled(harness, n, **person):
    handles = [await harness.register(harness.citizen(**person)) for _ in range(n)]
    for h in handles:
        await wait_status(h, "WAITING_FOR_WAVE")
    return handles


async def settle(handles):
    """Wait for every journey to apply the draw (an activity left in flight at teardown would pin the
    time-skipping server's clock for later tests)."""
    return [(await wait_status(h, "AWARDED", "NOT_SELECTED")).status for h in handles]


async def row(harness, handle) -> Beneficiary:
    async with harness.sessions() as s:
        return await s.get(Beneficiary, handle.id.removeprefix("journey-"))


async def test_selected_applicant_is_awarded_with_card_and_balance(harness):
    [handle] = await pooled(harness, 1)
    wave_id = await harness.open_wave(quota=10)
    await harness.draw(wave_id)
    await wait_status(handle, "AWARDED")
    b = await row(harness, handle)
    assert b.status == "AWARDED" and b.wave_id == wave_id and b.balance == 1_000_000
    assert is_card_number(b.prakerja_number)
    async with harness.sessions() as s:
        entries = (await s.scalars(select(BalanceEntry).where(BalanceEntry.registration_id == b.registration_id))).all()
        wave = await s.get(Wave, wave_id)
    assert [(e.kind, e.amount) for e in entries] == [("AWARD", 1_000_000)]
    assert (wave.status, wave.pool_size, wave.selected) == ("DRAWN", 1, 1)
    attrs = (await handle.describe()).typed_search_attributes
    assert (attrs.get(SA_STATUS), attrs.get(SA_WAVE), attrs.get(SA_PROFILE), attrs.get(SA_PROVINCE)) == (
        "AWARDED",
        wave_id,
        "prakerja-2020",
        "Jawa Barat",
    )
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details  # what the Temporal UI shows operators: state and money, no PII
    assert details.startswith("**AWARDED**") and f"wave: {wave_id}" in details and "Rp 1,000,000" in details


async def test_not_selected_stays_in_pool_and_wins_a_later_wave(harness):
    handles = await pooled(harness, 3)
    first = await harness.open_wave(quota=1)
    await harness.draw(first, seed="first")
    assert sorted(await settle(handles)) == ["AWARDED", "NOT_SELECTED", "NOT_SELECTED"]
    second = await harness.open_wave(quota=5)
    await harness.draw(second, seed="second")
    for h in handles:
        await wait_status(h, "AWARDED")
    async with harness.sessions() as s:
        wave = await s.get(Wave, second)
    assert (wave.pool_size, wave.selected) == (2, 2)


async def test_province_quota_is_respected(harness):
    handles = await pooled(harness, 3, province="Aceh") + await pooled(harness, 3, province="Bali")
    wave_id = await harness.open_wave(quota=4, province_quotas={"Aceh": 1})
    await harness.draw(wave_id)
    assert sorted(await settle(handles)) == ["AWARDED"] * 4 + ["NOT_SELECTED"] * 2
    async with harness.sessions() as s:
        winners = (
            (
                await s.execute(
                    select(WaveEntry.province).where(WaveEntry.wave_id == wave_id, WaveEntry.selected.is_(True))
                )
            )
            .scalars()
            .all()
        )
    assert sorted(winners) == ["Aceh", "Bali", "Bali", "Bali"]


async def test_terms_are_pinned_at_award(harness):
    [handle] = await pooled(harness, 1)
    wave_id = await harness.open_wave(quota=1, profile="prakerja-2023")
    await harness.draw(wave_id)
    await wait_status(handle, "AWARDED")
    b = await row(harness, handle)
    assert (b.balance, b.profile, b.detail["terms"]["purchase_deadline_days"]) == (
        3_500_000,
        "prakerja-2023",
        15,
    )


async def test_no_purchase_by_the_deadline_revokes_and_returns_the_balance(clock_harness):
    harness = clock_harness  # skips 30 days: on a server of its own
    [handle] = await pooled(harness, 1)
    wave_id = await harness.open_wave(quota=1)
    await harness.draw(wave_id)
    await wait_status(handle, "AWARDED")
    result = await handle.result()  # skips the 30-day deadline on the test server
    assert (result.status, result.reasons) == (JourneyStatus.REVOKED, ["PURCHASE_DEADLINE_MISSED"])
    b = await row(harness, handle)
    async with harness.sessions() as s:
        ledger = (
            await s.scalars(select(BalanceEntry.amount).where(BalanceEntry.registration_id == b.registration_id))
        ).all()
        blacklisted = await s.scalar(select(NikBlacklist).where(NikBlacklist.registration_id == b.registration_id))
    assert (b.status, b.balance, sorted(ledger), sum(ledger)) == ("REVOKED", 0, [-1_000_000, 1_000_000], 0)
    assert blacklisted is not None
    assert [n.prakerja_number for n in harness.world.notifications] == []  # no marketplace registered


async def test_operator_revocation_while_waiting(harness):
    [handle] = await pooled(harness, 1)
    await handle.signal(BeneficiaryJourney.revoke, {"reason": "fraud report", "requested_by": "op-1"})
    result = await handle.result()
    assert (result.status, result.reasons) == ("REVOKED", ["REVOKED_BY_OPERATOR"])
    b = await row(harness, handle)
    assert (b.status, b.in_pool) == ("REVOKED", False)


async def test_draw_is_rederivable_from_its_seed(harness):
    from core.selection import draw

    handles = await pooled(harness, 6)
    wave_id = await harness.open_wave(quota=3)
    await harness.draw(wave_id, seed="audit-me")
    await settle(handles)
    async with harness.sessions() as s:
        entries = (
            await s.execute(
                select(WaveEntry.registration_id, WaveEntry.province, WaveEntry.selected).where(
                    WaveEntry.wave_id == wave_id
                )
            )
        ).all()
    recorded = {r for r, _, chosen in entries if chosen}
    assert draw("audit-me", [(r, p) for r, p, _ in entries], 3) == recorded


@pytest_asyncio.fixture(params=["by the draw", "by the journey's award activity"])
async def slow_award(request, dev_env, engine):
    """A harness whose award waits at a gate, so a revocation can arrive while it runs: the draw's, after it wrote
    the cards and before it tells the winners (journeys since the written-ahead release), or the journey's own award
    activity (older journeys, and those told by an older draw, which sent no card: as here)."""
    settings = settings_for(database_url=engine.url.render_as_string(hide_password=False))
    world, sessions = SimWorld(), make_sessionmaker(engine)
    activities = journey_activities(settings, build_adapters(settings, world=world), sessions)
    real = next(a for a in activities if getattr(a, "__name__", "") == "award")
    draw = next(a for a in activities if getattr(a, "__name__", "") == "notify_batch").__self__
    started, gate = asyncio.Event(), asyncio.Event()

    if request.param == "by the draw":
        tell = draw._signal

        async def gated_signal(*args, **kwargs):  # type: ignore[no-untyped-def]
            started.set()  # the batch's cards are written
            await gate.wait()
            return await tell(*args, **kwargs)

        draw._signal = gated_signal
    else:

        async def no_cards(*args, **kwargs):  # type: ignore[no-untyped-def]
            return {}

        draw._award = no_cards

        @activity.defn(name="award")
        async def gated_award(input: AwardInput) -> AwardResult:
            started.set()
            await gate.wait()
            return await real(input)

        activities = [gated_award if a is real else a for a in activities]
    [worker] = build_workers(dev_env.client, settings, build_adapters(settings, world=world), sessions, activities)
    harness = Harness(dev_env.client, settings, world, sessions)
    async with worker:
        yield harness, started, gate
        gate.set()
        await harness.stop_all()


async def test_a_revocation_during_the_award_lets_it_finish_then_books_its_credit_back(slow_award):
    harness, started, gate = slow_award
    async with harness.sessions.begin() as s:
        s.add(Partner(client_code="MKT-A", kind="marketplace", name="Market A", sign_key_sealed="x"))
    handle = await harness.register(harness.citizen())
    await wait_status(handle, "WAITING_FOR_WAVE")
    wave_id = await harness.open_wave(quota=1)
    draw = asyncio.create_task(harness.draw(wave_id))
    await asyncio.wait_for(started.wait(), timeout=15)

    await handle.signal(BeneficiaryJourney.revoke, {"reason": "fraud", "requested_by": "op"})
    await asyncio.sleep(0.5)  # the revocation is in; the award is still writing
    gate.set()
    result = await asyncio.wait_for(handle.result(), timeout=15)
    await draw

    assert (result.status, result.reasons) == ("REVOKED", ["REVOKED_BY_OPERATOR"])
    b = await row(harness, handle)
    async with harness.sessions() as s:
        entries = (await s.scalars(select(BalanceEntry).where(BalanceEntry.registration_id == b.registration_id))).all()
    assert [(e.kind, e.amount) for e in entries] == [("AWARD", 1_000_000), ("TREASURY_RETURN", -1_000_000)]
    assert (b.status, b.balance, b.in_pool) == ("REVOKED", 0, False)
    told = [(n.marketplace_client_code, n.kind, n.prakerja_number) for n in harness.world.notifications]
    assert told == [("MKT-A", "CARD_BLOCKED", b.prakerja_number)]  # the card was known in time to block it


async def test_the_draw_writes_its_winners_cards_and_their_journeys_run_no_award_activity(harness):
    handles = await pooled(harness, 3)
    wave_id = await harness.open_wave(quota=3)
    await harness.draw(wave_id)
    assert await settle(handles) == ["AWARDED"] * 3

    for handle in handles:
        b = await row(harness, handle)
        async with harness.sessions() as s:
            entries = (
                await s.scalars(select(BalanceEntry).where(BalanceEntry.registration_id == b.registration_id))
            ).all()
        assert [(e.kind, e.amount, e.reference) for e in entries] == [("AWARD", 1_000_000, wave_id)]
        assert is_card_number(b.prakerja_number) and b.detail["terms"]["profile"] == "prakerja-2020"
        assert "award" not in activity_types((await handle.fetch_history()).events)
        assert (await handle.query(BeneficiaryJourney.view)).balance == 1_000_000  # the card the draw sent


async def test_a_revocation_and_the_draws_award_at_the_same_moment_leave_no_balance_behind(harness):
    """Each pair runs at once: the revocation books the award back, or comes first and the draw writes no card."""
    terms = PROFILES["prakerja-2020"]
    ids = [f"REG-RACE-{i}" for i in range(12)]
    async with harness.sessions.begin() as s:
        for rid in ids:
            s.add(
                Beneficiary(
                    registration_id=rid,
                    nik_hash=f"nik-{rid}",
                    kk_hash=f"kk-{rid}",
                    token_hash=f"token-{rid}",
                    status=JourneyStatus.WAITING_FOR_WAVE,
                    province="Jawa Barat",
                    profile=terms.profile,
                    in_pool=True,
                )
            )
    draw = DrawActivities(harness.sessions, lambda profile: asyncio.sleep(0, terms))
    programme = ProgrammeActivities(SimulatedMarketplace(harness.world), harness.sessions)

    def revoke(rid: str) -> RevokeInput:
        return RevokeInput(registration_id=rid, nik_hash=f"nik-{rid}", reasons=["REVOKED_BY_OPERATOR"])

    await asyncio.gather(
        *(task for rid in ids for task in (draw._award("W-RACE", [rid], terms), programme.revoke(revoke(rid))))
    )

    async with harness.sessions() as s:
        rows = {
            b.registration_id: b
            for b in await s.scalars(select(Beneficiary).where(Beneficiary.registration_id.in_(ids)))
        }
        entries = (await s.scalars(select(BalanceEntry).where(BalanceEntry.registration_id.in_(ids)))).all()
    for rid in ids:
        booked = [(e.kind, e.amount) for e in entries if e.registration_id == rid]
        assert booked in ([], [("AWARD", 1_000_000), ("TREASURY_RETURN", -1_000_000)]), (rid, booked)
        assert (rows[rid].status, rows[rid].balance or 0) == ("REVOKED", 0)
        assert (rows[rid].prakerja_number is None) == (booked == [])


async def test_a_winner_whose_journey_no_longer_runs_has_its_award_booked_back(harness):
    [handle] = await pooled(harness, 1)
    orphan = beneficiary(status=JourneyStatus.WAITING_FOR_WAVE, in_pool=True)  # its journey was terminated
    async with harness.sessions.begin() as s:
        s.add(orphan)
    wave_id = await harness.open_wave(quota=2)
    await harness.draw(wave_id)
    assert await settle([handle]) == ["AWARDED"]

    async with harness.sessions() as s:
        entries = (
            await s.scalars(select(BalanceEntry).where(BalanceEntry.registration_id == orphan.registration_id))
        ).all()
        unclaimed = await s.get(Beneficiary, orphan.registration_id)
    assert [(e.kind, e.amount, e.reference) for e in entries] == [
        ("AWARD", 1_000_000, wave_id),
        ("TREASURY_RETURN", -1_000_000, "draw-unclaimed"),
    ]
    assert unclaimed.balance == 0
    assert (await row(harness, handle)).balance == 1_000_000
