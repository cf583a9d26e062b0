"""Civil registry (Dukcapil-style): is this NIK a living citizen with this name, birth date and KK?"""

from datetime import date
from typing import Protocol

import httpx
from pydantic import BaseModel

from adapters._http import parse, send


class CitizenCheck(BaseModel):
    found: bool
    name_dob_match: bool = False
    kk_match: bool = False
    deceased: bool = False
    # The occupation the registry holds (e.g. CIVIL_SERVANT), whatever the applicant declared.
    occupation: str | None = None


class CivilRegistry(Protocol):
    async def verify(self, nik: str, kk_number: str, full_name: str, date_of_birth: date) -> CitizenCheck: ...


class HttpCivilRegistry:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/civil-registry/verify"

    async def verify(self, nik: str, kk_number: str, full_name: str, date_of_birth: date) -> CitizenCheck:
        body = {
            "nik": nik,
            "kk_number": kk_number,
            "full_name": full_name,
            "date_of_birth": date_of_birth.isoformat(),
        }
        return parse(await send(self._http, "POST", self._url, json=body, system="civil_registry"), CitizenCheck)
