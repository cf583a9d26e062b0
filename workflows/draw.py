"""A wave's draw: select once (recorded, seeded), then notify journeys in bounded batches."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.draw import DrawActivities
    from core.contracts import DrawSummary, NotifyBatchInput, SelectWinnersInput, WaveDrawInput
    from workflows.options import DATABASE_CALL


@workflow.defn
class WaveDraw:
    @workflow.run
    async def run(self, input: WaveDrawInput) -> DrawSummary:
        summary = await workflow.execute_activity_method(
            DrawActivities.select_winners,
            SelectWinnersInput(wave_id=input.wave_id, seed=input.seed),
            **DATABASE_CALL,
        )
        cursor, notified = input.cursor, input.notified
        # Keep each run's history small: a wave of 800 k is 1,600 batches, far past one run's bound.
        for _ in range(input.batches_per_run):
            result = await workflow.execute_activity_method(
                DrawActivities.notify_batch,
                NotifyBatchInput(wave_id=input.wave_id, after=cursor, batch_size=input.batch_size),
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)),
            )
            notified += result.notified
            if result.next_cursor is None:
                return summary
            cursor = result.next_cursor
        workflow.continue_as_new(input.model_copy(update={"cursor": cursor, "notified": notified}))
