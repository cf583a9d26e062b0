"""Partner queues: one worker per payment partner, discovered from the database while running."""

from core.domain import PartnerKind
from tests.payments.harness import until


async def test_a_partner_registered_later_gets_a_worker_without_a_restart(pay):
    assert pay.partner_workers.partners == sorted([pay.partner_a, pay.partner_b])
    late = f"LATE-{pay.partner_a}"
    await pay.add_partner(late)
    await pay.add_partner(f"MKT-{pay.partner_a}", PartnerKind.MARKETPLACE)

    await until(lambda: late in pay.partner_workers.partners)
    result = await (await pay.start(partner=late)).result()

    assert (result.status, result.partner_client_code) == ("PAID", late)
    assert len(pay.received(late, "SUCCEEDED")) == 1
    assert f"MKT-{pay.partner_a}" not in pay.partner_workers.partners
