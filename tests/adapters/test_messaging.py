"""The SMS gateway port over HTTP against the simulator, which keeps what it delivered for the control API."""

import httpx
import pytest

from adapters.errors import PartnerUnavailable
from adapters.messaging import HttpMessageGateway, SimulatedMessageGateway
from simulators.app import create_app


async def test_a_code_sent_over_http_reaches_the_phone_at_the_simulator():
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        await HttpMessageGateway(http, "http://sim").send_code("081234567890", "123456")
        delivered = (await http.get("/sim/messages", params={"to": "081234567890"})).json()
        others = (await http.get("/sim/messages", params={"to": "089999999999"})).json()

    assert [m["to"] for m in delivered] == ["081234567890"] and "123456" in delivered[0]["text"]
    assert others == []


async def test_a_gateway_that_is_down_is_unavailable():
    async def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        with pytest.raises(PartnerUnavailable):
            await HttpMessageGateway(http, "http://sim").send_code("081234567890", "123456")


async def test_the_simulated_gateway_keeps_the_last_code_per_phone():
    gateway = SimulatedMessageGateway()
    await gateway.send_code("0811", "111111")
    await gateway.send_code("0811", "222222")
    assert (gateway.last_code("0811"), gateway.last_code("0822")) == ("222222", None)
