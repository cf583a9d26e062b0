"""A journey under test: simulated partners (a SimWorld), a real database, a worker on the test server."""

import asyncio
import base64
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from activities.draw import DrawActivities
from adapters.factory import Adapters
from core.contracts import Applicant, StartJourneyInput, WaveDrawInput, draw_id, journey_id, wave_calendar_id
from core.domain import WaveStatus
from core.ratestore import RateStore
from core.security import kk_hash, nik_hash, token_hash
from core.settings import Settings
from core.temporal import journey_start_attributes
from core.terms import ProgrammeTerms, terms_for
from db import registrations
from db.models import Wave
from services import profiles
from simulators.world import SimWorld
from tests.api.ledger import wave
from workers.main import journey_activities
from workflows.draw import WaveDraw
from workflows.journey import BeneficiaryJourney

# For harnesses that compress programme time: at a month of 3 s, the real 15- or 30-day first-purchase deadline
# is 1.5-3 s, which a slow machine can miss between award and purchase. Awards pin this instead; tests of the
# deadline itself run in programme time that does not race the test.
NO_PURCHASE_RACE = {"purchase_deadline_days": 365}


def journey_activities_pinning(
    settings: Settings,
    adapters: Adapters,
    sessions: async_sessionmaker[AsyncSession],
    rates: RateStore | None = None,
    **terms: Any,
) -> list[Callable[..., Any]]:
    """The worker's journey activities, whose draw pins each award's profile terms updated with `terms`
    (terms are data copied at award, so this is how a test gives its journeys other terms); `rates` counts the
    partners' budgets for direct payments."""
    resolve = profiles.resolver(sessions, settings.time_scale)

    async def pinned(profile: str) -> ProgrammeTerms:
        return (await resolve(profile)).model_copy(update=terms)

    draw = DrawActivities(sessions, pinned)
    pinning = {"select_winners": draw.select_winners, "notify_batch": draw.notify_batch}
    return [pinning.get(a.__name__, a) for a in journey_activities(settings, adapters, sessions, rates)]


def adult_birthday(years: int = 30) -> date:
    today = datetime.now(UTC).date()
    return today.replace(year=today.year - years, day=min(today.day, 28))


def new_nik() -> str:
    return "32" + str(secrets.randbelow(10**14)).zfill(14)


def selfie() -> str:
    return base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass
class Person:
    nik: str = field(default_factory=new_nik)
    kk_number: str = field(default_factory=new_nik)
    full_name: str = "Siti Rahayu"
    date_of_birth: date = field(default_factory=adult_birthday)
    province: str = "Jawa Barat"
    occupation: str = "UNEMPLOYED"
    is_student: bool = False
    selfie_b64: str = field(default_factory=selfie)

    def applicant(self) -> Applicant:
        return Applicant(**{k: getattr(self, k) for k in Applicant.model_fields})


@dataclass
class Harness:
    client: Client
    settings: Settings
    world: SimWorld
    sessions: async_sessionmaker[AsyncSession]
    started: list[WorkflowHandle] = field(default_factory=list)
    persons: list["Person"] = field(default_factory=list)

    async def stop_all(self) -> None:
        """Terminate what this test left running: on the time-skipping server, a workflow with no worker
        left would stop time from skipping for every later test."""
        for handle in self.started:
            try:
                await handle.terminate("test finished")
            except Exception:  # already closed
                pass

    def citizen(self, **overrides: object) -> Person:
        """A person the civil registry knows (use `registered=False`-style overrides via Person fields)."""
        person = Person(**overrides)  # type: ignore[arg-type]
        self.world.add_citizen(person.nik, person.kk_number, person.full_name, person.date_of_birth)
        self.persons.append(person)
        return person

    async def register(self, person: Person, profile: str = "prakerja-2020") -> WorkflowHandle:
        registration_id = "REG-" + uuid.uuid4().hex[:16].upper()
        key = self.settings.secret_key
        async with self.sessions.begin() as session:
            registrations.add(
                session,
                registration_id=registration_id,
                nik_hash=nik_hash(key, person.nik),
                kk_hash=kk_hash(key, person.kk_number),
                token_hash=token_hash(registration_id),
                province=person.province,
                profile=profile,
                selfie_b64=person.selfie_b64,
                secret_key=key,
            )
        handle = await self.client.start_workflow(
            BeneficiaryJourney.run,
            StartJourneyInput(
                registration_id=registration_id,
                applicant=person.applicant(),
                nik_hash=nik_hash(key, person.nik),
                kk_hash=kk_hash(key, person.kk_number),
                terms=terms_for(profile, self.settings.time_scale),
            ),
            id=journey_id(registration_id),
            task_queue=self.settings.task_queue,
            search_attributes=journey_start_attributes(person.province, profile),  # as the API starts it
        )
        self.started.append(handle)
        return handle

    async def open_wave(
        self, quota: int, province_quotas: dict[str, int] | None = None, profile: str = "prakerja-2020"
    ) -> str:
        wave_id = "WAVE-" + uuid.uuid4().hex[:8].upper()
        row = wave(wave_id, status=WaveStatus.OPEN, quota=quota, province_quotas=province_quotas, profile=profile)
        async with self.sessions.begin() as session:
            session.add(row)
        return wave_id

    async def draw(self, wave_id: str, seed: str = "seed") -> None:
        """Run the wave's draw and wait, by polling, until it is DRAWN. Awaiting the draw's result instead
        would let the time-skipping server jump to the next timer (e.g. a fresh award's deadline)."""
        async with self.sessions.begin() as session:
            wave = await session.get(Wave, wave_id)
            assert wave is not None
            wave.status, wave.seed = WaveStatus.DRAWING, seed
        await self.client.start_workflow(
            WaveDraw.run,
            WaveDrawInput(wave_id=wave_id, seed=seed),
            id=draw_id(wave_id),
            task_queue=self.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        # The draw starts the wave's calendar (a year of programme time): stop_all ends it with the test.
        self.started.append(self.client.get_workflow_handle(wave_calendar_id(wave_id)))
        async with asyncio.timeout(30):
            while True:
                async with self.sessions() as session:
                    wave = await session.get(Wave, wave_id)
                    if wave is not None and wave.status == WaveStatus.DRAWN:
                        return
                await asyncio.sleep(0.05)


async def awarded(harness: Harness, profile: str = "prakerja-2020", **person: object) -> WorkflowHandle:
    """A journey that has passed every check and won a wave."""
    from tests.workflows.conftest import wait_status

    handle = await harness.register(harness.citizen(**person), profile)
    await wait_status(handle, "WAITING_FOR_WAVE")
    wave_id = await harness.open_wave(quota=1, profile=profile)
    await harness.draw(wave_id, seed=wave_id)
    await wait_status(handle, "AWARDED")
    return handle


def order(purchase_ref: str, price: int = 400_000, course_id: str = "C-1", marketplace: str = "MKT-A") -> dict:
    return {
        "purchase_ref": purchase_ref,
        "course_id": course_id,
        "price": price,
        "marketplace_client_code": marketplace,
        "provider_client_code": "PRV-A",
    }
