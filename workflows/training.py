"""A journey's trainings as plain state: purchases, their status, completions and reviews, with the rules that need
no Temporal (what a purchase_ref may be reused for, what a completion or review counts for, when the first-purchase
deadline is met). Unit-tested directly (tests/workflows/test_training_ledger.py); the journey holds one."""

from dataclasses import dataclass, field
from datetime import datetime

from core.contracts import PurchaseResult, PurchaseUpdate
from core.domain import PurchaseStatus
from core.problems import ProblemCode

Refusal = tuple[ProblemCode, str]  # an update's refusal: the API's problem code, and why


@dataclass(frozen=True)
class Card:
    """What a purchase is judged by besides the trainings: the card's state, by the journey's clock."""

    revoked: bool
    spending: bool  # awarded, in a status that spends, the journey not ending
    closed: bool  # the programme has closed
    deadline_passed: bool  # the first-purchase deadline pinned at the award has passed
    balance: int


@dataclass
class TrainingLedger:
    purchases: dict[str, PurchaseUpdate] = field(default_factory=dict)
    status: dict[str, PurchaseStatus] = field(default_factory=dict)
    results: dict[str, PurchaseResult] = field(default_factory=dict)
    recorded: int = 0  # purchases the database ledger has accepted (the deadline watches these) ...
    cancelled: int = 0  # ... less those cancelled
    completed: list[str] = field(default_factory=list)
    first_completion_at: datetime | None = None
    surveys_from: datetime | None = None  # the survey windows' anchor, as the API recorded it with a completion
    reviewed: set[str] = field(default_factory=set)
    early_reviews: set[str] = field(default_factory=set)  # reviews that arrived before their completion signal

    def conflicts(self, update: PurchaseUpdate) -> bool:
        """The purchase_ref is already used for another course or marketplace."""
        known = self.purchases.get(update.purchase_ref)
        return known is not None and (known.course_id, known.marketplace_client_code) != (
            update.course_id,
            update.marketplace_client_code,
        )

    def purchase_refusal(self, update: PurchaseUpdate, card: Card) -> Refusal | None:
        """Why this purchase is refused, or None; a purchase_ref already bought is its earlier result again."""
        if self.conflicts(update):
            return ProblemCode.PURCHASE_REF_CONFLICT, "purchase_ref already used for another purchase"
        if update.purchase_ref in self.purchases:
            return None
        if card.revoked:
            return ProblemCode.REVOKED, "the card is revoked"
        if not card.spending:
            return ProblemCode.NOT_AWARDED, "the card cannot buy training now"
        if card.closed:
            return ProblemCode.PROGRAMME_CLOSED, "the programme has closed"
        if card.deadline_passed and not self.deadline_met():
            return ProblemCode.PURCHASE_DEADLINE_PASSED, "the first-purchase deadline has passed"
        if update.price > card.balance:
            left = card.balance
            return ProblemCode.INSUFFICIENT_BALANCE, f"price {update.price} exceeds the remaining balance {left}"
        return None

    def cancel_refusal(self, purchase_ref: str, stopping: bool) -> Refusal | None:
        """Why cancelling this purchase is refused, or None (`stopping`: the card is being revoked or ending)."""
        status = self.status.get(purchase_ref)
        if status is None:
            return ProblemCode.PURCHASE_NOT_FOUND, "no such purchase on this card"
        if status == PurchaseStatus.COMPLETED:
            return ProblemCode.PURCHASE_COMPLETED, "a completed training cannot be cancelled"
        if status == PurchaseStatus.PURCHASED and stopping:
            return ProblemCode.REVOKED, "the card is revoked"
        return None

    def add(self, update: PurchaseUpdate, balance_remaining: int) -> None:
        """A new purchase, before the database ledger has it (`recorded()` once it does, `undo()` if it refuses)."""
        self.purchases[update.purchase_ref] = update
        self.status[update.purchase_ref] = PurchaseStatus.PURCHASED
        self.results[update.purchase_ref] = PurchaseResult(
            purchase_ref=update.purchase_ref, price=update.price, balance_remaining=balance_remaining
        )

    def undo(self, purchase_ref: str) -> None:
        del self.purchases[purchase_ref], self.status[purchase_ref], self.results[purchase_ref]

    def record(self) -> None:
        self.recorded += 1

    def cancel(self, purchase_ref: str) -> None:
        self.status[purchase_ref] = PurchaseStatus.CANCELLED
        self.cancelled += 1

    def kept(self) -> int:
        """Purchases recorded and not cancelled."""
        return self.recorded - self.cancelled

    def deadline_met(self) -> bool:
        """A training completed, or a purchase kept: the first-purchase deadline is met."""
        return bool(self.completed) or self.kept() > 0

    def open_refs(self) -> list[str]:
        """Purchases neither completed nor cancelled (a revocation voids these)."""
        return [ref for ref, s in self.status.items() if s == PurchaseStatus.PURCHASED]

    def complete(self, purchase_ref: str, at: datetime, surveys_from: datetime | None = None) -> str | None:
        """Apply a completion once; the reason it was ignored (for `ignored_signals`), or None. `surveys_from`: when
        the API recorded the survey windows as opening (the same for every completion of the beneficiary)."""
        status = self.status.get(purchase_ref)
        if status != PurchaseStatus.PURCHASED:
            return None if status == PurchaseStatus.COMPLETED else f"completion:{purchase_ref}:{status}"
        self.status[purchase_ref] = PurchaseStatus.COMPLETED
        self.completed.append(purchase_ref)
        if purchase_ref in self.early_reviews:
            self.reviewed.add(purchase_ref)
        if self.first_completion_at is None:
            self.first_completion_at = at
        self.surveys_from = self.surveys_from or surveys_from
        return None

    def review(self, purchase_ref: str) -> bool:
        """Count a review of a completed training (or keep it for a completion still on its way); False if not."""
        status = self.status.get(purchase_ref)
        if status == PurchaseStatus.COMPLETED:
            self.reviewed.add(purchase_ref)
        elif status == PurchaseStatus.PURCHASED:
            # The API saw the completion in its ledger, but its signal has not reached the journey yet (or was lost
            # and the partner's retry will bring it): the review counts once the completion lands.
            self.early_reviews.add(purchase_ref)
        else:
            return False
        return True

    def completed_count(self) -> int:
        return sum(1 for s in self.status.values() if s == PurchaseStatus.COMPLETED)
