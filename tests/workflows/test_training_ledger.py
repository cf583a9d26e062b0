"""The training ledger's rules, without Temporal: purchase_ref reuse, completions and reviews counted once, the
first-purchase deadline met by a kept purchase or a completed training, what a purchase or a cancellation is refused
for."""

from dataclasses import replace
from datetime import UTC, datetime

from core.contracts import PurchaseUpdate
from core.problems import ProblemCode
from workflows.training import Card, TrainingLedger

AT = datetime(2026, 1, 1, tzinfo=UTC)


def order(ref: str, course: str = "C-1", market: str = "MKT") -> PurchaseUpdate:
    return PurchaseUpdate(
        purchase_ref=ref, course_id=course, price=100_000, marketplace_client_code=market, provider_client_code="LPK"
    )


def test_a_purchase_ref_may_be_repeated_only_for_the_same_course_and_marketplace():
    t = TrainingLedger()
    t.add(order("P-1"), balance_remaining=900_000)

    assert not t.conflicts(order("P-1"))
    assert t.conflicts(order("P-1", course="C-2")) and t.conflicts(order("P-1", market="OTHER"))
    assert t.results["P-1"].balance_remaining == 900_000


def test_undo_forgets_a_purchase_the_database_refused():
    t = TrainingLedger()
    t.add(order("P-1"), balance_remaining=900_000)

    t.undo("P-1")

    assert (t.purchases, t.status, t.results, t.recorded) == ({}, {}, {}, 0)


def test_the_deadline_is_met_by_a_kept_purchase_or_a_completed_training():
    t = TrainingLedger()
    assert not t.deadline_met()
    t.add(order("P-1"), 900_000)
    t.record()
    assert t.deadline_met() and t.open_refs() == ["P-1"]
    t.cancel("P-1")
    assert not t.deadline_met() and t.open_refs() == []
    t.add(order("P-2"), 900_000)
    t.record()
    assert t.complete("P-2", AT) is None
    t.cancelled += 5  # even with every other purchase cancelled, a completed training meets it
    assert t.deadline_met()


def test_a_completion_counts_once_and_only_for_an_open_purchase():
    t = TrainingLedger()
    t.add(order("P-1"), 900_000)
    t.add(order("P-2"), 800_000)
    t.cancel("P-2")

    assert t.complete("P-1", AT) is None
    assert t.complete("P-1", datetime(2027, 1, 1, tzinfo=UTC)) is None  # a repeat: nothing changes, nothing said
    assert t.complete("P-2", AT) == "completion:P-2:CANCELLED"
    assert t.complete("P-9", AT) == "completion:P-9:None"
    assert (t.completed, t.first_completion_at, t.completed_count()) == (["P-1"], AT, 1)


def test_a_review_before_its_completion_counts_when_the_completion_lands():
    t = TrainingLedger()
    t.add(order("P-1"), 900_000)

    assert t.review("P-1") is True and t.reviewed == set()
    t.complete("P-1", AT)

    assert t.reviewed == {"P-1"}
    assert t.review("P-9") is False


CARD = Card(revoked=False, spending=True, closed=False, deadline_passed=False, balance=100_000)


def code(refusal: tuple[ProblemCode, str] | None) -> ProblemCode | None:
    return refusal[0] if refusal else None


def test_a_purchase_is_refused_for_the_first_rule_it_breaks_in_the_order_the_api_reports():
    t = TrainingLedger()

    assert code(t.purchase_refusal(order("P-1"), CARD)) is None
    broken = {
        "revoked": ProblemCode.REVOKED,
        "spending": ProblemCode.NOT_AWARDED,
        "closed": ProblemCode.PROGRAMME_CLOSED,
        "deadline_passed": ProblemCode.PURCHASE_DEADLINE_PASSED,
    }
    for field, expected in broken.items():
        card = replace(CARD, **{field: not getattr(CARD, field)})
        assert code(t.purchase_refusal(order("P-1"), card)) == expected, field
    assert code(t.purchase_refusal(order("P-1"), replace(CARD, balance=99_999))) == ProblemCode.INSUFFICIENT_BALANCE
    revoked_and_closed = replace(CARD, revoked=True, closed=True)
    assert code(t.purchase_refusal(order("P-1"), revoked_and_closed)) == ProblemCode.REVOKED


def test_a_repeated_purchase_is_its_earlier_result_whatever_the_card_says_now_unless_it_names_another_course():
    t = TrainingLedger()
    t.add(order("P-1"), balance_remaining=0)
    t.record()
    closed_and_spent = replace(CARD, closed=True, deadline_passed=True, balance=0)

    assert code(t.purchase_refusal(order("P-1"), closed_and_spent)) is None
    assert code(t.purchase_refusal(order("P-1", course="C-2"), CARD)) == ProblemCode.PURCHASE_REF_CONFLICT
    # A purchase kept through the deadline meets it: later purchases are not refused for it.
    assert code(t.purchase_refusal(order("P-2"), replace(CARD, deadline_passed=True))) is None


def test_only_an_open_purchase_of_a_running_card_can_be_cancelled():
    t = TrainingLedger()
    t.add(order("P-1"), 900_000)
    t.add(order("P-2"), 800_000)
    t.complete("P-2", AT)

    assert t.cancel_refusal("P-1", stopping=False) is None
    assert code(t.cancel_refusal("P-1", stopping=True)) == ProblemCode.REVOKED
    assert code(t.cancel_refusal("P-2", stopping=False)) == ProblemCode.PURCHASE_COMPLETED
    assert code(t.cancel_refusal("P-9", stopping=False)) == ProblemCode.PURCHASE_NOT_FOUND
    t.cancel("P-1")
    assert t.cancel_refusal("P-1", stopping=True) is None  # already cancelled: the same answer again
