"""Keyed hashes, token hashing, sign-key sealing and the partner request signature."""

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _derive(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """Stable, non-reversible id for a personal identifier (NIK, KK): uniqueness without clear text."""
    return hmac.new(_derive(secret_key, purpose), value.encode(), hashlib.sha256).hexdigest()


def nik_hash(secret_key: str, nik: str) -> str:
    return keyed_hash(secret_key, "nik", nik)


def kk_hash(secret_key: str, kk_number: str) -> str:
    return keyed_hash(secret_key, "kk", kk_number)


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """Bearer tokens are stored as SHA-256 digests: a leaked table reveals no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


def seal(secret_key: str, plain: str) -> str:
    """Encrypt a secret for storage (partner sign keys must be recoverable to verify HMACs)."""
    nonce = os.urandom(12)
    sealed = AESGCM(_derive(secret_key, "seal")).encrypt(nonce, plain.encode(), None)
    return base64.b64encode(nonce + sealed).decode()


def unseal(secret_key: str, stored: str) -> str:
    raw = base64.b64decode(stored)
    return AESGCM(_derive(secret_key, "seal")).decrypt(raw[:12], raw[12:], None).decode()


def sign(sign_key: str, client_code: str, timestamp: str, method: str, path_with_query: str, body: bytes) -> str:
    """HMAC-SHA256(sign_key, client_code + timestamp + METHOD + path_with_query + raw_body), lowercase hex."""
    message = f"{client_code}{timestamp}{method.upper()}{path_with_query}".encode() + body
    return hmac.new(sign_key.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header may carry anything.
    return hmac.compare_digest(expected.encode(), given.lower().encode())


def signed_headers(
    sign_key: str, client_code: str, timestamp: int, method: str, path: str, body: bytes
) -> dict[str, str]:
    """Headers a partner sends; used by the simulators' callbacks and by tests."""
    ts = str(timestamp)
    return {
        "X-Client-Code": client_code,
        "X-Timestamp": ts,
        "X-Signature": sign(sign_key, client_code, ts, method, path, body),
    }


def mask(account_number: str) -> str:
    """Last 4 digits only: enough to tell two accounts apart, useless to anyone else."""
    return "*" * max(len(account_number) - 4, 0) + account_number[-4:]
