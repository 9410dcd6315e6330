"""Boundary tests of every outcome rule."""

from __future__ import annotations

from datetime import date

import pytest

from tfident.outcomes.rules import (
    ChildEducation,
    add_months,
    continuous_employment,
    in_window,
    overlaps,
    reduced_by,
    sustained,
    tf1_child_education,
)


def test_unauthorised_absence_of_14_9_percent_is_met_and_15_0_is_not() -> None:
    """It counts a child under 15 % unauthorised absence as met, and exactly 15.0 % as not met."""
    assert tf1_child_education(ChildEducation("P1", 1000, 149, 0)) is True
    assert tf1_child_education(ChildEducation("P1", 1000, 150, 0)) is False


def test_three_fixed_exclusions_fail_and_two_pass() -> None:
    """It needs fewer than three fixed exclusions."""
    assert tf1_child_education(ChildEducation("P1", 100, 0, 2)) is True
    assert tf1_child_education(ChildEducation("P1", 100, 0, 3)) is False


def test_no_sessions_is_no_judgement() -> None:
    """It gives None, not a result, for a child with no sessions recorded."""
    assert tf1_child_education(ChildEducation("P1", 0, 0, 0)) is None


@pytest.mark.parametrize(
    ("before", "after", "percent", "met"),
    [
        (100, 67, 33, True),  # exactly 33 % down
        (100, 68, 33, False),  # 32 % down
        (3, 2, 33, True),  # 33.3 % down
        (10, 4, 60, True),  # exactly 60 % down
        (10, 5, 60, False),
        (5, 2, 60, True),
        (0, 0, 33, None),  # no baseline: not applicable
    ],
)
def test_reductions_at_the_boundary(before: int, after: int, percent: int, met: bool | None) -> None:
    """It meets a reduction of exactly the required percentage and no less."""
    assert reduced_by(before, after, percent) is met


def test_six_months_to_the_day() -> None:
    """It counts an outcome sustained on the day six months after closure, not the day before."""
    closed = date(2026, 1, 15)
    assert add_months(closed, 6) == date(2026, 7, 15)
    assert sustained(closed, date(2026, 7, 15)) is True
    assert sustained(closed, date(2026, 7, 14)) is False


def test_six_months_from_the_end_of_a_long_month() -> None:
    """It clamps to the last day of a shorter month (31 August + 6 months is 28 February)."""
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)


def test_windows_are_open_at_the_start_and_closed_at_the_end() -> None:
    """It counts an event on the window's last day, not on its first (the closure day)."""
    start, end = date(2026, 1, 15), date(2026, 7, 15)
    assert not in_window(start, start, end)
    assert in_window(date(2026, 1, 16), start, end)
    assert in_window(end, start, end)
    assert not in_window(date(2026, 7, 16), start, end)
    assert overlaps(date(2025, 1, 1), None, start, end)
    assert not overlaps(date(2025, 1, 1), start, start, end)
    assert overlaps(date(2025, 1, 1), date(2026, 1, 16), start, end)


def test_continuous_employment_of_13_weeks_exactly() -> None:
    """It needs 13 weeks (91 days) of one spell begun after attachment, with no out-of-work claim in it."""
    attached = date(2026, 1, 1)
    start = date(2026, 2, 1)
    day_91 = date.fromordinal(start.toordinal() + 90)
    assert continuous_employment([(start, None)], [], attached, day_91) == (start, day_91)
    assert continuous_employment([(start, None)], [], attached, date.fromordinal(day_91.toordinal() - 1)) is None
    assert continuous_employment([(start, day_91)], [], attached, date(2026, 12, 1)) == (start, day_91)
    assert continuous_employment([(start, None)], [(date(2026, 3, 1), date(2026, 3, 5))], attached, day_91) is None
    assert continuous_employment([(start, None)], [(date(2025, 3, 1), date(2026, 1, 31))], attached, day_91) == (
        start,
        day_91,
    )
    assert continuous_employment([(attached, None)], [], attached, date(2026, 12, 1)) is None
