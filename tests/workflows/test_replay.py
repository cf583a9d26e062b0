"""Replay recorded histories against today's workflow code: a change that would break running journeys fails here.

The fixtures in `histories/` were recorded from real runs (time-skipping server, simulated partners). If this
test fails after a change to a workflow, the change is not replay-safe: journeys already running would hit a
non-determinism error. Make such changes with `workflow.patched("<change-id>")` (old branch kept for old
histories) instead of refreshing the fixtures. Refresh them only for a deliberate break that no running workflow
can meet (e.g. before the first production release), with

    .venv/bin/python -m benchmarks.record_histories        # = RECORD_HISTORIES=1 pytest tests/workflows/test_replay.py

The recorded paths: rejected, ineligible, revoked while waiting, purchase deadline missed, one wave draw (recorded
here), and a whole completed journey, a death reported during the incentives and an overdue-then-approved course
assessment (recorded by test_replay_full.py). `*_e10a315.json`: a completed journey and one revoked during its
incentives, recorded with the code of commit e10a315 (before the console, life events, profiles and typed
handlers), so the versioned changes since are proven against histories their old code wrote. Recorded with the code
of commit 0089b57, before the payment path was redesigned (test_replay_full.py): a support retry out of a payment
hold, a revocation while a payment is pending at the partner, and a journey paid by partner callbacks.
`*_3a7428c.json`: every journey path again, recorded with the code of commit 3a7428c (the release whose journeys
carry the `one-activity-payments` patch: payments in one activity), so journeys started under it keep replaying
through the changes after it. `*_a40ca77.json`: every path again with the code of commit a40ca77 (the `lean-journey`
release: one screening activity, the wave's calendar), and a `WaveCalendar` that told its wave of the deadline.
`*_57a6bd7.json`: every path again with the code of commit 57a6bd7 (the `written-ahead` release: the card awarded by
the draw, the survey windows recorded by the API with the completion), with the wave's draw and calendar.
"""

from pathlib import Path

import pytest

from core.contracts import draw_id, wave_calendar_id
from tests.replay import RECORDING, RELEASES, Histories
from tests.workflows.conftest import wait_status
from tests.workflows.harness import Person
from workflows.assessment import CourseAssessment
from workflows.calendar import WaveCalendar
from workflows.draw import WaveDraw
from workflows.journey import BeneficiaryJourney

JOURNEYS = Histories(
    Path(__file__).parent / "histories", [BeneficiaryJourney, WaveDraw, WaveCalendar, CourseAssessment]
)
HISTORIES, save = JOURNEYS.folder, JOURNEYS.save  # the recorders in test_replay_full.py write here too


@pytest.mark.skipif(RECORDING, reason="recording: replay the fresh fixtures in a second run")
@pytest.mark.parametrize("path", JOURNEYS.recorded(), ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path):
    result = await JOURNEYS.replay(JOURNEYS.load(path.stem))

    assert result.replay_failure is None


def test_every_workflow_and_path_has_a_history():
    assert (
        JOURNEYS.names()
        >= {
            "journey_rejected",
            "journey_ineligible",
            "journey_revoked_while_waiting",
            "journey_purchase_deadline_missed",
            "wave_draw",
            "journey_completed",  # recorded by test_replay_full.py, as are the two below
            "journey_life_event_during_incentives",
            "assessment_overdue_then_approved",
            "journey_hold_then_support_retry",  # these three: test_replay_full.py, with the code of commit 0089b57
            "journey_revoked_during_a_payment",
            "journey_async_partner_callbacks",
            "journey_revoked_with_an_unrecorded_payment_8df0f4d",  # test_journey_life_events.py, local-payments only
        }
        | {
            f"{name}_{release}"  # each release's own: one-activity-payments (3a7428c), lean-journey (a40ca77), ...
            for release in RELEASES
            for name in JOURNEY_PATHS
        }
        | {f"{name}_{release}" for release in RELEASES[1:] for name in ("wave_draw", "wave_calendar")}
    )


# Every journey path, recorded again for each release that changed the journey's running logic.
JOURNEY_PATHS = (
    "journey_rejected",
    "journey_ineligible",
    "journey_revoked_while_waiting",
    "journey_purchase_deadline_missed",
    "journey_completed",
    "journey_life_event_during_incentives",
    "journey_hold_then_support_retry",
    "journey_revoked_during_a_payment",
    "journey_async_partner_callbacks",
)


@pytest.mark.skipif(not RECORDING, reason="set RECORD_HISTORIES=1 to re-record the replay fixtures")
async def test_record_histories(harness):
    rejected = await harness.register(Person())  # unknown to the civil registry
    ineligible = await harness.register(harness.citizen(is_student=True))
    waiting = await harness.register(harness.citizen())
    await wait_status(waiting, "WAITING_FOR_WAVE")
    await waiting.signal(BeneficiaryJourney.revoke, {"reason": "fraud report", "requested_by": "op-1"})
    for handle, status in ((rejected, "REJECTED"), (ineligible, "INELIGIBLE"), (waiting, "REVOKED")):
        assert (await handle.result()).status == status
    awarded = await harness.register(harness.citizen())
    await wait_status(awarded, "WAITING_FOR_WAVE")
    wave_id = await harness.open_wave(quota=1)
    await harness.draw(wave_id, seed="recorded")
    assert (await awarded.result()).reasons == ["PURCHASE_DEADLINE_MISSED"]  # skips the 30 days

    await save(rejected, "journey_rejected")
    await save(ineligible, "journey_ineligible")
    await save(waiting, "journey_revoked_while_waiting")
    await save(awarded, "journey_purchase_deadline_missed")
    await save(harness.client.get_workflow_handle(draw_id(wave_id)), "wave_draw")
    await save(harness.client.get_workflow_handle(wave_calendar_id(wave_id)), "wave_calendar")  # told the deadline
