"""A beneficiary links (or switches to) an account at a payment partner; the journey runs its e-KYC."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from core.contracts import LinkAccountUpdate
from core.domain import PartnerKind
from core.problems import ProblemCode
from db.models import Beneficiary, Partner
from services import journey_calls
from services.errors import Refused
from workflows.journey import BeneficiaryJourney


@dataclass(frozen=True)
class LinkAccount:
    registration_id: str
    partner_client_code: str
    account_number: str


async def link_payment_account(session: AsyncSession, client: Client, cmd: LinkAccount) -> None:
    """The account must be at a payment partner (422 UNKNOWN_PAYMENT_PARTNER) and pass its e-KYC for the
    beneficiary's NIK (422 EKYC_FAILED, with the partner's reason); the projection then shows it linked."""
    partner = await session.get(Partner, cmd.partner_client_code)
    if partner is None or partner.kind != PartnerKind.PAYMENT:
        raise Refused(422, ProblemCode.UNKNOWN_PAYMENT_PARTNER, f"{cmd.partner_client_code} is not a payment partner.")
    result = await journey_calls.update(
        client,
        cmd.registration_id,
        BeneficiaryJourney.link_payment_account,
        LinkAccountUpdate(partner_client_code=cmd.partner_client_code, account_number=cmd.account_number),
        f"link-{uuid.uuid4().hex}",
    )
    if not result.verified:
        raise Refused(
            422,
            ProblemCode.EKYC_FAILED,
            f"The payment partner refused the account: {result.reason}.",
            extra={"reason": result.reason},
        )
    row = await session.get(Beneficiary, cmd.registration_id)
    assert row is not None
    row.payment_partner, row.payment_account = cmd.partner_client_code, cmd.account_number
    await session.commit()
