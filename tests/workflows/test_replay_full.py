"""Recorders for the replay fixtures of whole journeys and of a course assessment (tests/workflows/test_replay.py
replays every file in `histories/`). Run only to add or deliberately refresh them:

    RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/workflows/test_replay_full.py

A completed prakerja-2020 journey (purchase, completion, review, account link, 4 incentives and 3 surveys paid by
their child workflows), a journey stopped by a death reported during its incentives (life event), and an
assessment that went OVERDUE on its SLA timer before an operator approved it."""

import asyncio
from datetime import timedelta

import pytest

from core.catalogue import Decision
from core.contracts import RevokeSignal
from tests.workflows.test_assessment import SLA, _until_overdue
from tests.workflows.test_assessment import desk as desk  # noqa: F401 (the fixture)
from tests.workflows.test_journey_money import answer_surveys, ledger, trained
from tests.workflows.test_journey_money import harness as harness  # noqa: F401 (the fixture)
from tests.workflows.test_replay import HISTORIES, RECORDING, save
from workflows.assessment import CourseAssessment
from workflows.journey import BeneficiaryJourney

pytestmark = pytest.mark.skipif(not RECORDING, reason="set RECORD_HISTORIES=1 to re-record the replay fixtures")


async def test_record_a_completed_journey(harness):
    completed = await trained(harness)
    await answer_surveys(harness, completed, [1, 2, 3])
    assert (await asyncio.wait_for(completed.result(), timeout=60)).status == "COMPLETED"

    HISTORIES.mkdir(exist_ok=True)
    await save(completed, "journey_completed")


async def test_record_a_journey_stopped_by_a_death_during_its_incentives(harness):
    died = await trained(harness)
    await until_paid(harness, died, "I1")
    signal = RevokeSignal(reason="DECEASED reported", requested_by="DEV-REGISTRY", reason_code="DECEASED")
    await died.signal(BeneficiaryJourney.revoke, signal)
    assert (await asyncio.wait_for(died.result(), timeout=60)).reasons == ["DECEASED"]

    await save(died, "journey_life_event_during_incentives")


async def until_paid(harness, handle, key: str) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(20):
        while (await ledger(harness, handle)).get(key, ("",))[0] != "PAID":
            await asyncio.sleep(0.05)


async def test_record_an_overdue_then_approved_assessment(desk, own_clock):
    submitted = await desk.submit()
    await own_clock.sleep(SLA + timedelta(minutes=1))  # past the SLA on this test's own server
    await _until_overdue(desk)
    await desk.decide("C-1", Decision.APPROVED)
    handle = desk.client.get_workflow_handle_for(CourseAssessment.run, submitted.workflow_id)
    assert (await handle.result()).overdue is True

    await save(handle, "assessment_overdue_then_approved")
