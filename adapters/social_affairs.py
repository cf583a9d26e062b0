"""Social-affairs registry: does this NIK already receive another assistance programme?"""

from typing import Protocol

import httpx
from pydantic import BaseModel

from adapters._http import parse, send


class AssistanceCheck(BaseModel):
    receives_assistance: bool
    programmes: list[str]


class SocialAffairs(Protocol):
    async def check(self, nik: str) -> AssistanceCheck: ...


class HttpSocialAffairs:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/social-affairs/check"

    async def check(self, nik: str) -> AssistanceCheck:
        return parse(
            await send(self._http, "POST", self._url, json={"nik": nik}, system="social_affairs"), AssistanceCheck
        )
