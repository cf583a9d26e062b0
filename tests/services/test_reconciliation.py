"""One partner's line of the reconciliation report: when the ledger and the partner's statement agree."""

from core.payments import PartnerStatement, ReconciliationDifference
from services.reconciliation import LedgerFigures, compare

LEDGER = LedgerFigures(paid_count=2, paid_sum=1_200_000, on_hold=1, failed=3)
LATE = ReconciliationDifference(idempotency_key="PAY-1-A1", kind="LATE_SUCCESS")


def statement(**fields) -> PartnerStatement:
    return PartnerStatement(**{"partner_client_code": "PAY-A", "count": 2, "total": 1_200_000, **fields})


def test_a_partner_matches_when_its_count_and_sum_agree_with_no_difference() -> None:
    line = compare("PAY-A", LEDGER, statement())

    assert line.matches
    assert (line.paid_count, line.paid_sum, line.on_hold, line.failed) == (2, 1_200_000, 1, 3)
    assert (line.partner_paid_count, line.partner_paid_sum) == (2, 1_200_000)


def test_a_partner_does_not_match_on_another_sum_a_difference_an_outage_or_no_statement() -> None:
    other_sum = compare("PAY-A", LEDGER, statement(total=1_100_000))
    differing = compare("PAY-A", LEDGER, statement(differences=[LATE], differences_total=1))
    down = compare("PAY-A", LEDGER, statement(available=False))
    silent = compare("PAY-A", LedgerFigures(), None)

    assert not any(line.matches for line in (other_sum, differing, down, silent))
    assert (differing.differences, differing.differences_total) == ([LATE], 1)
    assert (down.partner_available, down.partner_paid_count, down.partner_paid_sum) == (False, None, None)
    assert (silent.partner_available, silent.differences, silent.paid_count) == (False, [], 0)
