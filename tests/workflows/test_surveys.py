"""The survey schedule's rules, without Temporal: answers count inside their window, ticks expire the rest."""

from datetime import UTC, datetime, timedelta

from core.contracts import SurveyWindow
from core.payments import payment_label
from workflows.surveys import SurveySchedule

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
GRACE = timedelta(minutes=5)


def schedule() -> SurveySchedule:
    return SurveySchedule(
        windows=[
            SurveyWindow(survey_no=1, opens_at=T0, closes_at=T0 + 30 * DAY),
            SurveyWindow(survey_no=2, opens_at=T0 + 30 * DAY, closes_at=T0 + 60 * DAY),
            SurveyWindow(survey_no=3, opens_at=T0 + 90 * DAY, closes_at=T0 + 120 * DAY),
        ]
    )


def test_answers_count_only_inside_their_window():
    s = schedule()

    assert s.submit(1, T0 + DAY) is True
    assert s.submit(2, T0 + DAY) is False  # not open yet
    assert s.submit(3, T0 + 120 * DAY) is False  # the close itself is outside
    assert s.submit(4, T0 + DAY) is False  # no such survey
    assert s.submitted == {1}


def test_answers_before_the_windows_are_known_are_judged_when_they_are():
    s = SurveySchedule()

    assert s.submit(1, T0 + DAY) is True  # kept: the windows (recorded by the API) have not reached the journey yet
    assert s.submit(2, T0 + DAY) is True
    assert s.submitted == set()

    assert s.open(schedule().windows) == [2]  # survey 2 had not opened at T0 + 1 day
    assert s.submitted == {1}
    assert s.submit(2, T0 + 31 * DAY) is True


def test_a_tick_expires_only_windows_closed_with_their_grace():
    s = schedule()
    s.submit(1, T0 + DAY)

    s.close_due(T0 + 60 * DAY, GRACE)  # survey 2 closes now, but its late answers may still arrive
    assert s.expired == set()
    s.close_due(T0 + 60 * DAY + GRACE, GRACE)

    assert s.expired == {2}  # survey 1 was answered: it never expires
    assert [w.survey_no for w in s.still_open()] == [3]
    assert s.settled(1) and s.settled(2) and not s.settled(3)


def test_the_last_close_is_that_of_the_last_window_still_open():
    s = schedule()
    assert s.last_close(GRACE) == T0 + 120 * DAY + GRACE
    for no, at in ((1, T0 + DAY), (2, T0 + 31 * DAY), (3, T0 + 91 * DAY)):
        s.submit(no, at)
    assert s.last_close(GRACE) is None


def test_payment_labels_come_from_the_id_format():
    assert payment_label("PAY-REG-ABC-DEF-I1") == "I1"
    assert payment_label("PAY-REG-ABC-S3-A2") == "S3"
    assert payment_label("something-else") == "something-else"
