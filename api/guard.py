"""Refuses text no database column can hold: a NUL character in the path, the query or a JSON body.

PostgreSQL rejects NUL in text columns, so without this guard such input would surface as a 500 (and SQLite
would store it). Checked once here rather than on every field of every model.
"""

from urllib.parse import unquote_to_bytes

from starlette.types import Message, Receive, Scope, Send

from api.errors import ProblemError, problem_response
from api.middleware import HttpMiddleware
from core.problems import ProblemCode

_JSON_NUL = b"\\u0000"  # the only way JSON text can carry NUL (raw control characters are invalid JSON)


class NulGuardMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
            await _refuse(scope, receive, send)
            return
        messages = [message := await receive()]
        while message["type"] == "http.request" and message.get("more_body"):
            messages.append(message := await receive())
        if _JSON_NUL in b"".join(m.get("body", b"") for m in messages):
            await _refuse(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    error = ProblemError(
        422, ProblemCode.INVALID_CHARACTERS, "The request contains a NUL character, which no field accepts."
    )
    await problem_response(error)(scope, receive, send)
