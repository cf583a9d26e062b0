import logging

from core.logs import RedactFailures


def test_exception_text_and_traceback_are_dropped_but_the_type_kept():
    try:
        raise ValueError("NIK 3201234567890123 not accepted")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "temporalio.activity", logging.WARNING, __file__, 1, "Completing %s", ("x",), sys.exc_info()
        )
    assert RedactFailures().filter(record)
    text = logging.Formatter().format(record)
    assert "3201234567890123" not in text and text == "Completing x [ValueError]"
