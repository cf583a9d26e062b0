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
            if update.purchase_ref not in self.purchases:
                self.purchases[update.purchase_ref] = update
                self.purchase_status[update.purchase_ref] = PurchaseStatus.PURCHASED
                self.balance -= update.price
                self.purchase_results[update.purchase_ref] = PurchaseResult(
                    purchase_ref=update.purchase_ref, price=update.price, balance_remaining=self.balance
                )
                try:
                    await workflow.execute_activity_method(
                        TrainingActivities.record_purchase,
                        RecordPurchaseInput(registration_id=self.input.registration_id, purchase=update),
                        **DATABASE_CALL,
                    )
                except ActivityError:
                    # The ledger refused it: the same purchase_ref won the race on another card. Undo.
                    del self.purchases[update.purchase_ref], self.purchase_status[update.purchase_ref]
                    del self.purchase_results[update.purchase_ref]
                    self.balance += update.price
                    raise refuse(ProblemCode.PURCHASE_REF_CONFLICT, "purchase_ref was used for another card") from None
                self.recorded_purchases += 1
                self._set_status(self.status)
            return self.purchase_results[update.purchase_ref]

    @purchase.validator
    def _validate_purchase(self, update: PurchaseUpdate) -> None:
        if update.purchase_ref in self.purchases or not self._award_in_progress():
            self._check_purchase(update)
        # else: the handler waits for the award being written, then checks

    def _check_purchase(self, update: PurchaseUpdate) -> None:
        known = self.purchases.get(update.purchase_ref)
        if known is not None:
            if (known.course_id, known.marketplace_client_code) != (update.course_id, update.marketplace_client_code):
                raise refuse(ProblemCode.PURCHASE_REF_CONFLICT, "purchase_ref already used for another purchase")
            return
        if self.revocation is not None or self.status == JourneyStatus.REVOKED:
            raise refuse(ProblemCode.REVOKED, "the card is revoked")
        if self.prakerja_number is None or self.status not in SPENDING or self.finishing:
            raise refuse(ProblemCode.NOT_AWARDED, "the card cannot buy training now")
        if self.closed:
            raise refuse(ProblemCode.PROGRAMME_CLOSED, "the programme has closed")
        deadline = self.purchase_deadline
        if deadline is not None and workflow.now() >= deadline and not self._deadline_kept():
            # Judged by the workflow's clock, not by whether the deadline timer's callback has run yet.
            raise refuse(ProblemCode.PURCHASE_DEADLINE_PASSED, "the first-purchase deadline has passed")
        if update.price > self.balance:
            raise refuse(
                ProblemCode.INSUFFICIENT_BALANCE, f"price {update.price} exceeds the remaining balance {self.balance}"
            )

    def _awarded(self) -> bool:
        return self.prakerja_number is not None

    def _award_in_progress(self) -> bool:
        """Selected in a draw (the award activity writes the card) but the award's result has not landed yet."""
        return (
            self.terms is not None and self.prakerja_number is None and self.revocation is None and not self.finishing
        )

    def _deadline_kept(self) -> bool:
        return bool(self.completed) or self.recorded_purchases - self.cancelled_purchases > 0

    @workflow.update
    async def cancel_purchase(self, update: CancelPurchaseUpdate) -> CancelPurchaseResult:
        """Cancel a purchase that was not completed and refund its price (once)."""
        async with self.money_lock:
            self._check_cancel(update)
            if self.purchase_status[update.purchase_ref] == PurchaseStatus.PURCHASED:
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
                self.purchase_status[update.purchase_ref] = PurchaseStatus.CANCELLED
                self.cancelled_purchases += 1
                if not returned:
                    self.balance += self.purchases[update.purchase_ref].price
            return CancelPurchaseResult(purchase_ref=update.purchase_ref, balance_remaining=self.balance)

    @cancel_purchase.validator
    def _check_cancel(self, update: CancelPurchaseUpdate) -> None:
        status = self.purchase_status.get(update.purchase_ref)
        if status is None:
            raise refuse(ProblemCode.PURCHASE_NOT_FOUND, "no such purchase on this card")
        if status == PurchaseStatus.COMPLETED:
            raise refuse(ProblemCode.PURCHASE_COMPLETED, "a completed training cannot be cancelled")
        if status == PurchaseStatus.PURCHASED and (self.finishing or self.revocation is not None):
            raise refuse(ProblemCode.REVOKED, "the card is revoked")

    @workflow.signal
    def completion(self, signal: CompletionSignal) -> None:
        """A partner reports a completed training; only the first completion unlocks incentives."""
        status = self.purchase_status.get(signal.purchase_ref)
        if status != PurchaseStatus.PURCHASED:
            if status != PurchaseStatus.COMPLETED:
                self.ignored_signals.append(f"completion:{signal.purchase_ref}:{status}")
            return
        self.purchase_status[signal.purchase_ref] = PurchaseStatus.COMPLETED
        self.completed.append(signal.purchase_ref)
        if signal.purchase_ref in self.early_reviews:
            self.reviewed.add(signal.purchase_ref)
        if self.first_completion_at is None:
            self.first_completion_at = workflow.now()

    @workflow.signal
    def review(self, signal: ReviewSignal) -> None:
        """The beneficiary reviewed a completed training (required before the first incentive)."""
        status = self.purchase_status.get(signal.purchase_ref)
        if status == PurchaseStatus.COMPLETED:
            self.reviewed.add(signal.purchase_ref)
        elif status == PurchaseStatus.PURCHASED:
            # The API saw the completion in the ledger, but its signal has not reached us yet (or was lost and
            # the partner's retry will bring it): the review counts once the completion lands.
            self.early_reviews.add(signal.purchase_ref)
        else:
            self.ignored_signals.append(f"review:{signal.purchase_ref}")

    # --- money: account linking (update), survey submissions and payment holds (signals) ------------
