"""`python -m api [--host 127.0.0.1] [--port 8000] [--workers N]`: serve the API with uvicorn.

With several workers (`--workers`, else PRAKERJA_API_WORKERS) uvicorn runs that many processes on one socket.
Their Prometheus metrics go to files in PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode), which
`/metrics` sums over every process, whichever one serves it: a temporary directory unless one is given.
"""

import argparse
import logging
import os
import tempfile
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from core.logs import configure_logging
from core.settings import load_settings

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description="Serve the Prakerja platform API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--workers", type=int, help="API processes (default: PRAKERJA_API_WORKERS, else 1)")
    args = parser.parse_args()
    configure_logging(logging.getLevelNamesMapping()[args.log_level.upper()])
    settings = load_settings()
    workers = args.workers or settings.api_workers
    if workers == 1:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
        return
    os.environ[MULTIPROC_DIR] = str(fresh_metrics_dir(os.environ.get(MULTIPROC_DIR)))  # the workers inherit it
    uvicorn.run(
        "api.__main__:worker_app",
        factory=True,
        workers=workers,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
    )


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


if __name__ == "__main__":
    main()
