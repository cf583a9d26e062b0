"""A wave's calendar: one workflow per drawn wave that holds the wave's two dates, so its journeys need no timer of
their own for them. At the first-purchase deadline it tells the journeys that have not completed a training yet,
and at the programme's close those still running; a journey that is done by then (the common path) is told
nothing. Each journey still judges by its own clock and state: a purchase after its deadline or close is refused by
the journey itself, and one told early waits out the rest of its own time."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.calendar import CalendarActivities
    from core.contracts import CalendarBatchInput, CalendarEvent, WaveCalendarInput


@workflow.defn
class WaveCalendar:
    @workflow.run
    async def run(self, input: WaveCalendarInput) -> None:
        for event, at in (
            (CalendarEvent.PURCHASE_DEADLINE, input.purchase_deadline_at),
            (CalendarEvent.PROGRAMME_CLOSE, input.closes_at),
        ):
            if (left := at - workflow.now()) > timedelta(0):
                await workflow.sleep(left, summary=event.value.lower().replace("_", " "))
            await self._tell(input, event)

    async def _tell(self, input: WaveCalendarInput, event: CalendarEvent) -> None:
        cursor: str | None = None
        while True:
            result = await workflow.execute_activity_method(
                CalendarActivities.tell_journeys,
                CalendarBatchInput(wave_id=input.wave_id, event=event, after=cursor, batch_size=input.batch_size),
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)),
            )
            if result.next_cursor is None:
                return
            cursor = result.next_cursor
