"""`python -m scripts.uiproxy`: the Temporal UI and the API's codec endpoint on ONE origin (dev stack).

The UI embedded in `temporal server start-dev` calls its codec endpoint without credentials when that is
on another origin (it offers no setting for it). Served from the UI's own origin, the browser's default
fetch credentials ("same-origin") send the console's `prakerja_staff` cookie, so staff see decrypted
payloads. This reverse proxy listens on the UI origin and forwards

- `/codec` and `/codec/...` to the API (which authenticates the caller: the proxy adds no credentials);
- everything else to the embedded UI, which the dev stack binds to an internal port on 127.0.0.1.

Method, path (undecoded), query, body and end-to-end headers pass through in both directions, bodies are
streamed, status codes are kept; an upstream that cannot be reached answers 502 problem JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger("uiproxy")

CODEC_PREFIX = "/codec"
STAFF_COOKIE = "prakerja_staff"  # api/auth.py; only the API needs it, the UI never sees it
# RFC 9110 §7.6.1 plus the old ones still seen in the wild; `Connection` may name more per message.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class Upstream:
    name: str  # for error messages: "API", "Temporal UI"
    url: httpx.URL
    base_path: bytes  # a path prefix of the upstream URL ("" for a bare origin)

    @classmethod
    def parse(cls, name: str, url: str) -> Upstream:
        parsed = httpx.URL(url.rstrip("/"))
        return cls(name, parsed.copy_with(path="/", query=None, fragment=None), parsed.raw_path.rstrip(b"/"))

    @property
    def origin(self) -> str:
        return str(self.url).rstrip("/")


def hop_by_hop(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """The hop-by-hop header names of one message: the fixed set and those its `Connection` names."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
        if token.strip()
    }
    return named | {name.encode() for name in HOP_BY_HOP}


def without_cookie(value: bytes, name: str) -> bytes:
    """A `Cookie` header value without the cookie `name`."""
    kept = [part for part in value.split(b";") if part.strip().partition(b"=")[0] != name.encode()]
    return b";".join(kept).strip()


class UIProxy:
    """ASGI app: `/codec/*` to the API, the rest to the Temporal UI."""

    def __init__(self, api_url: str, ui_url: str, connect_timeout_s: float = 5.0) -> None:
        self.api = Upstream.parse("API", api_url)
        self.ui = Upstream.parse("Temporal UI", ui_url)
        # No read timeout: a response is streamed as long as the upstream keeps it open.
        self.timeout = httpx.Timeout(None, connect=connect_timeout_s)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # created in the server's event loop, on first use
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
            self._client = httpx.AsyncClient(
                timeout=self.timeout, limits=limits, follow_redirects=False, trust_env=False
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.forward(scope, receive, send)
        else:  # websocket: neither upstream uses one
            await send({"type": "websocket.close", "code": 1003})

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def route(self, path: str) -> Upstream:
        return self.api if path == CODEC_PREFIX or path.startswith(CODEC_PREFIX + "/") else self.ui

    def request_headers(self, scope: Scope, upstream: Upstream) -> list[tuple[bytes, bytes]]:
        raw: list[tuple[bytes, bytes]] = list(scope["headers"])
        drop = hop_by_hop(raw) | {b"host"}  # httpx sets Host to the upstream's
        headers = []
        for name, value in raw:
            name = name.lower()
            if name in drop:
                continue
            if name == b"cookie" and upstream is self.ui and not (value := without_cookie(value, STAFF_COOKIE)):
                continue
            headers.append((name, value))
        if not any(name == b"accept-encoding" for name, _ in headers):
            headers.append((b"accept-encoding", b"identity"))  # else httpx asks for gzip the client cannot read
        client = scope.get("client")
        host = dict(raw).get(b"host")
        forwarded = [(b"x-forwarded-proto", scope.get("scheme", "http").encode())]
        if host:
            forwarded.append((b"x-forwarded-host", host))
        if client:  # appended to what an earlier proxy said, as is the custom
            earlier = [v for n, v in headers if n == b"x-forwarded-for"]
            forwarded.append((b"x-forwarded-for", b", ".join([*earlier, client[0].encode()])))
        names = {name for name, _ in forwarded}
        return [(n, v) for n, v in headers if n not in names] + forwarded

    def response_headers(self, response: httpx.Response, upstream: Upstream) -> list[tuple[bytes, bytes]]:
        raw = list(response.headers.raw)
        drop = hop_by_hop(raw)
        headers = []
        for name, value in raw:
            name = name.lower()
            if name in drop:
                continue
            if name == b"location" and value.startswith(upstream.origin.encode()):  # an absolute self-redirect
                value = value[len(upstream.origin) :] or b"/"
            headers.append((name, value))
        return headers

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        upstream = self.route(scope["path"])
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        target = upstream.base_path + raw_path
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        request = self.client.build_request(
            scope["method"],
            upstream.url.copy_with(raw_path=target),
            headers=self.request_headers(scope, upstream),
            content=request_body(receive) if has_body(scope) else None,
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as err:
            log.warning("%s %s: %s unreachable (%s)", scope["method"], scope["path"], upstream.name, err)
            await send_problem(send, 502, upstream, err)
            return
        try:
            headers = self.response_headers(response, upstream)
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            if scope["method"] != "HEAD":
                async for chunk in response.aiter_raw():  # as sent: a gzip body stays gzip, with its length
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.TransportError as err:  # the status is out: all that is left is to drop the connection
            log.warning("%s %s: %s broke off the response (%s)", scope["method"], scope["path"], upstream.name, err)
            raise
        finally:
            await response.aclose()


def has_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    return b"content-length" in headers or b"transfer-encoding" in headers


async def request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
        if body := message.get("body", b""):
            yield body
        if not message.get("more_body", False):
            return


async def send_problem(send: Send, status: int, upstream: Upstream, err: Exception) -> None:
    problem = {
        "type": "about:blank",
        "title": "Bad Gateway",
        "status": status,
        "detail": f"The {upstream.name} at {upstream.origin} is not reachable ({type(err).__name__}).",
        "code": "UPSTREAM_UNAVAILABLE",
    }
    body = json.dumps(problem).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m scripts.uiproxy", description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="http://127.0.0.1:8233", help="the UI origin browsers open")
    parser.add_argument("--api-url", default="http://127.0.0.1:8000", help="where /codec/* goes")
    parser.add_argument("--ui-url", default="http://127.0.0.1:8234", help="the embedded Temporal UI")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    listen = urlsplit(args.listen)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # uvicorn's access log already names each request
    uvicorn.run(
        UIProxy(args.api_url, args.ui_url),
        host=listen.hostname or "127.0.0.1",
        port=listen.port or 80,
        log_level=args.log_level,
        proxy_headers=False,  # the proxy's own clients are the browsers; it forwards their address
        server_header=False,
        date_header=False,  # the upstream's Date passes through
    )


if __name__ == "__main__":
    main()
