"""An open-loop HTTP/1.1 load generator: requests leave at a fixed rate whether or not earlier ones have been
answered, and each latency counts from when its request was due, so a slow server cannot slow the clock that
measures it (no coordinated omission). Raw keep-alive connections over asyncio streams: the generator shares
the machine with the server, so it must cost far less per request than an HTTP client library."""

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def encode(self) -> bytes:
        head = [f"{self.method} {self.path} HTTP/1.1", "Host: bench", f"Content-Length: {len(self.body)}"]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + self.body


@dataclass
class Result:
    rate: float  # asked, requests/s (0: closed loop)
    seconds: float  # from the first request due to the last answer
    latencies: list[float]  # seconds, answered requests
    statuses: Counter[int]

    @property
    def achieved(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=1000, method="inclusive")[round(q * 1000) - 1]


class Pool:
    """Keep-alive connections to one port, opened on demand up to `limit` (then requests wait for one)."""

    def __init__(self, port: int, limit: int) -> None:
        self.port, self.limit, self.opened = port, limit, 0
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def send(self, request: Request) -> int:
        if self.idle.empty() and self.opened < self.limit:
            self.opened += 1
            conn = await asyncio.open_connection("127.0.0.1", self.port)
        else:
            conn = await self.idle.get()
        try:
            status, keep = await exchange(*conn, request.encode())
        except (OSError, asyncio.IncompleteReadError):
            self.opened -= 1
            conn[1].close()
            return 0
        if keep:
            self.idle.put_nowait(conn)
        else:
            self.opened -= 1
            conn[1].close()
        return status

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> tuple[int, bool]:
    """One request, its whole answer read: (status, whether the connection stays open)."""
    writer.write(raw)
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    if headers.get("transfer-encoding") == "chunked":
        while size := int((await reader.readline()).strip(), 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def open_loop(port: int, make: Callable[[int], Request], rate: float, seconds: float) -> Result:
    """`rate` requests a second for `seconds`, request i built by `make(i)`."""
    pool, latencies, statuses = Pool(port, limit=256), [], Counter[int]()
    start = time.perf_counter()

    async def one(i: int, due: float) -> None:
        status = await pool.send(make(i))
        statuses[status] += 1
        if 200 <= status < 300:
            latencies.append(time.perf_counter() - due)

    tasks = []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    took = time.perf_counter() - start
    pool.close()
    return Result(rate, took, latencies, statuses)


async def closed_loop(port: int, make: Callable[[int], Request], concurrency: int, seconds: float) -> Result:
    """`concurrency` clients, each sending its next request as soon as the last is answered: the most it serves."""
    pool, latencies, statuses, sent = Pool(port, limit=concurrency), [], Counter[int](), 0
    start = time.perf_counter()
    end = start + seconds

    async def client() -> None:
        nonlocal sent
        while time.perf_counter() < end:
            sent += 1
            began = time.perf_counter()
            status = await pool.send(make(sent))
            statuses[status] += 1
            if 200 <= status < 300:
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    took = time.perf_counter() - start
    pool.close()
    return Result(0.0, took, latencies, statuses)
