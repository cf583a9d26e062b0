"""A Temporal client stand-in for service tests: one journey that answers updates from a script and records
what it was sent."""

from typing import Any


class FakeJourneys:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)  # per call, in order: a result, or an exception to raise
        self.sent: list[tuple[Any, Any]] = []  # (handler, argument)

    def get_workflow_handle(self, workflow_id: str) -> "FakeJourneys":
        return self

    async def execute_update(self, handler: Any, arg: Any, *, id: str) -> Any:
        return self._answer(handler, arg)

    async def signal(self, handler: Any, arg: Any) -> None:
        self._answer(handler, arg)

    def _answer(self, handler: Any, arg: Any) -> Any:
        self.sent.append((handler, arg))
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, BaseException):
            raise answer
        return answer
