"""A beneficiary's review of a completed training: the journey hears of it, the course's rating counts it."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from core.contracts import ReviewSignal
from core.domain import FINAL_STATUSES, PurchaseStatus
from core.problems import ProblemCode
from db.models import Beneficiary, Purchase
from services import catalogue, journey_calls
from services.errors import Refused
from workflows.journey import BeneficiaryJourney


@dataclass(frozen=True)
class ReviewTraining:
    purchase_ref: str
    rating: int
    text: str


async def review_training(session: AsyncSession, client: Client, beneficiary: Beneficiary, cmd: ReviewTraining) -> None:
    """Only one's own completed training, while the journey runs (404 PURCHASE_NOT_FOUND, 409
    TRAINING_NOT_COMPLETED, 409 JOURNEY_FINISHED)."""
    purchase = await session.get(Purchase, cmd.purchase_ref)
    if purchase is None or purchase.registration_id != beneficiary.registration_id:
        raise Refused(404, ProblemCode.PURCHASE_NOT_FOUND, f"No training {cmd.purchase_ref} of yours.")
    if purchase.status != PurchaseStatus.COMPLETED:
        raise Refused(409, ProblemCode.TRAINING_NOT_COMPLETED, "Only a completed training can be reviewed.")
    # A journey that has reached its end may still run for a moment (settling, returning the balance) and would
    # take the signal: refuse on what the projection already says.
    if beneficiary.status in FINAL_STATUSES:
        raise Refused(409, ProblemCode.JOURNEY_FINISHED, f"The journey is already {beneficiary.status}.")
    # The journey first: a review it refuses (it has ended) must not show as recorded either.
    await journey_calls.signal(
        client,
        beneficiary.registration_id,
        BeneficiaryJourney.review,
        ReviewSignal(purchase_ref=cmd.purchase_ref, rating=cmd.rating),
    )
    # The review and its course's rating sum/count in one transaction: the catalogue never recounts.
    await catalogue.record_review(session, purchase, cmd.rating, cmd.text, datetime.now(UTC))
    await session.commit()
