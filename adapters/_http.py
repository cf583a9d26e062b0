"""One HTTP call to a partner, with transport failures mapped onto the port errors.

Error messages carry the method and path only: paths hold client codes and idempotency keys,
never personal data (that always travels in JSON bodies).
"""

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from adapters.errors import PartnerError, PartnerRejected, PartnerTimeout, PartnerUnavailable
from adapters.metering import SYSTEM, UNKNOWN_SYSTEM

M = TypeVar("M", bound=BaseModel)

# The request never left this process: nothing can have happened at the partner.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    json: Any = None,
    params: dict[str, str] | None = None,
    system: str = UNKNOWN_SYSTEM,
) -> httpx.Response:
    """Send one request; return the partner's definitive answer (2xx/4xx), raise for everything else.
    `system` names the partner system for the metrics (adapters.metering)."""
    where = f"{method} {httpx.URL(url).path}"
    try:
        response = await http.request(method, url, json=json, params=params, extensions={SYSTEM: system})
    except _NOT_SENT as exc:
        raise PartnerUnavailable(f"{where}: not sent ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        # A read timeout, or the connection broke after the request went out: the partner may have acted.
        raise PartnerTimeout(f"{where}: no answer ({type(exc).__name__})") from exc
    if response.status_code == 504:
        # A gateway in front of the partner gave up waiting: same unknown outcome as our own timeout.
        raise PartnerTimeout(f"{where}: partner gateway timed out")
    if response.status_code >= 500 or response.status_code == 429:
        raise PartnerUnavailable(f"{where}: partner answered {response.status_code}")
    return response


def parse(response: httpx.Response, model: type[M]) -> M:
    """The body of a successful answer as `model`; anything else breaks the contract."""
    body = _success_json(response)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _contract_error(response, exc) from None


def parse_list(response: httpx.Response, model: type[M]) -> list[M]:
    body = _success_json(response)
    try:
        return [model.model_validate(item) for item in body]
    except (TypeError, ValidationError) as exc:
        raise _contract_error(response, exc) from None


def problem_code(response: httpx.Response) -> str | None:
    """The `code` of a problem+json answer, if the partner sent one."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def ensure_success(response: httpx.Response) -> None:
    """A 4xx left over after `send` means our request broke the partner's contract."""
    if not response.is_success:
        where = f"{response.request.method} {response.request.url.path}"
        raise PartnerRejected(f"{where}: partner answered {response.status_code}", response.status_code)


def _success_json(response: httpx.Response) -> Any:
    ensure_success(response)
    try:
        return response.json()
    except ValueError:
        raise PartnerError(f"{response.request.url.path}: answer is not JSON") from None


def _contract_error(response: httpx.Response, exc: Exception) -> PartnerError:
    # The validation error itself may echo personal data from the body: keep only its type.
    return PartnerError(f"{response.request.url.path}: answer breaks the contract ({type(exc).__name__})")
