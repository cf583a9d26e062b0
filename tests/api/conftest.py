from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.app import create_app
from api.deps import BeneficiaryDep, MarketplaceDep, TemporalDep
from core.settings import Settings
from tests.api.helpers import serve
from tests.conftest import test_settings


class ProbeInput(BaseModel):
    purchase_ref: str


probe = APIRouter()


@probe.post("/test/marketplace-only")
async def marketplace_only(body: ProbeInput, partner: MarketplaceDep) -> dict[str, str]:
    """Test-only: a kind-restricted, signed endpoint with a JSON body."""
    return {"client_code": partner.client_code, "purchase_ref": body.purchase_ref}


@probe.post("/test/beneficiary-write")
async def beneficiary_write(beneficiary: BeneficiaryDep) -> dict[str, str]:
    """Test-only: a beneficiary-authenticated write."""
    return {"registration_id": beneficiary.registration_id}


@probe.get("/test/temporal")
async def temporal_namespace(client: TemporalDep) -> dict[str, str]:
    """Test-only: needs the Temporal client."""
    return {"namespace": client.namespace}


@pytest.fixture
def settings(engine: AsyncEngine, tmp_path) -> Settings:
    return test_settings(tmp_path, database_url=engine.url.render_as_string(hide_password=False))


@pytest_asyncio.fixture
async def nowhere() -> Client:
    """A Temporal client pointing at a closed port: every call fails, as when Temporal is down."""
    return await Client.connect("127.0.0.1:1", lazy=True)


@pytest.fixture
def app(settings: Settings, nowhere: Client) -> FastAPI:
    app = create_app(settings, temporal_client=nowhere)
    app.include_router(probe)
    return app


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as client:
        yield client
