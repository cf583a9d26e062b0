"""The API as several processes: uvicorn's workers on one socket, each building its own app, with Prometheus
metrics in files under PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode) that `/metrics` sums
over every process, whichever one serves it: a fresh temporary directory unless one is given."""

import logging
import os
import socket
import tempfile
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from api.app import create_app
from core.logs import configure_logging

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def serve_workers(workers: int, host: str, port: int, log_level: str) -> None:
    os.environ[MULTIPROC_DIR] = str(fresh_metrics_dir(os.environ.get(MULTIPROC_DIR)))  # the workers inherit it
    config = NoDelayConfig(
        "api.processes:worker_app", factory=True, workers=workers, host=host, port=port, log_level=log_level
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()  # what uvicorn.run does for workers > 1


class NoDelayConfig(uvicorn.Config):
    """uvicorn binds the workers' shared socket with protocol 0, and asyncio turns Nagle's algorithm off only on
    connections whose protocol says TCP: every answer's second write then waited for the client's delayed ACK
    (measured: GET /healthz p50 44 ms with 2 processes, 1.4 ms with one). Linux copies TCP_NODELAY from the
    listening socket to the connections it accepts."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def fresh_metrics_dir(given: str | None) -> Path:
    """The multiprocess metrics directory, emptied: files left by an earlier run would be counted again."""
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="prakerja-api-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


def worker_app() -> FastAPI:
    """One worker process's app (uvicorn imports this in each process it spawns), logging as the parent does:
    uvicorn has already set its own logger to --log-level here."""
    configure_logging(logging.getLogger("uvicorn").getEffectiveLevel())
    return create_app()
