"""Where rate-limit counters live: Redis (shared by every API and worker process) or this process's memory
(development). The API counts its callers in them (api/ratelimit.py), the workers each payment partner's calls from
the journeys' common path (`activities.payments.PartnerBudget`).

Both run GCRA (the generic cell rate algorithm): one number per key, the "theoretical arrival time" of the next
request. A budget of `limit` per `period` admits a burst of `limit`, then one request per `period / limit`, and a
refusal knows exactly how long to wait. Keys name no person: keyed hashes of addresses and tokens
(api/ratelimit.py), a partner's client code.
"""

import logging
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Redis's own clock, so hosts whose clocks disagree still share one budget. Times in microseconds.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return 0
"""
REDIS_TIMEOUT_S = 0.5
FAIL_OPEN_LOG_INTERVAL_S = 30.0
MEMORY_MAX_KEYS = 100_000


class RateStore(Protocol):
    async def hit(self, key: str, limit: float, period_s: float) -> float:
        """Count one request against `key`; 0 if admitted, else the seconds to wait."""
        ...

    async def aclose(self) -> None: ...


def burst_s(interval_s: float, period_s: float) -> float:
    """The burst is `limit` requests (one period's worth), and at least one."""
    return max(period_s, interval_s)


def gcra(tat: float, now: float, limit: float, period_s: float) -> tuple[float, float]:
    """(new theoretical arrival time, seconds to wait): wait > 0 means refused and the time is unchanged."""
    interval = period_s / limit
    new_tat = max(tat, now) + interval
    wait = new_tat - burst_s(interval, period_s) - now
    return (tat, wait) if wait > 0 else (new_tat, 0.0)


class MemoryRateStore:
    """Counters of this process only: each process would grant the whole budget (development only)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tat: dict[str, float] = {}
        self._clock = clock  # tests stop it, to count a budget without racing it

    async def hit(self, key: str, limit: float, period_s: float) -> float:
        now = self._clock()
        if len(self._tat) >= MEMORY_MAX_KEYS:
            self._sweep(now)
        self._tat[key], wait = gcra(self._tat.get(key, now), now, limit, period_s)
        return wait

    def _sweep(self, now: float) -> None:
        self._tat = {key: tat for key, tat in self._tat.items() if tat > now}
        if len(self._tat) >= MEMORY_MAX_KEYS:  # a flood of distinct callers: forget rather than grow
            self._tat.clear()

    async def aclose(self) -> None:
        self._tat.clear()


class RedisRateStore:
    """Counters in Redis: one budget across every process. While Redis is unreachable the API's limits fail open
    (admit): losing the limit for a moment is better than refusing every partner and applicant. A payment partner's
    budget fails closed (`admit_when_unreachable=False`): its payments then take the partner's queue, whose rate
    the Temporal server keeps."""

    def __init__(self, url: str, *, admit_when_unreachable: bool = True) -> None:
        self._redis = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
        self._script = self._redis.register_script(_GCRA)
        self._last_warning = float("-inf")
        self._admit_when_unreachable = admit_when_unreachable

    async def hit(self, key: str, limit: float, period_s: float) -> float:
        interval_s = period_s / limit
        args = [max(1, round(interval_s * 1e6)), round(burst_s(interval_s, period_s) * 1e6)]
        try:
            wait_us = await self._script(keys=[key], args=args)
        except (RedisError, OSError) as exc:
            self._warn(exc)
            return 0.0 if self._admit_when_unreachable else period_s
        return int(wait_us) / 1_000_000

    def _warn(self, exc: Exception) -> None:
        if time.monotonic() - self._last_warning > FAIL_OPEN_LOG_INTERVAL_S:
            self._last_warning = time.monotonic()
            admitted = "admitted unlimited" if self._admit_when_unreachable else "refused"
            log.warning("rate-limit store unreachable (%s): requests are %s", type(exc).__name__, admitted)

    async def aclose(self) -> None:
        await self._redis.aclose()


def build_rate_store(redis_url: str | None, *, admit_when_unreachable: bool = True) -> RateStore:
    if redis_url:
        return RedisRateStore(redis_url, admit_when_unreachable=admit_when_unreachable)
    return MemoryRateStore()
