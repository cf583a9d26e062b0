"""Re-record the replay fixtures in tests/workflows/histories/ from the current workflow code.

    .venv/bin/python -m benchmarks.record_histories

Only for a deliberate, replay-breaking change that no running workflow can meet. A change to logic that
running journeys will replay must go behind `workflow.patched(...)` and keep the old fixtures passing.
"""

import os
import sys

import pytest

TEST = "tests/workflows/test_replay.py"


def main() -> int:
    os.environ["RECORD_HISTORIES"] = "1"
    # Recording and replaying run apart: the replay test collects the fixture files at import time.
    return pytest.main(["-q", "-p", "no:cacheprovider", TEST, "-k", "record"])


if __name__ == "__main__":
    sys.exit(main())
