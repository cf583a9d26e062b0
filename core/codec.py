"""AES-GCM payload codec: personal data in Temporal payloads is encrypted; the key id travels in metadata."""

import base64
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class UnknownKeyError(ValueError):
    """A payload was encrypted with a key this process does not hold."""


def parse_keys(spec: str) -> dict[str, bytes]:
    """Parse "kid:base64key,kid:base64key" (first is the active key) into an ordered keyring."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kid, _, encoded = item.partition(":")
        key = base64.b64decode(encoded)
        if not kid or len(key) not in (16, 24, 32):
            raise ValueError(f"codec key {kid!r} must be 'kid:base64' of 16, 24 or 32 bytes")
        keys[kid] = key
    if not keys:
        raise ValueError("at least one codec key is required")
    return keys


class EncryptionCodec(PayloadCodec):
    """Encrypts with the first key of the ring; decrypts with whichever key id the payload names."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self._active = next(iter(keys))
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(12)
        sealed = self._ciphers[self._active].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self._active.encode()},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        kid = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKeyError(f"no codec key {kid!r}")
        plain = cipher.decrypt(payload.data[:12], payload.data[12:], None)
        return Payload.FromString(plain)
