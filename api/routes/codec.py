"""Codec server for the Temporal UI: staff see decrypted payloads, everyone else sees ciphertext."""

import base64
import binascii
import re
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Request
from google.protobuf.message import DecodeError
from pydantic import BaseModel, BeforeValidator, PlainSerializer, WithJsonSchema
from temporalio.api.common.v1 import Payload

from api.audit import add_audit_detail
from api.deps import ContextDep, StaffOrCookieDep
from api.errors import ProblemError, problem_responses
from core.codec import UnknownKeyError
from core.problems import ProblemCode

router = APIRouter(prefix="/codec", tags=["operations"], responses=problem_responses(401, 422))

# Either alphabet (standard or URL-safe), padding optional: the forms `_b64decode` reads, stated in the schema.
_B64_PATTERN = r"^([A-Za-z0-9+/_-]{4})*([A-Za-z0-9+/_-]{2}(==)?|[A-Za-z0-9+/_-]{3}=?)?$"
_BASE64 = re.compile(_B64_PATTERN)


def _b64decode(value: Any) -> bytes:
    if isinstance(value, bytes):  # built in code from a Payload; JSON input is always a string
        return value
    if not isinstance(value, str):
        raise ValueError("must be a base64 string")
    if not _BASE64.fullmatch(value):
        raise ValueError("must be valid base64")
    # Protobuf JSON writers may use the URL-safe alphabet and drop padding; accept both forms.
    normalized = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except binascii.Error:
        raise ValueError("must be valid base64") from None


Base64 = Annotated[
    bytes,
    BeforeValidator(_b64decode),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode(), return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64", "pattern": _B64_PATTERN}),
]


class CodecPayload(BaseModel):
    metadata: dict[str, Base64] = {}
    data: Base64 = b""


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload]


def _to_temporal(body: CodecPayloads) -> list[Payload]:
    return [Payload(metadata=p.metadata, data=p.data) for p in body.payloads]


def _from_temporal(payloads: list[Payload]) -> CodecPayloads:
    return CodecPayloads(payloads=[CodecPayload(metadata=dict(p.metadata), data=p.data) for p in payloads])


@router.post("/encode")
async def encode(body: CodecPayloads, _: StaffOrCookieDep, ctx: ContextDep, request: Request) -> CodecPayloads:
    """Encrypt payloads with the active codec key (Temporal UI / CLI codec endpoint)."""
    add_audit_detail(request, payloads=len(body.payloads))
    return _from_temporal(await ctx.codec.encode(_to_temporal(body)))


@router.post("/decode")
async def decode(body: CodecPayloads, _: StaffOrCookieDep, ctx: ContextDep, request: Request) -> CodecPayloads:
    """Decrypt payloads for an authorised staff member; unencrypted payloads pass through unchanged. One that
    cannot be decrypted is 422 `CODEC_DECRYPT_FAILED` (`CODEC_UNKNOWN_KEY`: a key this server does not hold)."""
    add_audit_detail(request, payloads=len(body.payloads), namespace=request.headers.get("X-Namespace", "")[:64])
    try:
        return _from_temporal(await ctx.codec.decode(_to_temporal(body)))
    except UnknownKeyError:
        raise ProblemError(
            422, ProblemCode.CODEC_UNKNOWN_KEY, "A payload names a key this server does not hold."
        ) from None
    except (InvalidTag, DecodeError, ValueError):  # ValueError: too short to hold a nonce
        raise ProblemError(422, ProblemCode.CODEC_DECRYPT_FAILED, "A payload could not be decrypted.") from None
