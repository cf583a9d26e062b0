"""The API as its own uvicorn process, and raw HTTP/1.1 requests against it (as an attacker would send them).

httpx sends a whole body before it reads an answer; these requests read the answer as soon as it comes, so an
oversized body stops being sent once the server has refused it, and the server's memory can be read meanwhile.
"""

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHUNK = b"a" * 65536


@dataclass
class ApiProcess:
    process: subprocess.Popen[bytes]
    port: int

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_process(tmp_path: Path, **env: str) -> Iterator[ApiProcess]:
    """`python -m api` on a free loopback port, Temporal unreachable (nothing here needs it)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PRAKERJA_", "DATABASE_URL", "TEMPORAL_"))}
    environ |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/api.db", "TEMPORAL_ADDRESS": "127.0.0.1:1", **env}
    argv = [sys.executable, "-m", "api", "--port", str(port), "--log-level", "error"]
    process = subprocess.Popen(argv, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert process.poll() is None and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.1)
        yield ApiProcess(process, port)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def oversized_post(port: int, path: str, total: int, *, chunked: bool, source: str = "127.0.0.1") -> tuple[int, int]:
    """POST `total` bytes (declared by Content-Length, or chunked), stopping once the answer arrives.
    Returns (status, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode())
    sent, answer = 0, b""
    with sock:
        sock.setblocking(False)
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            if readable or not writable:
                break
            try:
                sock.send(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
                sent += len(CHUNK)
            except BlockingIOError:
                continue
            except OSError:  # the server closed after answering; the answer is waiting to be read
                break
        answer = _read_answer(sock)
    return int(answer.split(b" ", 2)[1]), sent


def _read_answer(sock: socket.socket) -> bytes:
    sock.setblocking(True)
    sock.settimeout(10)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:  # the rest of our body arrived after the server closed: the answer came first
        pass
    return answer


def small_post(port: int, path: str, body: bytes, *, source: str = "127.0.0.1", headers: str = "") -> int:
    """One POST from the loopback address `source` (any 127.x.y.z: a distinct client); the status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nConnection: close\r\n"
        sock.sendall(f"{head}{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return int(_read_answer(sock).split(b" ", 2)[1])
