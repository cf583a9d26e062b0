"""The public figures: registrations, eligibility, awards, trainings completed and rupiah paid, by province
and by wave, from one grouped query. A count under 10 is published as None (small cells could identify
people); so is a rupiah sum paid to fewer than 10 people."""

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import JourneyStatus, PaymentKind, PaymentStatus, PurchaseStatus
from db.models import Beneficiary, Payment, Purchase, Wave

MIN_CELL = 10
NOT_YET_ELIGIBLE = (JourneyStatus.REGISTERED, JourneyStatus.VERIFYING, JourneyStatus.REJECTED, JourneyStatus.INELIGIBLE)


@dataclass
class Cell:
    """Exact figures of one group (never published as such: see `published`)."""

    registered: int = 0
    eligible: int = 0
    awarded: int = 0
    trained: int = 0
    incentives_paid_rupiah: int = 0
    surveys_paid_rupiah: int = 0
    incentives_paid_people: int = 0
    surveys_paid_people: int = 0

    def add(self, other: "Cell") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def published(self) -> dict[str, int | None]:
        def shown(value: int, people: int) -> int | None:
            return value if people >= MIN_CELL else None

        return {
            "registered": shown(self.registered, self.registered),
            "eligible": shown(self.eligible, self.eligible),
            "awarded": shown(self.awarded, self.awarded),
            "trained": shown(self.trained, self.trained),
            "incentives_paid_rupiah": shown(self.incentives_paid_rupiah, self.incentives_paid_people),
            "surveys_paid_rupiah": shown(self.surveys_paid_rupiah, self.surveys_paid_people),
        }


@dataclass
class Figures:
    generated_at: datetime
    totals: Cell = field(default_factory=Cell)
    by_province: dict[str, Cell] = field(default_factory=dict)
    by_wave: dict[str, tuple[str, Cell]] = field(default_factory=dict)  # wave_id -> (name, cell)

    def published(self) -> dict[str, object]:
        """The public document: only suppressed figures leave."""
        return {
            "generated_at": self.generated_at.isoformat().replace("+00:00", "Z"),
            "min_cell": MIN_CELL,
            "totals": self.totals.published(),
            "by_province": [{"province": p, **c.published()} for p, c in sorted(self.by_province.items())],
            "by_wave": [{"wave_id": w, "name": name, **c.published()} for w, (name, c) in sorted(self.by_wave.items())],
        }


async def transparency_figures(session: AsyncSession) -> Figures:
    """One statement: beneficiaries grouped by province and wave, with their completed trainings and paid
    payments pre-aggregated per beneficiary; provinces, waves and totals are sums of those cells."""
    trained = (
        select(Purchase.registration_id)
        .where(Purchase.status == PurchaseStatus.COMPLETED)
        .group_by(Purchase.registration_id)
        .subquery()
    )
    paid = (
        select(
            Payment.registration_id,
            func.sum(case((Payment.kind == PaymentKind.INCENTIVE, Payment.amount), else_=0)).label("incentives"),
            func.sum(case((Payment.kind == PaymentKind.SURVEY, Payment.amount), else_=0)).label("surveys"),
        )
        .where(Payment.status == PaymentStatus.PAID)
        .group_by(Payment.registration_id)
        .subquery()
    )
    eligible = Beneficiary.status.not_in(NOT_YET_ELIGIBLE)
    query = (
        select(
            Beneficiary.province,
            Beneficiary.wave_id,
            Wave.name,
            func.count(),
            func.count().filter(eligible),
            func.count(Beneficiary.prakerja_number),
            func.count(trained.c.registration_id),
            func.coalesce(func.sum(paid.c.incentives), 0),
            func.coalesce(func.sum(paid.c.surveys), 0),
            func.count().filter(paid.c.incentives > 0),
            func.count().filter(paid.c.surveys > 0),
        )
        .outerjoin(Wave, Wave.wave_id == Beneficiary.wave_id)
        .outerjoin(trained, trained.c.registration_id == Beneficiary.registration_id)
        .outerjoin(paid, paid.c.registration_id == Beneficiary.registration_id)
        .group_by(Beneficiary.province, Beneficiary.wave_id, Wave.name)
    )
    figures = Figures(generated_at=datetime.now(UTC).replace(microsecond=0))
    for province, wave_id, wave_name, *numbers in await session.execute(query):
        cell = Cell(*(int(n) for n in numbers))
        figures.totals.add(cell)
        figures.by_province.setdefault(province, Cell()).add(cell)
        if wave_id is not None:
            figures.by_wave.setdefault(wave_id, (wave_name or wave_id, Cell()))[1].add(cell)
    return figures
