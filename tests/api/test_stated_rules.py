"""Rules the OpenAPI document now states are the rules the API applies (issue 12): what a client generated from the
document sends is accepted, and what the document excludes is a 422 problem."""

import base64

import pytest
from pydantic import ValidationError

from api.console.messages import MESSAGES
from api.schemas import RegistrationRequest
from tests.api.helpers import admin, assert_problem
from tests.api.test_console import as_role

APPLICANT = {
    "nik": "3201010101010001",
    "kk_number": "3201010101010002",
    "full_name": "Siti Aminah",
    "date_of_birth": "1990-05-17",
    "email": "Siti@Example.id",
    "phone": "0812-3456 7890",
    "province": "JAWA BARAT",
    "occupation": "tailor",
    "is_student": False,
    "selfie_b64": base64.b64encode(b"a face, or close enough").decode(),
}


def test_a_registration_keeps_reading_phones_and_emails_as_people_write_them():
    body = RegistrationRequest.model_validate(APPLICANT)

    assert (body.phone, body.email) == ("081234567890", "siti@example.id")


@pytest.mark.parametrize(
    "field, value",
    [
        ("full_name", " \x7f "),  # one character once trimmed
        ("email", "si\x1fti@example.id"),  # a control space, which `\s` of ECMA regexes does not cover
        ("selfie_b64", base64.b64encode(b"a face, or close enough").decode() + "=="),  # padding past the end
        ("date_of_birth", "1899-12-31"),
        ("date_of_birth", 0),  # not a Unix timestamp
    ],
)
def test_a_registration_the_document_excludes_is_refused(field, value):
    with pytest.raises(ValidationError):
        RegistrationRequest.model_validate({**APPLICANT, field: value})


async def test_codec_payloads_are_base64_in_either_alphabet_and_nothing_else(client, settings):
    plain = {"metadata": {"encoding": "anNvbi9wbGFpbg"}, "data": "IjMyMDEi"}  # URL-safe, unpadded: accepted

    encoded = await client.post("/codec/encode", json={"payloads": [plain]}, headers=admin(settings))
    refused = await client.post("/codec/encode", json={"payloads": [{"data": "IjMyMDEi===="}]}, headers=admin(settings))

    assert encoded.status_code == 200, encoded.text
    assert_problem(refused, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("query", ["?status=ON_HOLD&statsu=PAID", "?partner=EWALLET&partner=BANK", "?lang=fr"], ids=str)
async def test_a_console_page_refuses_parameters_its_document_does_not_list(client, settings, query):
    await as_role(client, settings, "support")

    listed = await client.get("/console/payments?status=ON_HOLD&lang=id")
    refused = await client.get(f"/console/payments{query}")

    assert listed.status_code == 200
    assert_problem(refused, 422, "VALIDATION_ERROR")


async def test_a_page_shows_the_outcome_its_redirect_names(client, settings):
    await as_role(client, settings, "operator")

    page = await client.get("/console/waves?outcome=WAVE_OPENED&lang=en")

    assert page.status_code == 200 and MESSAGES["en"]["outcome.WAVE_OPENED"] in page.text
