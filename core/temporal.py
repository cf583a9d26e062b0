"""The one place that knows how to talk to Temporal: data converter, codec, search attributes."""

import dataclasses
from collections.abc import Sequence

from temporalio.client import Client, Interceptor, TLSConfig
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from core.codec import EncryptionCodec, parse_keys
from core.domain import JourneyStatus
from core.settings import Settings

# Search attributes carry opaque ids and categories only, never personal data.
SA_STATUS = SearchAttributeKey.for_keyword("PrakerjaStatus")
SA_WAVE = SearchAttributeKey.for_keyword("PrakerjaWave")
SA_PROVINCE = SearchAttributeKey.for_keyword("PrakerjaProvince")
SA_PROFILE = SearchAttributeKey.for_keyword("PrakerjaProfile")
SA_PAYMENT_PARTNER = SearchAttributeKey.for_keyword("PrakerjaPaymentPartner")
SA_ON_HOLD = SearchAttributeKey.for_bool("PrakerjaOnHold")
SEARCH_ATTRIBUTES = (SA_STATUS, SA_WAVE, SA_PROVINCE, SA_PROFILE, SA_PAYMENT_PARTNER, SA_ON_HOLD)


def journey_start_attributes(province: str, profile: str) -> TypedSearchAttributes:
    """A journey's attributes from its start: its first step (the identity checks) begins at once, so it starts
    VERIFYING; set here they cost the journey no upsert (it upserts only what changes)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(SA_STATUS, JourneyStatus.VERIFYING.value),
            SearchAttributePair(SA_PROVINCE, province),
            SearchAttributePair(SA_PROFILE, profile),
            SearchAttributePair(SA_ON_HOLD, False),
        ]
    )


def data_converter(codec_keys: str) -> DataConverter:
    """Pydantic JSON payloads, AES-GCM encrypted, with failure messages encrypted too."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(parse_keys(codec_keys)),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    settings: Settings, *, runtime: Runtime | None = None, interceptors: Sequence[Interceptor] = ()
) -> Client:
    """Connect a client for this process (one per process: a client belongs to its event loop). `runtime`
    carries the worker's metrics endpoint; `interceptors` tracing (core.tracing)."""
    tls: TLSConfig | bool = settings.temporal_tls
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.codec_keys),
        tls=tls,
        api_key=settings.temporal_api_key,
        runtime=runtime,
        interceptors=interceptors,
    )


def search_attribute_flags() -> list[str]:
    """`--search-attribute` values for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "BOOL": "Bool"}
    return [
        f"{key.name}={kinds[key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_')]}"
        for key in SEARCH_ATTRIBUTES
    ]


async def started(client: Client, workflow_id: str) -> bool:
    """Whether the server holds the workflow: a start whose answer was lost may have happened after all.
    False also when the server cannot be asked."""
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except Exception:
        return False
    return True
