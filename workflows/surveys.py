"""A journey's survey windows as plain state: which are open, answered or expired. No Temporal here, so its rules
are unit-tested directly (tests/workflows/test_surveys.py); the journey keeps one and asks it."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.contracts import SurveyWindow


@dataclass
class SurveySchedule:
    windows: list[SurveyWindow] = field(default_factory=list)
    submitted: set[int] = field(default_factory=set)
    expired: set[int] = field(default_factory=set)  # closed unanswered: nothing to pay
    # Answers that arrived before the windows did (the API records the windows with the first completion, and its
    # signal may reach the journey after the beneficiary answered): judged once the windows are known.
    early: dict[int, datetime] = field(default_factory=dict)
    known: bool = False  # the windows are set (given, or by `open()`)

    def __post_init__(self) -> None:
        self.known = self.known or bool(self.windows)

    def open(self, windows: list[SurveyWindow]) -> list[int]:
        """The windows are known: count the answers that came before them; the surveys of those that do not fit."""
        self.windows, self.known = windows, True
        early, self.early = self.early, {}
        return [no for no, at in early.items() if not self.submit(no, at)]

    def submit(self, survey_no: int, submitted_at: datetime) -> bool:
        """Count answers accepted inside their window (the API's clock); False for any other survey or time.
        Before the windows are known, an answer is kept for `open()` to judge (True)."""
        if not self.known:
            self.early.setdefault(survey_no, submitted_at)
            return True
        window = next((w for w in self.windows if w.survey_no == survey_no), None)
        if window is None or not (window.opens_at <= submitted_at < window.closes_at):
            return False
        self.submitted.add(survey_no)
        return True

    def settled(self, survey_no: int) -> bool:
        return survey_no in self.submitted or survey_no in self.expired

    def still_open(self) -> list[SurveyWindow]:
        """Windows neither answered nor expired."""
        return [w for w in self.windows if not self.settled(w.survey_no)]

    def close_due(self, now: datetime, grace: timedelta) -> None:
        """Windows closed by `now` (with the grace their late signals get), unanswered, expire."""
        for window in self.still_open():
            if window.closes_at + grace <= now:
                self.expired.add(window.survey_no)

    def last_close(self, grace: timedelta) -> datetime | None:
        """When the last window still open closes, grace included; None when none is open."""
        open_windows = self.still_open()
        return max(w.closes_at for w in open_windows) + grace if open_windows else None
