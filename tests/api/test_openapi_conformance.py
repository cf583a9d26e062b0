"""The OpenAPI document tells the truth: schemathesis generates requests from it (against the ASGI app with its own
migrated SQLite database and Temporal unreachable) and runs all its checks on every answer, once as each kind of
caller: the admin, a support and an operator staff token, a beneficiary's bearer token, and a signed partner.

Partners generate clients from this document: every operation is checked, none is left out. Generation is
derandomized: the same code gives the same cases, run after run."""

import asyncio
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from core.domain import PartnerKind, Role
from core.security import seal, signed_headers, token_hash
from core.settings import DEV_ADMIN_TOKEN, Settings
from db.migrate import upgrade
from db.models import Beneficiary, Partner, StaffToken
from db.session import make_engine, make_sessionmaker
from tests.conftest import test_settings as settings_for_tests

# Temporal is down for this app on purpose. The operations that need it to answer at all say so with a 503 they
# document and its stable code: the truth, where schemathesis counts every 5xx a server error. Allowed exactly so.
DOCUMENTED_UNAVAILABILITY: dict[str, set[str]] = {
    "GET /readyz": {"NOT_READY"},
    "GET /v1/support/reconciliation": {"RECONCILIATION_UNAVAILABLE"},
}

# Refusals an operation documents (a stable code in its problem body) for requests its schema cannot tell apart
# from good ones: a rule over other records (a partner or provider that is not registered, a cursor this list
# never gave out, a profile's terms that contradict each other), over today's date, or over how a number is
# written. Schemathesis's own per-operation setting (`checks.positive_data_acceptance.expected-statuses`) could
# only allow every 422 of the operation, malformed-request ones included; this allows exactly these codes, and
# a `VALIDATION_ERROR` only where every field it names is listed as `VALIDATION_ERROR <field>`.
DOMAIN_REFUSALS: dict[str, set[str]] = {
    "GET /v1/reports/payment-partners": {"INVALID_RANGE"},  # `from` after `to`, or more than 366 days
    "GET /v1/assessments": {"INVALID_CURSOR"},
    "GET /v1/catalog/courses": {"INVALID_CURSOR"},
    "PUT /v1/me/payment-account": {"UNKNOWN_PAYMENT_PARTNER", "EKYC_FAILED"},
    "POST /v1/partners/courses": {"UNKNOWN_PROVIDER"},
    "POST /v1/admin/courses": {"UNKNOWN_PROVIDER"},
    "POST /v1/admin/profiles": {"INVALID_PROFILE"},
    "POST /v1/waves": {"UNKNOWN_PROFILE"},
    "POST /codec/decode": {"CODEC_DECRYPT_FAILED", "CODEC_UNKNOWN_KEY"},
    "POST /v1/registrations": {"VALIDATION_ERROR body.date_of_birth"},  # in the future
}
# Every operation: an integer is taken as written (1, not 1.0), as integer rupiah are (tests/api/test_api_admin.py);
# JSON Schema counts 1.0 an integer and has no way to say otherwise. Allowed where the value sent was such a float.
_NOT_AN_INTEGER = "Input should be a valid integer"


PARTNER_CODE, PARTNER_KEY = "OAS-PARTNER", "openapi-partner-sign-key-0123456789"
_SIGN_AS = "x-test-sign-as"  # not in the document: tells the signing wrapper below to sign this request
CALLERS: dict[str, dict[str, str]] = {
    "admin": {"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"},
    "support": {"Authorization": "Bearer stf_openapi-support"},
    "operator": {"Authorization": "Bearer stf_openapi-operator"},
    "beneficiary": {"Authorization": "Bearer bnf_openapi-beneficiary"},
    "partner": {_SIGN_AS: PARTNER_CODE},
}


async def _seed_callers(config: Settings) -> None:
    engine = make_engine(config.database_url)
    await upgrade(engine)
    async with make_sessionmaker(engine).begin() as session:
        for role in (Role.SUPPORT, Role.OPERATOR):
            token = CALLERS[role.value]["Authorization"].removeprefix("Bearer ")
            session.add(StaffToken(token_hash=token_hash(token), role=role, staff_id=f"oas-{role}", created_by="t"))
        beneficiary = CALLERS["beneficiary"]["Authorization"].removeprefix("Bearer ")
        session.add(
            Beneficiary(
                registration_id="REG-OPENAPI",
                nik_hash="nik-openapi",
                kk_hash="kk-openapi",
                token_hash=token_hash(beneficiary),
                status="REGISTERED",
                province="JAWA BARAT",
                profile="prakerja-2020",
            )
        )
        sealed = seal(config.secret_key, PARTNER_KEY)
        kind = PartnerKind.MARKETPLACE
        session.add(Partner(client_code=PARTNER_CODE, kind=kind, name="OpenAPI Ltd", sign_key_sealed=sealed))
    await engine.dispose()


def _signing(app: Any) -> Any:
    """Signs a request marked with `_SIGN_AS` as that partner would, over the exact bytes schemathesis sends."""

    async def wrapper(scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        code = headers.get(_SIGN_AS.encode())
        if code is None:
            return await app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        path = scope["path"]
        signed = signed_headers(PARTNER_KEY, code.decode(), int(time.time()), scope["method"], path, body)
        kept = [(k, v) for k, v in scope["headers"] if k != _SIGN_AS.encode()]
        added = [(k.lower().encode(), v.encode()) for k, v in signed.items()]
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app({**scope, "headers": kept + added}, replay, send)

    return wrapper


def _migrated_app_schema() -> schemathesis.schemas.BaseSchema:
    # Registrations wait for the phone's code (PRAKERJA_VERIFY_CONTACT), a journey starts only once it is confirmed:
    # with Temporal down here, a good registration is then its documented 202, not the 503 of a journey's start.
    config = settings_for_tests(Path(tempfile.mkdtemp(prefix="openapi-")), verify_contact=True)

    async def prepare() -> Client:
        await _seed_callers(config)
        # Temporal down: every call fails fast.
        return await Client.connect("127.0.0.1:1", lazy=True, data_converter=pydantic_data_converter)

    # Its own thread and loop: the suite's event loop (pytest-asyncio, session scope) is left alone.
    box: list[Client] = []
    thread = threading.Thread(target=lambda: box.append(asyncio.run(prepare())))
    thread.start()
    thread.join()
    loaded = schemathesis.openapi.from_asgi("/openapi.json", _signing(create_app(config, temporal_client=box[0])))
    # Every field refuses NUL with a 422 INVALID_CHARACTERS (api/guard.py), a rule of the whole API.
    loaded.config.generation.update(allow_x00=False)
    return loaded


# Built at collection: schemathesis makes one test per operation from the document (its lazy fixture form does
# not run on this pytest). It runs the app's lifespan in its own event-loop thread.
schema = _migrated_app_schema()


def _refusal(response: Any, case: Case) -> set[str]:
    """The stable code of a problem body, or for a validation problem one `VALIDATION_ERROR <field>` per field
    (leaving out a whole number written as a float)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return {"(not problem JSON)"}
    errors = [e for e in body.get("errors", []) if not _integral_float_refused(e, case.body)]
    fields = {f"{body.get('code')} {'.'.join(map(str, e.get('loc', [])))}" for e in errors}
    return fields if fields or body.get("errors") else {str(body.get("code"))}


def _integral_float_refused(error: dict[str, Any], sent: Any) -> bool:
    loc = list(error.get("loc", []))
    if error.get("msg") != _NOT_AN_INTEGER or loc[:1] != ["body"]:
        return False
    for key in loc[1:]:
        try:
            sent = sent[key]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(sent, float) and sent.is_integer()


def positive_data_acceptance_but_domain_refusals(ctx: Any, response: Any, case: Case) -> bool | None:
    """Schemathesis's positive_data_acceptance, except for the operation's documented DOMAIN_REFUSALS."""
    if response.status_code == 422 and _refusal(response, case) <= DOMAIN_REFUSALS.get(case.operation.label, set()):
        return None
    return positive_data_acceptance(ctx, response, case)


def not_a_server_error_but_documented_unavailability(ctx: Any, response: Any, case: Case) -> bool | None:
    """Schemathesis's not_a_server_error, except for an operation's documented 503 (DOCUMENTED_UNAVAILABILITY)."""
    if response.status_code == 503 and _refusal(response, case) <= DOCUMENTED_UNAVAILABILITY.get(
        case.operation.label, set()
    ):
        return None
    return not_a_server_error(ctx, response, case)


@pytest.mark.parametrize("caller", list(CALLERS))
@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_the_document_describes_what_the_api_does(case: Case, caller: str) -> None:
    case.call_and_validate(
        headers=CALLERS[caller],
        excluded_checks=[positive_data_acceptance, not_a_server_error],
        additional_checks=[
            positive_data_acceptance_but_domain_refusals,
            not_a_server_error_but_documented_unavailability,
        ],
    )
