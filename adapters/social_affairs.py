"""Social-affairs registry: does this NIK already receive another assistance programme?"""

from typing import TYPE_CHECKING, Protocol

import httpx
from pydantic import BaseModel

from adapters._http import parse, send

if TYPE_CHECKING:
    from simulators.world import SimWorld


class AssistanceCheck(BaseModel):
    receives_assistance: bool
    programmes: list[str]


class SocialAffairs(Protocol):
    async def check(self, nik: str) -> AssistanceCheck: ...


class SimulatedSocialAffairs:
    def __init__(self, world: "SimWorld") -> None:
        self._world = world

    async def check(self, nik: str) -> AssistanceCheck:
        return await self._world.check_assistance(nik)


class HttpSocialAffairs:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/social-affairs/check"

    async def check(self, nik: str) -> AssistanceCheck:
        return parse(
            await send(self._http, "POST", self._url, json={"nik": nik}, system="social_affairs"), AssistanceCheck
        )
