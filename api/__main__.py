"""`python -m api [--host 127.0.0.1] [--port 8000] [--workers N]`: serve the API with uvicorn, as one process
or as several (`--workers`, else PRAKERJA_API_WORKERS; api/processes.py)."""

import argparse
import logging

import uvicorn

from api.app import create_app
from api.processes import serve_workers
from core.logs import configure_logging
from core.settings import load_settings


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
    serve_workers(workers, args.host, args.port, args.log_level)


if __name__ == "__main__":
    main()
