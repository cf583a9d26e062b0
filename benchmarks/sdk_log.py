"""The SDK's warnings during a run (failed activity attempts, failed workflow tasks), counted instead of printed."""

import logging
from collections import Counter


class Tally(logging.Handler):
    """Counts the SDK's warnings (failed activity attempts, failed workflow tasks) instead of printing stacks."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        what = record.getMessage().split(" (", 1)[0][:60]
        if record.exc_info and record.exc_info[1] is not None:
            cause = record.exc_info[1].__cause__ or record.exc_info[1]
            what += f": {type(cause).__name__} {str(cause).splitlines()[0][:50]}"
        kind = getattr(record, "activity_info", None) or getattr(record, "workflow_info", None)
        if kind is not None:
            what += f" [{getattr(kind, 'activity_type', None) or getattr(kind, 'workflow_type', '')}]"
        self.counts[what] += 1


def install_tally() -> Tally:
    tally = Tally()
    for name in ("temporalio", "prakerja"):
        logger = logging.getLogger(name)
        logger.addHandler(tally)
        logger.propagate = False
    return tally
