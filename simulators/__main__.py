"""`python -m simulators [--host 127.0.0.1] [--port 8100] [--seed N]`: run the partner simulators."""

import argparse
import logging
import random

import uvicorn

from simulators.app import create_app
from simulators.world import SimWorld


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault dice (reproducible runs)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    world = SimWorld(rng=random.Random(args.seed))
    uvicorn.run(create_app(world), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
