"""A value computed at most once every few seconds per process: a burst of scrapes or public page views
costs one query, and concurrent callers wait for the one computation in flight instead of starting their own."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Cached(Generic[T]):
    def __init__(self, compute: Callable[[], Awaitable[T]], ttl_s: float) -> None:
        self._compute, self._ttl = compute, ttl_s
        self._value: T | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()
        self.computations = 0  # how many times `compute` ran (tests check a burst costs one)

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self._at < self._ttl

    async def get(self) -> T:
        if self._value is not None and self.fresh:
            return self._value
        async with self._lock:
            if self._value is None or not self.fresh:
                self.computations += 1
                self._value = await self._compute()
                self._at = time.monotonic()
        return self._value
