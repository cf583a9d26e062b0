"""The journey's training part: purchases and cancellations (updates), completions and reviews (signals)."""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.training import TrainingActivities
    from core.contracts import (
        CancelPurchaseResult,
        CancelPurchaseUpdate,
        CompletionSignal,
        PurchaseResult,
        PurchaseUpdate,
        RecordPurchaseInput,
        ReviewSignal,
    )
    from core.domain import JourneyStatus, PurchaseStatus
    from core.problems import ProblemCode
    from workflows.journey_base import SPENDING, JourneyBase, refuse
    from workflows.options import DATABASE_CALL
    from workflows.versions import since_written_ahead


# How long a purchase waits inside the journey for an award being written (its card is already in the ledger).
AWARD_WAIT = timedelta(seconds=30)


class TrainingHandlers(JourneyBase):
    @workflow.update
    async def purchase(self, update: PurchaseUpdate) -> PurchaseResult:
        """Debit the training balance for a course; the same purchase_ref again returns the same result."""
        if not self._awarded():
            # Drawn, and the award is being written: the card already exists in the ledger (the marketplace found
            # it), so wait for the award here, briefly, instead of refusing NOT_AWARDED and making clients poll.
            try:
                await workflow.wait_condition(
                    lambda: self._awarded() or self.revocation is not None or self.finishing,
                    timeout=AWARD_WAIT,
                    timeout_summary="award being written",
                )
            except TimeoutError:
                pass  # the check below refuses it
        async with self.money_lock:
            # Again under the lock: a concurrent purchase may have spent the balance or taken the purchase_ref.
            self._check_purchase(update)
            if update.purchase_ref not in self.training.purchases:
                self.balance -= update.price
                self.training.add(update, balance_remaining=self.balance)
                try:
                    await workflow.execute_activity_method(
                        TrainingActivities.record_purchase,
                        RecordPurchaseInput(
                            registration_id=self.input.registration_id,
                            purchase=update,
                            surveys_at_completion=since_written_ahead(),
                        ),
                        **DATABASE_CALL,
                    )
                except ActivityError:
                    # The ledger refused it: the same purchase_ref won the race on another card. Undo.
                    self.training.undo(update.purchase_ref)
                    self.balance += update.price
                    raise refuse(ProblemCode.PURCHASE_REF_CONFLICT, "purchase_ref was used for another card") from None
                self.training.record()
                self._set_status(self.status)
            return self.training.results[update.purchase_ref]

    @purchase.validator
    def _validate_purchase(self, update: PurchaseUpdate) -> None:
        if update.purchase_ref in self.training.purchases or not self._award_in_progress():
            self._check_purchase(update)
        # else: the handler waits for the award being written, then checks

    def _check_purchase(self, update: PurchaseUpdate) -> None:
        if self.training.conflicts(update):
            raise refuse(ProblemCode.PURCHASE_REF_CONFLICT, "purchase_ref already used for another purchase")
        if update.purchase_ref in self.training.purchases:
            return
        if self.revocation is not None or self.status == JourneyStatus.REVOKED:
            raise refuse(ProblemCode.REVOKED, "the card is revoked")
        if self.prakerja_number is None or self.status not in SPENDING or self.finishing:
            raise refuse(ProblemCode.NOT_AWARDED, "the card cannot buy training now")
        if self.closed or (self.closes_at is not None and workflow.now() >= self.closes_at):
            # On a wave calendar, judged by the workflow's clock: the calendar may tell of the close a little later.
            raise refuse(ProblemCode.PROGRAMME_CLOSED, "the programme has closed")
        deadline = self.purchase_deadline
        if deadline is not None and workflow.now() >= deadline and not self.training.deadline_met():
            # Judged by the workflow's clock, not by whether the deadline timer's callback has run yet.
            raise refuse(ProblemCode.PURCHASE_DEADLINE_PASSED, "the first-purchase deadline has passed")
        if update.price > self.balance:
            raise refuse(
                ProblemCode.INSUFFICIENT_BALANCE, f"price {update.price} exceeds the remaining balance {self.balance}"
            )

    def _awarded(self) -> bool:
        return self.prakerja_number is not None

    def _award_in_progress(self) -> bool:
        """Selected in a draw (the award activity writes the card) but the award's result has not landed yet. (A card
        the draw wrote before its signal reached this journey is refused NOT_AWARDED until the signal lands: the API
        retries that gap for a moment, `services.purchases.AWARD_GAP_RETRIES`.)"""
        return (
            self.terms is not None and self.prakerja_number is None and self.revocation is None and not self.finishing
        )

    @workflow.update
    async def cancel_purchase(self, update: CancelPurchaseUpdate) -> CancelPurchaseResult:
        """Cancel a purchase that was not completed and refund its price (once)."""
        async with self.money_lock:
            self._check_cancel(update)
            if self.training.status[update.purchase_ref] == PurchaseStatus.PURCHASED:
                returned = self.closed or self.finishing
                # The ledger decides a race with a completion: the API records a completion there before it
                # signals us, and the activity cancels only a row still PURCHASED.
                try:
                    await workflow.execute_activity_method(
                        TrainingActivities.cancel_purchase,
                        update.model_copy(update={"balance_returned": returned}),
                        **DATABASE_CALL,
                    )
                except ActivityError:
                    raise refuse(ProblemCode.PURCHASE_COMPLETED, "the training was completed meanwhile") from None
                self.training.cancel(update.purchase_ref)
                if not returned:
                    self.balance += self.training.purchases[update.purchase_ref].price
            return CancelPurchaseResult(purchase_ref=update.purchase_ref, balance_remaining=self.balance)

    @cancel_purchase.validator
    def _check_cancel(self, update: CancelPurchaseUpdate) -> None:
        status = self.training.status.get(update.purchase_ref)
        if status is None:
            raise refuse(ProblemCode.PURCHASE_NOT_FOUND, "no such purchase on this card")
        if status == PurchaseStatus.COMPLETED:
            raise refuse(ProblemCode.PURCHASE_COMPLETED, "a completed training cannot be cancelled")
        if status == PurchaseStatus.PURCHASED and (self.finishing or self.revocation is not None):
            raise refuse(ProblemCode.REVOKED, "the card is revoked")

    @workflow.signal
    def completion(self, signal: CompletionSignal) -> None:
        """A partner reports a completed training; only the first completion unlocks incentives."""
        ignored = self.training.complete(signal.purchase_ref, workflow.now(), signal.surveys_from)
        if ignored is not None:
            self.ignored_signals.append(ignored)

    @workflow.signal
    def review(self, signal: ReviewSignal) -> None:
        """The beneficiary reviewed a completed training (required before the first incentive)."""
        if not self.training.review(signal.purchase_ref):
            self.ignored_signals.append(f"review:{signal.purchase_ref}")

    # --- money: account linking (update), survey submissions and payment holds (signals) ------------
