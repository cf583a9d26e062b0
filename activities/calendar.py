"""The wave calendar's side effect: tell the journeys of a wave that need it that a date of the wave has come."""

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from core.contracts import CalendarBatchInput, CalendarBatchResult, CalendarEvent, journey_id
from core.domain import FINAL_STATUSES, JourneyStatus
from db.models import Beneficiary, WaveEntry
from workflows.journey import BeneficiaryJourney

SIGNAL_CONCURRENCY = 50
# Who is told: at the deadline, a winner that has not completed a training (a completion meets the deadline; the
# journey itself decides whether a purchase kept through it does); at the close, every winner still running.
NOT_PAST_TRAINING = (JourneyStatus.WAITING_FOR_WAVE, JourneyStatus.AWARDED, JourneyStatus.TRAINING)


class CalendarActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    async def tell_journeys(self, input: CalendarBatchInput) -> CalendarBatchResult:
        """Signal one page of the wave's journeys that need `input.event` (ordered by registration id)."""
        wanted = (
            Beneficiary.status.in_(NOT_PAST_TRAINING)
            if input.event is CalendarEvent.PURCHASE_DEADLINE
            else Beneficiary.status.not_in(FINAL_STATUSES)
        )
        query = (
            select(WaveEntry.registration_id)
            .join(Beneficiary, Beneficiary.registration_id == WaveEntry.registration_id)
            .where(WaveEntry.wave_id == input.wave_id, WaveEntry.selected.is_(True), wanted)
            .order_by(WaveEntry.registration_id)
            .limit(input.batch_size)
        )
        if input.after:
            query = query.where(WaveEntry.registration_id > input.after)
        async with self.sessions() as session:
            page = list(await session.scalars(query))
        gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)
        told = sum(await asyncio.gather(*(self._tell(gate, r, input.event) for r in page)))
        activity.heartbeat(len(page))
        return CalendarBatchResult(told=told, next_cursor=page[-1] if len(page) == input.batch_size else None)

    async def _tell(self, gate: asyncio.Semaphore, registration_id: str, event: CalendarEvent) -> bool:
        handle = activity.client().get_workflow_handle(journey_id(registration_id))
        async with gate:
            try:
                if event is CalendarEvent.PURCHASE_DEADLINE:
                    await handle.signal(BeneficiaryJourney.purchase_deadline_reached)
                else:
                    await handle.signal(BeneficiaryJourney.programme_closed)
                return True
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:  # ended meanwhile: nothing to tell
                    return False
                raise
