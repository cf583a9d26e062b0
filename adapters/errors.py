"""Errors every partner port may raise. A definitive answer (a rejection) is a result, never an error."""


class PartnerError(Exception):
    """The partner answered outside its contract (a bug on one side): retrying will not help."""


class PartnerUnavailable(PartnerError):
    """Transient: the partner refused or could not take the request (5xx, 429, connection refused)."""


class PartnerTimeout(PartnerError):
    """No answer in time. The partner may or may not have acted: the outcome is UNKNOWN.

    Callers that move money must ask the partner for the status before any new attempt.
    """


class PartnerRejected(PartnerError):
    """The partner refused the request (a 4xx other than those a port maps to a result): it did not act on it."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class DuplicateKey(PartnerRejected):
    """The partner refused a disbursement because it already holds that idempotency key (a 409): the key's own
    record, asked with a status query, is the answer."""
