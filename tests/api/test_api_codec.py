import base64

from temporalio.api.common.v1 import Payload

from core.codec import ENCODING, EncryptionCodec, parse_keys
from tests.api.helpers import admin, assert_problem, bearer, staff_token

PLAIN = {
    "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
    "data": base64.b64encode(b'"3201"').decode(),
}


async def test_encode_then_decode_returns_the_original(client, settings):
    token = await staff_token(client, settings, "support")

    encoded = await client.post("/codec/encode", json={"payloads": [PLAIN]}, headers=bearer(token))
    decoded = await client.post("/codec/decode", json=encoded.json(), headers=bearer(token))

    assert encoded.status_code == decoded.status_code == 200
    sealed = encoded.json()["payloads"][0]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING and sealed["data"] != PLAIN["data"]
    assert decoded.json() == {"payloads": [PLAIN]}


async def test_decodes_what_the_workers_codec_encrypted(client, settings):
    codec = EncryptionCodec(parse_keys(settings.codec_keys))
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'{"nik":"3201"}')])
    wire = {
        "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
        "data": base64.b64encode(sealed.data).decode(),
    }

    resp = await client.post("/codec/decode", json={"payloads": [wire]}, headers=admin(settings))

    [payload] = resp.json()["payloads"]
    assert base64.b64decode(payload["data"]) == b'{"nik":"3201"}'


async def test_plain_payloads_pass_through_decode(client, settings):
    resp = await client.post("/codec/decode", json={"payloads": [PLAIN]}, headers=admin(settings))

    assert resp.json() == {"payloads": [PLAIN]}


async def test_codec_needs_staff(client):
    resp = await client.post("/codec/decode", json={"payloads": [PLAIN]})

    assert_problem(resp, 401, "UNAUTHENTICATED")


async def test_malformed_payloads_are_422(client, settings):
    for body in ({"payloads": [{"data": "not base64!!"}]}, {"payloads": "x"}, {}):
        resp = await client.post("/codec/decode", json=body, headers=admin(settings))
        assert_problem(resp, 422, "VALIDATION_ERROR")


async def test_undecryptable_payload_is_422(client, settings):
    forged = {
        "metadata": {
            "encoding": base64.b64encode(ENCODING).decode(),
            "encryption-key-id": base64.b64encode(b"dev-2026").decode(),
        },
        "data": base64.b64encode(b"\0" * 40).decode(),
    }
    unknown_key = forged | {"metadata": forged["metadata"] | {"encryption-key-id": "b3RoZXI="}}

    bad = await client.post("/codec/decode", json={"payloads": [forged]}, headers=admin(settings))
    other = await client.post("/codec/decode", json={"payloads": [unknown_key]}, headers=admin(settings))

    assert_problem(bad, 422, "CODEC_DECRYPT_FAILED")
    assert_problem(other, 422, "CODEC_UNKNOWN_KEY")


async def test_truncated_payload_and_binary_key_id_are_422(client, settings):
    encoding = base64.b64encode(ENCODING).decode()
    kid = base64.b64encode(b"dev-2026").decode()
    truncated = {"metadata": {"encoding": encoding, "encryption-key-id": kid}, "data": base64.b64encode(b"\1").decode()}
    binary_kid = truncated | {
        "metadata": {"encoding": encoding, "encryption-key-id": base64.b64encode(b"\xff").decode()}
    }

    short = await client.post("/codec/decode", json={"payloads": [truncated]}, headers=admin(settings))
    odd = await client.post("/codec/decode", json={"payloads": [binary_kid]}, headers=admin(settings))

    assert_problem(short, 422, "CODEC_DECRYPT_FAILED")
    assert_problem(odd, 422, "CODEC_UNKNOWN_KEY")


async def test_console_login_sets_cookie_that_the_codec_accepts(client, settings):
    token = await staff_token(client, settings, "operator")

    login = await client.post("/console/login", data={"token": token})
    resp = await client.post("/codec/decode", json={"payloads": [PLAIN]})

    assert login.status_code == 200 and login.json()["role"] == "operator"
    cookie = login.headers["set-cookie"].lower()
    assert "prakerja_staff=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert resp.status_code == 200


async def test_console_login_accepts_json_and_refuses_bad_tokens(client, settings):
    ok = await client.post("/console/login", json={"token": settings.admin_token})
    bad = await client.post("/console/login", json={"token": "nope-not-a-token"})
    empty = await client.post("/console/login", json={})

    assert ok.json() == {"staff_id": "admin", "role": "admin"}
    assert_problem(bad, 401, "UNAUTHENTICATED")
    assert_problem(empty, 422, "VALIDATION_ERROR")


async def test_cookie_is_not_accepted_on_bearer_only_endpoints(client, settings):
    client.cookies.set("prakerja_staff", settings.admin_token)

    resp = await client.post("/v1/admin/staff-tokens", json={"role": "support"})

    assert_problem(resp, 401, "UNAUTHENTICATED")


async def test_cors_preflight_from_the_ui_origin(client, settings):
    headers = {
        "Origin": settings.ui_origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }

    resp = await client.options("/codec/decode", headers=headers)
    elsewhere = await client.options("/v1/admin/partners", headers=headers)

    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == settings.ui_origin
    assert resp.headers["access-control-allow-credentials"] == "true"
    assert "x-namespace" in resp.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in elsewhere.headers


async def test_cors_refuses_other_origins(client, settings):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}

    resp = await client.options("/codec/decode", headers=headers)

    assert resp.status_code == 400 and "access-control-allow-origin" not in resp.headers


async def test_codec_response_carries_cors_headers(client, settings):
    headers = admin(settings) | {"Origin": settings.ui_origin}

    resp = await client.post("/codec/decode", json={"payloads": [PLAIN]}, headers=headers)

    assert resp.headers["access-control-allow-origin"] == settings.ui_origin
