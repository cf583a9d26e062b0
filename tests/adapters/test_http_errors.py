"""How the HTTP adapters read transport failures and odd answers (a stand-in partner via MockTransport)."""

import json

import httpx
import pytest

from adapters.errors import DuplicateKey, PartnerError, PartnerRejected, PartnerTimeout, PartnerUnavailable
from adapters.payment import DisburseRequest, HttpPaymentGateway
from adapters.social_affairs import HttpSocialAffairs
from tests.adapters.sim_support import NIK


def gateway(handler) -> HttpPaymentGateway:
    return HttpPaymentGateway(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "http://partner")


def raising(exc: Exception):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def answering(status: int, body: object = None):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return handler


REQUEST = DisburseRequest(idempotency_key="k-1", account_number="0812", nik=NIK, amount=1)


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (raising(httpx.ConnectError("refused")), PartnerUnavailable),
        (raising(httpx.ConnectTimeout("slow connect")), PartnerUnavailable),
        (raising(httpx.ReadTimeout("slow answer")), PartnerTimeout),
        (raising(httpx.RemoteProtocolError("hung up")), PartnerTimeout),
        (answering(503), PartnerUnavailable),
        (answering(500), PartnerUnavailable),
        (answering(429), PartnerUnavailable),
        (answering(504), PartnerTimeout),
        # A 4xx is the partner's refusal (it did not act): definitive, so the payment goes on hold, never resent.
        (answering(400, {"detail": "bad"}), PartnerRejected),
        # A 409 for a repeated key: its status for the key is the answer.
        (answering(409, {"code": "DUPLICATE_IDEMPOTENCY_KEY"}), DuplicateKey),
        (answering(200, {"unexpected": True}), PartnerError),
    ],
)
async def test_failures_map_to_port_errors(handler, error):
    with pytest.raises(error) as caught:
        await gateway(handler).disburse("ew-1", REQUEST)
    assert type(caught.value) is error
    assert NIK not in str(caught.value)


async def test_only_the_partners_own_not_found_means_never_received():
    assert await gateway(answering(404, {"code": "DISBURSEMENT_NOT_FOUND"})).status("ew-1", "k-1") is None
    with pytest.raises(PartnerError):
        await gateway(answering(404, {"detail": "Not Found"})).status("ew-1", "k-1")


async def test_personal_data_travels_only_in_the_body():
    sent: list[httpx.Request] = []

    def partner(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"receives_assistance": False, "programmes": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(partner)) as http:
        await HttpSocialAffairs(http, "http://partner/").check(NIK)
    [request] = sent
    assert (request.method, str(request.url)) == ("POST", "http://partner/social-affairs/check")
    assert json.loads(request.content) == {"nik": NIK}
