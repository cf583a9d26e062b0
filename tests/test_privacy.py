"""Personal data never reaches Temporal in clear: not in history payloads, failures, search attributes or ids.

Each check also shows the data IS there once decrypted with the codec keys, so it cannot pass vacuously.
"""

import asyncio
import base64
import dataclasses
import logging
from collections.abc import Iterator
from datetime import date

import pytest_asyncio
from google.protobuf.message import Message
from sqlalchemy import text
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.exceptions import ApplicationError

from adapters.civil_registry import CitizenCheck
from core.contracts import journey_id
from core.logs import RedactFailures
from core.security import unseal
from core.settings import DEV_SECRET_KEY
from core.temporal import SA_STATUS
from db import registrations
from tests.api.live import live_app

NAME = "Kartika Wulandari Purnamasari"  # distinctive: found nowhere by accident


def payloads(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message (inputs, results, signals, details, failures)."""
    if isinstance(message, Payload):
        yield message
        return
    for descriptor, value in message.ListFields():
        if descriptor.type != descriptor.TYPE_MESSAGE:
            continue
        if isinstance(value, Message):
            values = [value]
        elif hasattr(value, "values"):  # a map field
            values = list(value.values())
        else:  # a repeated field
            values = list(value)
        for item in values:
            if isinstance(item, Message):
                yield from payloads(item)


def secrets_of(person) -> list[bytes]:
    return [person.nik.encode(), person.kk_number.encode(), person.full_name.encode()]


async def plain_client(dev_env) -> Client:
    """A client WITHOUT the payload codec, as anyone with access to the Temporal server would have."""
    return await Client.connect(dev_env.client.service_client.config.target_host, namespace=dev_env.client.namespace)


async def decrypted(dev_env, found: list[Payload]) -> bytes:
    codec = dev_env.client.data_converter.payload_codec
    return b"".join(p.SerializeToString() for p in await codec.decode(found))


@pytest_asyncio.fixture
async def live(dev_env, engine):
    async with live_app(dev_env.client, engine) as app:
        yield app


async def awarded(live, person) -> str:
    """Register over the API, open a wave and draw it: a history with signals, updates of state and an award."""
    registration = await live.register(person)
    await live.wait_me(registration["beneficiary_token"], "WAITING_FOR_WAVE")
    operator = await live.staff("operator")
    wave = (await live.http.post("/v1/waves", json={"name": "W", "quota": 1}, headers=operator)).json()
    await live.http.post(f"/v1/waves/{wave['wave_id']}/draw", json={}, headers=operator)
    await live.wait_me(registration["beneficiary_token"], "AWARDED")
    return registration["registration_id"]


async def test_history_search_attributes_and_ids_hold_no_personal_data(live, dev_env, caplog):
    caplog.set_level(logging.DEBUG)  # every record the API, workers and SDK write, as production handlers see them
    caplog.handler.addFilter(RedactFailures())
    person = live.citizen(full_name=NAME)
    registration_id = await awarded(live, person)
    handle = (await plain_client(dev_env)).get_workflow_handle(journey_id(registration_id))
    async with asyncio.timeout(5):  # the workflow records the award one task after the projection
        while (description := await handle.describe()).typed_search_attributes.get(SA_STATUS) != "AWARDED":
            await asyncio.sleep(0.05)

    history = await handle.fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)

    for secret in secrets_of(person):
        assert secret not in raw
        assert secret.decode() not in history.to_json()
        assert secret not in description.raw_description.SerializeToString()  # search attributes, details
        assert secret.decode() not in description.id
        assert secret.decode() not in caplog.text
    assert registration_id in caplog.text  # the logs were captured, and they name the journey by its id
    # The same history, decrypted with the codec keys, does hold them: the checks above are not vacuous.
    clear = await decrypted(dev_env, [p for event in history.events for p in payloads(event)])
    assert all(secret in clear for secret in secrets_of(person))


@dataclasses.dataclass
class LeakyRegistry:
    """A civil registry whose errors quote the applicant, as careless partner clients do."""

    retryable: bool

    async def verify(self, nik: str, kk_number: str, full_name: str, date_of_birth: date) -> CitizenCheck:
        message = f"registry refused {nik} ({full_name}, KK {kk_number})"
        if self.retryable:
            raise RuntimeError(message)
        raise ApplicationError(message, type="RegistryRefused", non_retryable=True)


async def pending_failure(handle, timeout: float = 10) -> WorkflowExecutionDescription:
    async with asyncio.timeout(timeout):
        while True:
            description = await handle.describe()
            pending = description.raw_description.pending_activities
            if pending and pending[0].HasField("last_failure"):
                return description
            await asyncio.sleep(0.05)


async def test_failure_messages_are_encrypted_while_retrying(dev_env, engine):
    adapt = lambda adapters: dataclasses.replace(adapters, civil_registry=LeakyRegistry(retryable=True))  # noqa: E731
    async with live_app(dev_env.client, engine, adapt) as live:
        person = live.citizen(full_name=NAME)
        registration = await live.register(person)
        handle = (await plain_client(dev_env)).get_workflow_handle(journey_id(registration["registration_id"]))

        description = await pending_failure(handle)

    failure = description.raw_description.pending_activities[0].last_failure
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert all(secret not in description.raw_description.SerializeToString() for secret in secrets_of(person))
    error = await dev_env.client.data_converter.decode_failure(failure)
    assert person.nik in str(error) and NAME in str(error)


async def test_failure_messages_are_encrypted_in_history(dev_env, engine):
    adapt = lambda adapters: dataclasses.replace(adapters, civil_registry=LeakyRegistry(retryable=False))  # noqa: E731
    async with live_app(dev_env.client, engine, adapt) as live:
        person = live.citizen(full_name=NAME)
        registration = await live.register(person)
        handle = (await plain_client(dev_env)).get_workflow_handle(journey_id(registration["registration_id"]))
        async with asyncio.timeout(10):
            while (await handle.describe()).status.name == "RUNNING":  # the journey fails on the first attempt
                await asyncio.sleep(0.05)

        history = await handle.fetch_history()

    raw = b"".join(event.SerializeToString() for event in history.events)
    assert all(secret not in raw for secret in secrets_of(person))
    failed = history.events[-1].workflow_execution_failed_event_attributes.failure
    assert failed.message == "Encoded failure"
    error = await dev_env.client.data_converter.decode_failure(failed)  # the activity error, caused by the registry's
    assert person.nik in str(error.__cause__) and NAME in str(error.__cause__)


async def test_a_pending_selfie_is_stored_sealed(sessions):
    selfie = base64.b64encode(b"a face, until the biometric partner has seen it").decode()
    async with sessions.begin() as session:
        registrations.add(
            session,
            registration_id="REG-SEALED",
            nik_hash="n" * 64,
            kk_hash="k" * 64,
            token_hash="t" * 64,
            province="Bali",
            profile="prakerja-2020",
            selfie_b64=selfie,
            secret_key=DEV_SECRET_KEY,
        )
    async with sessions() as session:
        stored = await session.scalar(
            text("SELECT selfie_b64 FROM pending_selfies WHERE registration_id = 'REG-SEALED'")
        )
    assert selfie not in stored and base64.b64decode(selfie) not in base64.b64decode(stored)
    assert unseal(DEV_SECRET_KEY, stored) == selfie
