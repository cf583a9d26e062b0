import hashlib
import hmac
import time

import pytest
from sqlalchemy import select

from core.security import signed_headers
from db.models import AuditLog
from tests.api.helpers import assert_problem, bearer, register_partner, signed, staff_token

PROBE = "/test/marketplace-only"


@pytest.fixture
async def mkt_key(client, settings):
    return await register_partner(client, settings, "MKT-1", "marketplace")


async def audit_rows(sessions):
    async with sessions() as s:
        return (await s.scalars(select(AuditLog).order_by(AuditLog.id))).all()


async def test_good_signature_identifies_partner(client, mkt_key):
    resp = await signed(client, "GET", "/v1/partners/me", "MKT-1", mkt_key)

    assert resp.status_code == 200
    assert resp.json() == {"client_code": "MKT-1", "kind": "marketplace", "name": "MKT-1 Ltd"}


async def test_signed_body_is_verified_and_still_parsed(client, mkt_key):
    resp = await signed(client, "POST", PROBE, "MKT-1", mkt_key, {"purchase_ref": "P-1"})

    assert resp.status_code == 200
    assert resp.json() == {"client_code": "MKT-1", "purchase_ref": "P-1"}


async def test_query_string_is_part_of_the_signature(client, mkt_key):
    resp = await signed(client, "GET", "/v1/partners/me?x=1", "MKT-1", mkt_key)

    assert resp.status_code == 200


@pytest.mark.parametrize("drop", ["X-Client-Code", "X-Timestamp", "X-Signature"])
async def test_missing_header_is_401(client, mkt_key, drop):
    headers = signed_headers(mkt_key, "MKT-1", int(time.time()), "GET", "/v1/partners/me", b"")
    del headers[drop]

    resp = await client.get("/v1/partners/me", headers=headers)

    assert_problem(resp, 401, "SIGNATURE_MISSING")


async def test_forged_signature_is_401(client, mkt_key):
    resp = await signed(client, "GET", "/v1/partners/me", "MKT-1", "not-the-key")

    assert_problem(resp, 401, "SIGNATURE_INVALID")


async def test_a_non_ascii_signature_is_401_not_500(client, mkt_key):
    headers = signed_headers(mkt_key, "MKT-1", int(time.time()), "GET", "/v1/partners/me", b"")
    headers["X-Signature"] = "é" * 64

    resp = await client.get("/v1/partners/me", headers={k: v.encode() for k, v in headers.items()})

    assert_problem(resp, 401, "SIGNATURE_INVALID")


async def test_a_timestamp_in_other_digits_is_expired_not_500(client, mkt_key):
    stamp = "¹²³"  # superscripts: str.isdigit() says yes, int() says no; headers arrive as latin-1
    message = f"MKT-1{stamp}GET/v1/partners/me".encode()
    signature = hmac.new(mkt_key.encode(), message, hashlib.sha256).hexdigest()
    headers = {"X-Client-Code": "MKT-1", "X-Timestamp": stamp, "X-Signature": signature}

    resp = await client.get("/v1/partners/me", headers={k: v.encode("latin-1") for k, v in headers.items()})

    assert_problem(resp, 401, "SIGNATURE_EXPIRED")


async def test_tampered_body_is_401(client, mkt_key):
    resp = await signed(
        client, "POST", PROBE, "MKT-1", mkt_key, {"purchase_ref": "P-1"}, sent_body=b'{"purchase_ref": "P-2"}'
    )

    assert_problem(resp, 401, "SIGNATURE_INVALID")


# Well outside the 300 s window: a request signed 301 s ahead reaches the check a second or more later on a
# loaded machine, and is then inside the window.
@pytest.mark.parametrize("skew", [-330, 330])
async def test_expired_timestamp_is_401(client, mkt_key, skew):
    resp = await signed(client, "GET", "/v1/partners/me", "MKT-1", mkt_key, ts=int(time.time()) + skew)

    assert_problem(resp, 401, "SIGNATURE_EXPIRED")


async def test_timestamp_within_window_is_accepted(client, mkt_key):
    resp = await signed(client, "GET", "/v1/partners/me", "MKT-1", mkt_key, ts=int(time.time()) - 290)

    assert resp.status_code == 200


async def test_unknown_partner_is_401_and_not_audited(client, sessions):
    resp = await signed(client, "GET", "/v1/partners/me", "GHOST", "whatever")

    assert_problem(resp, 401, "UNKNOWN_PARTNER")
    assert await audit_rows(sessions) == []


async def test_wrong_kind_is_403(client, settings):
    key = await register_partner(client, settings, "PAY-1", "payment")

    resp = await signed(client, "POST", PROBE, "PAY-1", key, {"purchase_ref": "P-1"})

    assert_problem(resp, 403, "FORBIDDEN_PARTNER_KIND")


async def test_partner_calls_are_audited_including_refusals(client, sessions, mkt_key):
    await signed(client, "POST", PROBE, "MKT-1", mkt_key, {"purchase_ref": "P-7"})
    await signed(client, "GET", "/v1/partners/me", "MKT-1", "forged")

    partner_rows = [r for r in await audit_rows(sessions) if r.actor_kind == "partner"]
    assert [(r.actor_id, r.action, r.status_code) for r in partner_rows] == [
        ("MKT-1", f"POST {PROBE}", 200),
        ("MKT-1", "GET /v1/partners/me", 401),
    ]
    assert partner_rows[1].detail == {"code": "SIGNATURE_INVALID"}


async def test_staff_writes_are_audited_with_ids_not_secrets(client, sessions, settings, mkt_key):
    rows = await audit_rows(sessions)

    assert [(r.actor_kind, r.actor_id, r.action, r.status_code) for r in rows] == [
        ("staff", "admin", "POST /v1/admin/partners", 201)
    ]
    assert rows[0].detail == {"client_code": "MKT-1", "kind": "marketplace"}
    assert mkt_key not in str(rows[0].detail)


async def test_refused_staff_write_is_audited(client, sessions, settings):
    token = await staff_token(client, settings, "support")
    resp = await client.post("/v1/admin/partners", json={"bad": 1}, headers=bearer(token))

    assert resp.status_code == 403
    last = (await audit_rows(sessions))[-1]
    assert (last.actor_kind, last.action, last.status_code) == ("staff", "POST /v1/admin/partners", 403)
    assert last.actor_id.startswith("support-") and last.detail == {"code": "FORBIDDEN_ROLE"}
