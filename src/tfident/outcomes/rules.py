"""Outcome rules: pure functions that say whether an attached family's needs have improved.

Every comparison is exact in integers, so a boundary is where the published text puts it:

* **TF1 education** (each child): fewer than 3 fixed exclusions and an unauthorised
  absence rate under 15 % over the last three complete terms (``unauthorised * 20 <
  3 * possible``: 14.9 % is met, 15.0 % is not).
* **TF1 crime and ASB**: offences by the family's minors in the last six months down by
  at least 33 % on the six months before attachment (``after * 100 <= 67 * before``: a
  reduction of exactly 33 % is met), ASB down by at least 60 % (``after * 100 <= 40 *
  before``); with no baseline the measure does not apply (``met`` is None).
* **Continuous employment**: an adult's employment spell of at least 13 weeks (91 days)
  begun after attachment, with no out-of-work benefit claim overlapping it.
* **Six months**: :func:`add_months` moves to the same day ``n`` months on (the last day
  of a shorter month); a window of six months after closure is ``(closed, closed + 6m]``,
  and an outcome is *sustained* only once ``as_of >= closed + 6m`` (six months to the
  day).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

ACHIEVED = "achieved"
NOT_ACHIEVED = "not_achieved"
NOT_APPLICABLE = "not_applicable"
INSUFFICIENT_DATA = "insufficient_data"
NOT_YET_SUSTAINED = "not_yet_sustained"
REASONS: tuple[str, ...] = (ACHIEVED, NOT_ACHIEVED, NOT_APPLICABLE, INSUFFICIENT_DATA, NOT_YET_SUSTAINED)
"""``outcome_observations.reason`` values."""


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier when negative), clamped to the month's last day.

    >>> add_months(date(2026, 8, 31), 6)
    datetime.date(2027, 2, 28)
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def sustained(closed_on: date, as_of: date, months: int = 6) -> bool:
    """Whether ``months`` have passed since closure by ``as_of``, to the day."""
    return as_of >= add_months(closed_on, months)


def rate_below(numerator: int, denominator: int, percent: int) -> bool | None:
    """``numerator / denominator < percent %`` exactly; None when the denominator is 0."""
    if denominator <= 0:
        return None
    return numerator * 100 < percent * denominator


def reduced_by(before: int, after: int, percent: int) -> bool | None:
    """Whether ``after`` is at least ``percent`` % below ``before`` (exactly that counts); None with no baseline."""
    if before <= 0:
        return None
    return after * 100 <= (100 - percent) * before


@dataclass(frozen=True)
class ChildEducation:
    """One child's last complete terms: sessions possible and unauthorised, fixed exclusions."""

    person_id: str
    possible: int
    unauthorised: int
    fixed_exclusions: int


def tf1_child_education(child: ChildEducation, max_exclusions: int = 3, absence_percent: int = 15) -> bool | None:
    """A child's TF1 education result: under ``max_exclusions`` fixed exclusions and under ``absence_percent`` %
    unauthorised absence; None with no sessions recorded.
    """
    rate = rate_below(child.unauthorised, child.possible, absence_percent)
    if rate is None:
        return None
    return rate and child.fixed_exclusions < max_exclusions


def in_window(day: date | None, start: date, end: date) -> bool:
    """``start < day <= end`` (a window open at its start, closed at its end)."""
    return day is not None and start < day <= end


def overlaps(start: date | None, end: date | None, window_start: date, window_end: date) -> bool:
    """Whether an episode ``[start, end]`` (``end`` None: still open) touches ``(window_start, window_end]``."""
    if start is None or start > window_end:
        return False
    return end is None or end > window_start


def continuous_employment(
    spells: list[tuple[date, date | None]],
    benefit_claims: list[tuple[date, date | None]],
    attached_on: date,
    as_of: date,
    weeks: int = 13,
) -> tuple[date, date] | None:
    """The first employment spell begun after attachment lasting ``weeks`` weeks by ``as_of`` with no
    out-of-work benefit claim overlapping those weeks, as (start, the day it became continuous); or None.
    """
    for start, end in sorted(spells, key=lambda s: s[0]):
        if start <= attached_on:
            continue
        reached = date.fromordinal(start.toordinal() + 7 * weeks - 1)
        last = as_of if end is None else min(end, as_of)
        if reached > last:
            continue
        prior = date.fromordinal(start.toordinal() - 1)
        if not any(overlaps(c_start, c_end, prior, reached) for c_start, c_end in benefit_claims):
            return start, reached
    return None
