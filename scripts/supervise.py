"""Process supervision for the dev stack: each child in its own process group, logs, stop in reverse order."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HEADER = "===="  # starts the section of a log written by one start of a child


class Stop(Exception):
    """A stop was requested (Ctrl-C, SIGTERM from `make down`, terminal closed)."""


class StackError(Exception):
    """Start-up failed or a child died; `log` is the log worth showing."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


if sys.platform.startswith("linux"):
    import ctypes

    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, called in the child


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM even if the supervisor itself is killed with SIGKILL."""
    if sys.platform.startswith("linux"):
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Supervisor:
    log_dir: Path
    cwd: Path
    grace_s: float = 10.0
    children: list[Child] = field(default_factory=list)
    hurry: bool = False  # a second stop request skips the grace period

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        """Start a child, output to <log_dir>/<name>.log, in a new session: a terminal's Ctrl-C then
        reaches only the supervisor, which stops the children in order."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            out.write(f"\n{HEADER} {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        self.children.append(child := Child(name, proc, log))
        return child

    def run_once(self, name: str, argv: list[str], env: dict[str, str], timeout_s: float) -> None:
        """A one-shot step (migrations) run as a supervised child, so a stop request stops it too."""
        child = self.start(name, argv, env)
        deadline = time.monotonic() + timeout_s
        while child.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        self.stop(child)
        self.children.remove(child)
        if child.proc.returncode != 0:
            raise StackError(f"{name} failed ({describe_exit(child.proc.returncode)})", child.log)

    def check(self) -> None:
        for child in self.children:
            if (code := child.proc.poll()) is not None:
                raise StackError(f"{child.name} exited unexpectedly ({describe_exit(code)})", child.log)

    def stop(self, child: Child) -> None:
        signal_group(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while child.proc.poll() is None and time.monotonic() < deadline and not self.hurry:
            time.sleep(0.05)
        if child.proc.poll() is None:
            reason = "stop requested again" if self.hurry else f"still running after {self.grace_s:g} s"
            print(f"  {child.name}: {reason}, killing it", flush=True)
        signal_group(child.proc.pid, signal.SIGKILL)  # also whatever it left behind in its group
        child.proc.wait()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            print(f"  stopping {child.name}", flush=True)
            self.stop(child)
        self.children.clear()

    def wait_for(self, what: str, ready: Callable[[], bool], timeout_s: float, log: Path) -> None:
        """Poll `ready` while watching the children, so a crash is reported at once, not as a timeout."""
        deadline = time.monotonic() + timeout_s
        while not ready():
            self.check()
            if time.monotonic() > deadline:
                raise StackError(f"{what} not ready after {timeout_s:.0f} s", log)
            time.sleep(0.25)


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def log_tail(log: Path, lines: int = 25) -> str:
    """The last lines of the current run's section of a log (each start appends a `====` header)."""
    with log.open("rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - 16_384))
        text = f.read().decode(errors="replace").splitlines()
    starts = [i for i, line in enumerate(text) if line.startswith(HEADER)]
    return "\n".join(text[starts[-1] + 1 if starts else 0 :][-lines:])


def describe_exit(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def ports_in_use(ports: dict[int, str], host: str = "127.0.0.1") -> list[str]:
    """`port N (what)` for each port something already answers on."""
    taken = []
    for port, what in sorted(ports.items()):
        with socket.socket() as sock:
            sock.settimeout(0.3)
            if sock.connect_ex((host, port)) == 0:
                taken.append(f"port {port} ({what})")
    return taken


def running_pid(pid_file: Path, marker: bytes = b"devstack") -> int | None:
    """Pid of a live supervisor from its pid file; a stale file or a reused pid counts as none."""
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and marker not in cmdline.read_bytes():
        return None
    return pid


def request_stop(pid_file: Path, timeout_s: float) -> bool | None:
    """SIGTERM the supervisor and wait until it is gone: None if none ran, False if it is still stopping."""
    if (pid := running_pid(pid_file)) is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while running_pid(pid_file) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
