"""Opaque keyset cursors: the last row's sort key, handed out with a page and read back for the next one."""

import base64
import json
from typing import Any

from core.problems import ProblemCode
from services.errors import Refused

NOT_OURS = "The cursor is not one this list gave out."


def encode_cursor(*key: Any) -> str:
    """The key (JSON values) as URL-safe text, without padding."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int, detail: str = NOT_OURS) -> list[Any]:
    """The key of `size` values a cursor carries; 422 INVALID_CURSOR for anything this list did not hand out."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise Refused(422, ProblemCode.INVALID_CURSOR, detail) from None
    if not isinstance(key, list) or len(key) != size:
        raise Refused(422, ProblemCode.INVALID_CURSOR, detail)
    return key
