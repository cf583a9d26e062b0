"""Process logging that never prints personal data carried by an exception's message."""

import logging


class RedactFailures(logging.Filter):
    """The Temporal SDK logs failed activities with their traceback; a message may quote personal data
    (database errors quote their parameters). Keep the exception's type, drop its text and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            kind = type(record.exc_info[1]).__name__
            record.msg, record.args = f"{record.getMessage()} [{kind}]", ()
            record.exc_info, record.exc_text = None, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactFailures())
