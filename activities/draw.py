"""The wave draw's side effects: record the selection, then tell each journey its result in batches."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, and_, func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.contracts import (
    AwardResult,
    DrawResultSignal,
    DrawSummary,
    NotifyBatchInput,
    NotifyBatchResult,
    SelectWinnersInput,
    WaveCalendarInput,
    journey_id,
    wave_calendar_id,
)
from core.domain import JourneyStatus, WaveStatus
from core.selection import draw
from core.terms import ProgrammeTerms
from db import projection
from db.models import Beneficiary, Wave, WaveEntry
from workflows.calendar import WaveCalendar
from workflows.journey import BeneficiaryJourney

SIGNAL_CONCURRENCY = 50
# The treasury-return reference of an award whose journey no longer ran when the draw told it (nobody can spend it).
UNCLAIMED_AWARD = "draw-unclaimed"
# The calendar's dates follow the winners' own by a programme day, and at least this much real time: awards follow
# the draw's signals by the real time a busy worker takes, whatever the programme clock's pace.
CALENDAR_GRACE_FLOOR = timedelta(seconds=5)


class DrawActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], terms_for: Callable[[str], Awaitable[ProgrammeTerms]]
    ) -> None:
        self.sessions = sessions
        self.terms_for = terms_for

    @activity.defn
    async def select_winners(self, input: SelectWinnersInput) -> DrawSummary:
        """Snapshot the pool into wave_entries and select within the quotas; a retry returns the recorded draw."""
        async with self.sessions.begin() as session:
            wave = await session.get(Wave, input.wave_id, with_for_update=True)
            if wave is None:
                raise ValueError(f"unknown wave {input.wave_id}")
            recorded = await session.scalar(select(func.count()).where(WaveEntry.wave_id == input.wave_id))
            if recorded:
                return DrawSummary(wave_id=wave.wave_id, pool_size=wave.pool_size, selected=wave.selected)
            pool = (
                await session.execute(
                    select(Beneficiary.registration_id, Beneficiary.province).where(Beneficiary.in_pool.is_(True))
                )
            ).all()
            winners = draw(input.seed, [(r, p) for r, p in pool], wave.quota, wave.province_quotas)
            await self._record(session, wave, pool, winners)
            return DrawSummary(wave_id=wave.wave_id, pool_size=len(pool), selected=len(winners))

    async def _record(
        self, session: AsyncSession, wave: Wave, pool: Sequence[Row[str, str]], winners: set[str]
    ) -> None:
        rows = [
            {
                "wave_id": wave.wave_id,
                "registration_id": r,
                "province": p,
                "selected": r in winners,
                "notified": False,
            }
            for r, p in pool
        ]
        for start in range(0, len(rows), 1000):
            await session.execute(insert(WaveEntry), rows[start : start + 1000])
        in_wave = select(WaveEntry.registration_id).where(WaveEntry.wave_id == wave.wave_id)
        # Winners leave the pool (`notify_batch` awards them as it tells them); the rest stay for the next wave.
        await session.execute(
            update(Beneficiary)
            .where(Beneficiary.registration_id.in_(in_wave.where(WaveEntry.selected.is_(True))))
            .values(in_pool=False, wave_id=wave.wave_id)
        )
        await session.execute(
            update(Beneficiary)
            .where(Beneficiary.registration_id.in_(in_wave.where(WaveEntry.selected.is_(False))))
            .values(status=JourneyStatus.NOT_SELECTED, wave_id=wave.wave_id)
        )
        wave.pool_size, wave.selected = len(rows), len(winners)

    @activity.defn
    async def notify_batch(self, input: NotifyBatchInput) -> NotifyBatchResult:
        """Signal one batch of journeys (ordered by registration id); the last batch marks the wave DRAWN."""
        async with self.sessions() as session:
            wave = await session.get(Wave, input.wave_id)
            assert wave is not None
            cursor = WaveEntry.registration_id > input.after if input.after else true()
            entries = (
                await session.execute(
                    select(WaveEntry.registration_id, WaveEntry.selected)
                    .where(and_(WaveEntry.wave_id == input.wave_id, cursor))
                    .order_by(WaveEntry.registration_id)
                    .limit(input.batch_size)
                )
            ).all()
        terms = await self.terms_for(wave.profile)
        await self._start_calendar(input.wave_id, terms)
        awards = await self._award(input.wave_id, [r for r, selected in entries if selected], terms)
        gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)
        outcomes = await asyncio.gather(
            *(self._signal(gate, input.wave_id, r, s, terms, awards.get(r)) for r, s in entries)
        )
        # A winner whose journey no longer runs (ended by an operator without a revocation) cannot spend its card.
        unclaimed = [r for (r, _), told in zip(entries, outcomes, strict=True) if r in awards and not told]
        async with self.sessions.begin() as session:
            for registration_id in unclaimed:
                await projection.return_to_treasury(session, registration_id, UNCLAIMED_AWARD)
            if unclaimed:
                await session.execute(
                    update(Beneficiary).where(Beneficiary.registration_id.in_(unclaimed)).values(balance=0)
                )
            if entries:
                await session.execute(
                    update(WaveEntry)
                    .where(
                        WaveEntry.wave_id == input.wave_id,
                        WaveEntry.registration_id.in_([r for r, _ in entries]),
                    )
                    .values(notified=True)
                )
            done = len(entries) < input.batch_size
            if done:
                await session.execute(
                    update(Wave)
                    .where(Wave.wave_id == input.wave_id)
                    .values(status=WaveStatus.DRAWN, drawn_at=datetime.now(UTC))
                )
        activity.heartbeat(len(entries))
        return NotifyBatchResult(
            notified=sum(outcomes),
            missing=len(entries) - sum(outcomes),
            next_cursor=None if done else entries[-1][0],
        )

    async def _award(self, wave_id: str, winners: list[str], terms: ProgrammeTerms) -> dict[str, AwardResult]:
        """The batch's winners get their cards and balances in one write, before they hear of the draw (their journeys
        then need no award activity); one revoked meanwhile gets none. A retry finds the cards it wrote."""
        awards = {}
        running = Beneficiary.registration_id.in_(winners), Beneficiary.status != JourneyStatus.REVOKED
        async with self.sessions.begin() as session:
            # The rows are held from this write to the commit (PostgreSQL's row locks, SQLite's write lock): a
            # revocation at the same moment waits and books the award back, or came first and is left out here.
            await session.execute(
                update(Beneficiary).where(*running).values(in_pool=False).execution_options(synchronize_session=False)
            )
            rows = await session.scalars(select(Beneficiary).where(*running).execution_options(populate_existing=True))
            for beneficiary in rows:
                card = beneficiary.prakerja_number or await projection.award(session, beneficiary, wave_id, terms)
                awards[beneficiary.registration_id] = AwardResult(
                    prakerja_number=card, balance=beneficiary.balance or 0
                )
        return awards

    @staticmethod
    async def _start_calendar(wave_id: str, terms: ProgrammeTerms) -> None:
        """The wave's calendar, started before any winner hears of its draw (every batch asks; the first starts
        it). Its dates come a grace after the winners' own (their awards follow this call), so a journey told of
        one has, in the common case, seen its own date pass already; one told early waits out its own time."""
        now, grace = datetime.now(UTC), max(terms.days(1), CALENDAR_GRACE_FLOOR)
        calendar = WaveCalendarInput(
            wave_id=wave_id,
            purchase_deadline_at=now + terms.days(terms.purchase_deadline_days) + grace,
            closes_at=now + terms.days(terms.programme_close_days) + grace,
        )
        try:
            await activity.client().start_workflow(
                WaveCalendar.run,
                calendar,
                id=wave_calendar_id(wave_id),
                task_queue=activity.info().task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"dates of {wave_id}",
            )
        except WorkflowAlreadyStartedError:
            pass  # it ran and ended: this is a retry long after

    async def _signal(
        self,
        gate: asyncio.Semaphore,
        wave_id: str,
        registration_id: str,
        selected: bool,
        terms: ProgrammeTerms,
        award: AwardResult | None,
    ) -> bool:
        signal = DrawResultSignal(
            wave_id=wave_id, selected=selected, terms=terms if selected else None, calendar=selected, award=award
        )
        async with gate:
            try:
                handle = activity.client().get_workflow_handle(journey_id(registration_id))
                await handle.signal(BeneficiaryJourney.draw_result, signal)
                return True
            except RPCError as err:
                # A journey that no longer runs (e.g. revoked meanwhile) has nothing to learn from the draw.
                if err.status == RPCStatusCode.NOT_FOUND:
                    return False
                raise
