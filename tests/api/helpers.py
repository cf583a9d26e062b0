"""Driving the API in-process: lifespan run by hand (ASGITransport does not), signed partner calls."""

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from core.security import signed_headers
from core.settings import Settings


@asynccontextmanager
async def serve(app: FastAPI, **transport: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        asgi = httpx.ASGITransport(app=app, **transport)
        async with httpx.AsyncClient(transport=asgi, base_url="http://testserver") as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin(settings: Settings) -> dict[str, str]:
    return bearer(settings.admin_token)


async def staff_token(client: httpx.AsyncClient, settings: Settings, role: str) -> str:
    resp = await client.post("/v1/admin/staff-tokens", json={"role": role}, headers=admin(settings))
    assert resp.status_code == 201, resp.text
    return resp.json()["token"]


async def register_partner(client: httpx.AsyncClient, settings: Settings, code: str, kind: str) -> str:
    body = {"client_code": code, "kind": kind, "name": f"{code} Ltd"}
    resp = await client.post("/v1/admin/partners", json=body, headers=admin(settings))
    assert resp.status_code == 201, resp.text
    return resp.json()["sign_key"]


async def signed(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    code: str,
    key: str,
    body: Any = None,
    *,
    ts: int | None = None,
    sent_body: bytes | None = None,
) -> httpx.Response:
    """Sign `body` as a partner would; `sent_body` lets a test tamper with what actually goes out."""
    raw = b"" if body is None else json.dumps(body).encode()
    headers = signed_headers(key, code, int(time.time()) if ts is None else ts, method, path, raw)
    headers["Content-Type"] = "application/json"
    return await client.request(method, path, content=raw if sent_body is None else sent_body, headers=headers)


def assert_problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert {"type", "title", "status", "detail", "code"} <= problem.keys()
    assert (problem["status"], problem["code"]) == (status, code)
    return problem


class _AnswerLost(Interceptor):
    """The server starts the workflow, but its answer never reaches the caller (a timeout on the way back)."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        class Losing(OutboundInterceptor):
            async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
                await super().start_workflow(input)
                raise RPCError("deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b"")

        return Losing(next)


def answer_lost(client: Client) -> Client:
    """`client`, except that every start_workflow happens on the server and then reports a timeout."""
    config = client.config()
    return Client(**{**config, "interceptors": [*config["interceptors"], _AnswerLost()]})
