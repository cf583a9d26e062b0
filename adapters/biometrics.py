"""Biometric partner: liveness, 1:1 match against the registry photo, and a 1:N search for the same face."""

from typing import Protocol

import httpx
from pydantic import BaseModel

from adapters._http import parse, send


class FaceCheck(BaseModel):
    liveness: bool
    match_score: float
    # The face is already enrolled under another NIK (one person, many borrowed NIKs).
    duplicate: bool


class Biometrics(Protocol):
    async def check(self, nik: str, selfie_b64: str) -> FaceCheck: ...


class HttpBiometrics:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/biometrics/check"

    async def check(self, nik: str, selfie_b64: str) -> FaceCheck:
        body = {"nik": nik, "selfie_b64": selfie_b64}
        return parse(await send(self._http, "POST", self._url, json=body, system="biometrics"), FaceCheck)
