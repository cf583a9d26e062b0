"""The signal a payment sends the journey that started it when it goes on hold or leaves it. Declared here, apart
from both workflows, so the payment names it by reference without importing the journey (which imports it)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.payments import PaymentHoldSignal


class PaymentHoldReceiver:
    @workflow.signal(name="payment_hold")
    def payment_hold(self, signal: PaymentHoldSignal) -> None:
        """A payment went on hold (or left it); the journey implements it."""
        raise NotImplementedError
