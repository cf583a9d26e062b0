"""How a journey shows itself to operators in the Temporal UI (search attributes sent only when they change, current
details), and how its updates refuse. Plain helpers of `BeneficiaryJourney`, which owns the state they show."""

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.domain import JourneyStatus
    from core.payments import payment_label
    from core.problems import ProblemCode
    from core.temporal import SA_ON_HOLD, SA_PAYMENT_PARTNER, SA_PROFILE, SA_PROVINCE, SA_STATUS, SA_WAVE
    from workflows.training import TrainingLedger

_SEARCH_ATTRIBUTES: dict[str, Any] = {
    key.name: key for key in (SA_STATUS, SA_PROVINCE, SA_WAVE, SA_PROFILE, SA_PAYMENT_PARTNER, SA_ON_HOLD)
}
SPENDING = (JourneyStatus.AWARDED, JourneyStatus.TRAINING, JourneyStatus.INCENTIVES, JourneyStatus.PAYMENT_ON_HOLD)
# A payment account can be linked in these statuses before any payment is due (the incentive phase comes after).
BEFORE_PAYMENTS = (JourneyStatus.AWARDED, JourneyStatus.TRAINING)


def refuse(code: ProblemCode, message: str) -> ApplicationError:
    """A business refusal of an update; `type` is the API's problem code."""
    return ApplicationError(message, type=code, non_retryable=True)


class SearchAttributes:
    """The journey's search attributes as last published (at the start or by an upsert)."""

    def __init__(self) -> None:
        self.published: dict[str, Any] | None = None

    def publish(self, values: dict[str, Any], only_changes: bool) -> None:
        """Upsert `values`; with `only_changes` (journeys since ONE_ACTIVITY_PAYMENTS) only those that differ from
        what was published: each upsert is a billable action and a history event."""
        if only_changes:
            if self.published is None:
                self.published = {pair.key.name: pair.value for pair in workflow.info().typed_search_attributes}
            values = {name: value for name, value in values.items() if self.published.get(name) != value}
            self.published.update(values)
        if values:
            workflow.upsert_search_attributes([_SEARCH_ATTRIBUTES[name].value_set(v) for name, v in values.items()])


def details(
    status: JourneyStatus,
    reasons: list[str],
    wave_id: str | None,
    profile: str | None,
    balance: int | None,
    training: TrainingLedger,
    paid: dict[str, str],
    on_hold: int,
) -> str:
    """The journey's current details (query metadata, not history: no replay concern). `balance`: None before the
    award."""
    lines = [f"**{status.value}**"]
    if reasons:
        lines.append("reasons: " + ", ".join(reasons))
    if wave_id:
        lines.append(f"wave: {wave_id}")
    if profile:
        lines.append(f"profile: {profile}")
    if balance is not None:
        lines.append(f"training balance: Rp {balance:,}")
    if training.purchases:
        lines.append(f"purchases: {len(training.purchases)}, completed: {training.completed_count()}")
    if paid:
        lines.append("payments: " + ", ".join(f"{payment_label(p)} {s}" for p, s in paid.items()))
    if on_hold:
        lines.append(f"payments on hold: {on_hold}")
    return "\n\n".join(lines)
