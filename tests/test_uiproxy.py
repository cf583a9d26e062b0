"""scripts/uiproxy.py: the Temporal UI and the API's codec endpoint on one origin.

The proxy runs under uvicorn in front of tiny upstream apps on loopback (and, once, in front of the real UI
embedded in `temporal server start-dev`), so what is checked is what a browser would get over the wire.
"""

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from temporalio.testing import WorkflowEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import uiproxy  # noqa: E402

BIN = Path(sys.executable).parent
STAFF_TOKEN = "staff-token-for-tests"
UNAUTHENTICATED = {
    "type": "about:blank",
    "title": "Unauthorized",
    "status": 401,
    "detail": "A valid staff bearer token is required.",
    "code": "UNAUTHENTICATED",
}
pytestmark = pytest.mark.timeout(30)


def bound_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serving(app: object, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """`app` under uvicorn on loopback, in this event loop; yields its origin."""
    sock = sock or bound_socket()
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", timeout_graceful_shutdown=2)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class Upstream:
    """An upstream that answers with what it received; a few paths behave like a UI or the codec."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.origin = ""
        self.release = asyncio.Event()  # /stream sends its second chunk only once this is set

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: nothing to set up
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        path = scope["path"]
        if path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            await self.release.wait()
            await send({"type": "http.response.body", "body": b"second"})
            return
        if path == "/redirect":
            return await reply(send, 302, b"", [(b"location", f"{self.origin}/namespaces/default".encode())])
        if path.startswith("/codec/") and f"prakerja_staff={STAFF_TOKEN}" not in headers.get("cookie", ""):
            problem = json.dumps(UNAUTHENTICATED).encode()
            extra = [(b"content-type", b"application/problem+json"), (b"www-authenticate", b"Bearer")]
            return await reply(send, 401, problem, extra)
        echo = {
            "upstream": self.label,
            "method": scope["method"],
            "raw_path": scope["raw_path"].decode(),
            "query": scope["query_string"].decode(),
            "headers": headers,
            "body": body.decode(),
        }
        status = 418 if path == "/teapot" else 200
        extra = [
            (b"content-type", b"application/json"),
            (b"x-upstream", self.label.encode()),
            (b"set-cookie", b"a=1; Path=/"),
            (b"set-cookie", b"b=2; Path=/"),
            (b"connection", b"x-upstream-hop"),
            (b"x-upstream-hop", b"1"),
            (b"keep-alive", b"timeout=5"),
        ]
        await reply(send, status, json.dumps(echo).encode(), extra)


async def reply(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Stack:
    def __init__(self, proxy: str, api: Upstream, ui: Upstream) -> None:
        self.proxy, self.api, self.ui = proxy, api, ui


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    api, ui = Upstream("api"), Upstream("ui")
    async with serving(api) as api_origin, serving(ui) as ui_origin:
        api.origin, ui.origin = api_origin, ui_origin
        async with serving(uiproxy.UIProxy(api_origin, ui_origin)) as proxy:
            yield Stack(proxy, api, ui)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5, trust_env=False) as c:
        yield c


async def test_ui_requests_keep_method_path_query_body_and_headers(stack: Stack, client: httpx.AsyncClient) -> None:
    url = f"{stack.proxy}/api/v1/namespaces/default/workflows/a%2Fb%20c/signal?q=x%20y&z=%2F&z=2"
    cookies = f"_csrf=abc; prakerja_staff={STAFF_TOKEN}; theme=dark"
    headers = {"X-CSRF-Token": "abc", "Cookie": cookies, "Content-Type": "application/json"}
    response = await client.post(url, content=b'{"signal": 1}', headers=headers)
    assert response.status_code == 200
    echo = response.json()
    assert echo["upstream"] == "ui" and echo["method"] == "POST"
    assert echo["raw_path"] == "/api/v1/namespaces/default/workflows/a%2Fb%20c/signal"  # not decoded
    assert echo["query"] == "q=x%20y&z=%2F&z=2" and echo["body"] == '{"signal": 1}'
    seen = echo["headers"]
    assert seen["x-csrf-token"] == "abc" and seen["content-type"] == "application/json"
    assert seen["cookie"] == "_csrf=abc; theme=dark"  # the staff token is the API's business only
    assert seen["host"] == urlsplit(stack.ui.origin).netloc
    assert seen["x-forwarded-host"] == urlsplit(stack.proxy).netloc and seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert "authorization" not in seen
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


async def test_codec_paths_go_to_the_api_with_the_cookie(stack: Stack, client: httpx.AsyncClient) -> None:
    body = {"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "AAAA"}]}
    headers = {"Cookie": f"_csrf=abc; prakerja_staff={STAFF_TOKEN}", "X-Namespace": "default"}
    response = await client.post(f"{stack.proxy}/codec/decode", json=body, headers=headers)
    assert response.status_code == 200 and response.headers["x-upstream"] == "api"
    echo = response.json()
    assert echo["raw_path"] == "/codec/decode" and json.loads(echo["body"]) == body
    assert echo["headers"]["cookie"] == f"_csrf=abc; prakerja_staff={STAFF_TOKEN}"
    assert echo["headers"]["x-namespace"] == "default"
    assert echo["headers"]["host"] == urlsplit(stack.api.origin).netloc
    assert (await client.get(f"{stack.proxy}/codec")).json()["upstream"] == "api"
    assert (await client.get(f"{stack.proxy}/codecs")).json()["upstream"] == "ui"
    assert (await client.get(f"{stack.proxy}/namespaces/default/codec/x")).json()["upstream"] == "ui"


async def test_the_apis_refusal_comes_back_unchanged(stack: Stack, client: httpx.AsyncClient) -> None:
    response = await client.post(f"{stack.proxy}/codec/decode", json={"payloads": []})
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED and response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    teapot = await client.get(f"{stack.proxy}/teapot")
    assert teapot.status_code == 418 and teapot.json()["upstream"] == "ui"


async def test_hop_by_hop_headers_stay_on_their_hop(stack: Stack, client: httpx.AsyncClient) -> None:
    headers = {
        "Connection": "keep-alive, X-Client-Hop",
        "X-Client-Hop": "1",
        "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic cHJveHk6c2VjcmV0",
        "TE": "trailers",
        "X-End-To-End": "kept",
    }
    response = await client.get(f"{stack.proxy}/hop", headers=headers)
    seen = response.json()["headers"]
    assert seen["x-end-to-end"] == "kept"
    assert not {"x-client-hop", "keep-alive", "proxy-authorization", "te"} & set(seen)
    assert "x-client-hop" not in seen.get("connection", "").lower()
    assert response.headers["x-upstream"] == "ui"
    assert "x-upstream-hop" not in response.headers and "keep-alive" not in response.headers
    assert "x-upstream-hop" not in response.headers.get("connection", "")


async def test_responses_are_streamed(stack: Stack, client: httpx.AsyncClient) -> None:
    async with client.stream("GET", f"{stack.proxy}/stream") as response:
        chunks = response.aiter_raw()
        # The upstream holds its second chunk back until the first has arrived through the proxy.
        assert await asyncio.wait_for(anext(chunks), timeout=3) == b"first"
        stack.ui.release.set()
        assert b"".join([chunk async for chunk in chunks]) == b"second"


async def test_request_bodies_are_streamed_through(stack: Stack, client: httpx.AsyncClient) -> None:
    async def upload() -> AsyncIterator[bytes]:
        for i in range(5):
            yield f"part{i};".encode() * 1000

    response = await client.put(f"{stack.proxy}/upload", content=upload())
    assert response.json()["body"] == "".join(f"part{i};" * 1000 for i in range(5))


async def test_an_absolute_redirect_to_the_upstream_stays_on_the_proxy(stack: Stack, client: httpx.AsyncClient) -> None:
    response = await client.get(f"{stack.proxy}/redirect")
    assert response.status_code == 302 and response.headers["location"] == "/namespaces/default"


async def test_an_upstream_that_is_down_answers_502(client: httpx.AsyncClient) -> None:
    nothing = f"http://127.0.0.1:{free_port()}"
    async with serving(uiproxy.UIProxy(nothing, nothing)) as proxy:
        for path, name in (("/namespaces/default/workflows", "Temporal UI"), ("/codec/decode", "API")):
            response = await client.post(f"{proxy}{path}", json={"payloads": []})
            assert response.status_code == 502
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["status"] == 502 and problem["code"] == "UPSTREAM_UNAVAILABLE"
            assert problem["detail"].startswith(f"The {name} at {nothing} is not reachable")


# ---- the real UI of `temporal server start-dev` behind the proxy ------------------------------------------


async def test_the_embedded_ui_calls_a_same_origin_codec_that_reaches_the_api(client: httpx.AsyncClient) -> None:
    proxy_sock, ui_port = bound_socket(), free_port()
    proxy_origin = f"http://127.0.0.1:{proxy_sock.getsockname()[1]}"
    api = Upstream("api")
    async with (
        serving(api) as api_origin,
        await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"),
            ui=True,
            ui_port=ui_port,
            dev_server_extra_args=["--ui-codec-endpoint", f"{proxy_origin}/codec", "--ui-disable-news-fetch"],
        ),
        serving(uiproxy.UIProxy(api_origin, f"http://127.0.0.1:{ui_port}"), proxy_sock),
    ):
        settings = await eventually_ok(client, f"{proxy_origin}/api/v1/settings")
        codec = settings.json()["Codec"]
        assert codec["Endpoint"] == f"{proxy_origin}/codec"  # the page's own origin: cookies go along
        assert codec["IncludeCredentials"] is False  # why the codec cannot stay on the API's origin
        page = await client.get(f"{proxy_origin}/namespaces/default/workflows")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]

        body = {"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "AAAA"}]}
        signed_in = {"Cookie": f"prakerja_staff={STAFF_TOKEN}", "X-Namespace": "default"}
        decoded = await client.post(codec["Endpoint"] + "/decode", json=body, headers=signed_in)
        assert decoded.status_code == 200
        assert decoded.json()["upstream"] == "api" and json.loads(decoded.json()["body"]) == body

        anonymous = await client.post(codec["Endpoint"] + "/decode", json=body, headers={"X-Namespace": "default"})
        assert anonymous.status_code == 401 and anonymous.json() == UNAUTHENTICATED
        assert anonymous.headers["www-authenticate"] == "Bearer"


async def eventually_ok(client: httpx.AsyncClient, url: str, timeout_s: float = 8) -> httpx.Response:
    """The UI answers a moment after the server's gRPC port (the proxy says 502 until then)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (response := await client.get(url)).status_code != 200:
        assert asyncio.get_running_loop().time() < deadline, f"{url}: {response.status_code} {response.text}"
        await asyncio.sleep(0.1)
    return response
