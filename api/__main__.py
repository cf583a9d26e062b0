"""`python -m api [--host 127.0.0.1] [--port 8000]`: serve the API with uvicorn."""

import argparse
import logging

import uvicorn

from api.app import create_app
from core.logs import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description="Serve the Prakerja platform API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    configure_logging(logging.getLevelNamesMapping()[args.log_level.upper()])
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
