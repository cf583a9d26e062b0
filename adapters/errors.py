"""Errors every partner port may raise. A definitive answer (a rejection) is a result, never an error."""


class PartnerError(Exception):
    """The partner answered outside its contract (a bug on one side): retrying will not help."""


class PartnerUnavailable(PartnerError):
    """Transient: the partner refused or could not take the request (5xx, 429, connection refused)."""


class PartnerTimeout(PartnerError):
    """No answer in time. The partner may or may not have acted: the outcome is UNKNOWN.

    Callers that move money must ask the partner for the status before any new attempt.
    """
