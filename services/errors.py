"""How a use case says no: the JSON API answers problem JSON, the console shows the code's message."""

from typing import Any


class Refused(Exception):
    """A rule refused the action. `status` is the HTTP status the JSON API answers with; `code` is stable."""

    def __init__(self, status: int, code: str, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code, self.detail = status, code, detail
        self.extra = extra or {}
