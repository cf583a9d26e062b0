"""Process logging that never prints personal data carried by an exception's message."""

import logging

from opentelemetry import trace


class RedactFailures(logging.Filter):
    """The Temporal SDK logs failed activities with their traceback; a message may quote personal data
    (database errors quote their parameters). Keep the exception's type, drop its text and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            kind = type(record.exc_info[1]).__name__
            record.msg, record.args = f"{record.getMessage()} [{kind}]", ()
            record.exc_info, record.exc_text = None, None
        return True


class TraceIds(logging.Filter):
    """Adds `trace_id`: the current span's trace (32 hex digits) to find the line's trace, or `-` outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        return True


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s trace=%(trace_id)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactFailures())
        handler.addFilter(TraceIds())
