"""Date helpers of the synthetic council: ages, the 12-month window, school terms, census days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tfident.households.roles import age_on

DAY = dt.timedelta(days=1)


def one_year_before(day: dt.date) -> dt.date:
    """The same calendar day a year earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def in_window(day: dt.date | None, as_of: dt.date) -> bool:
    """Whether ``day`` is in the 12-month window ``as_of - 1 year < day <= as_of``."""
    return day is not None and one_year_before(as_of) < day <= as_of


def age_at(dob: dt.date, at: dt.date) -> int:
    """Age in completed years on ``at`` (:func:`tfident.households.roles.age_on`)."""
    age = age_on(dob, at)
    assert age is not None
    return age


def birthday(dob: dt.date, years: int) -> dt.date:
    """The day a person born on ``dob`` turns ``years`` (29 February birthdays fall on 1 March)."""
    try:
        return dob.replace(year=dob.year + years)
    except ValueError:
        return dt.date(dob.year + years, 3, 1)


def next_weekday(day: dt.date) -> dt.date:
    """``day`` or the Monday after it when it falls at a weekend."""
    while day.weekday() >= 5:
        day += DAY
    return day


def previous_weekday(day: dt.date) -> dt.date:
    """``day`` or the Friday before it when it falls at a weekend."""
    while day.weekday() >= 5:
        day -= DAY
    return day


def weekdays_between(start: dt.date, end: dt.date) -> int:
    """Number of weekdays from ``start`` to ``end`` inclusive (0 when end < start)."""
    if end < start:
        return 0
    days = (end - start).days + 1
    weeks, extra = divmod(days, 7)
    count = weeks * 5
    for i in range(extra):
        if (start + dt.timedelta(days=weeks * 7 + i)).weekday() < 5:
            count += 1
    return count


@dataclass(frozen=True)
class Term:
    """One school term: label such as ``2025/26-AUT``, first and last day, sessions offered."""

    label: str
    start: dt.date
    end: dt.date
    sessions: int  # sessions possible over the whole term for a full-time pupil
    academic_year: int  # calendar year the academic year starts in

    def sessions_to(self, day: dt.date) -> int:
        """Sessions offered from the start of the term up to ``day`` inclusive."""
        if day >= self.end:
            return self.sessions
        whole = weekdays_between(self.start, self.end)
        done = weekdays_between(self.start, day)
        return round(self.sessions * done / whole) if whole else 0


def _term(label: str, start: dt.date, end: dt.date, year: int) -> Term:
    start, end = next_weekday(start), previous_weekday(end)
    # two sessions a day, less a half-term week and a couple of training days
    sessions = 2 * (weekdays_between(start, end) - 5) - 4
    return Term(label, start, end, sessions, year)


def academic_year_terms(year: int) -> tuple[Term, Term, Term]:
    """The three terms of the academic year starting in September of ``year``."""
    tag = f"{year}/{(year + 1) % 100:02d}"
    return (
        _term(f"{tag}-AUT", dt.date(year, 9, 3), dt.date(year, 12, 19), year),
        _term(f"{tag}-SPR", dt.date(year + 1, 1, 5), dt.date(year + 1, 4, 2), year),
        _term(f"{tag}-SUM", dt.date(year + 1, 4, 16), dt.date(year + 1, 7, 22), year),
    )


def attendance_terms(as_of: dt.date) -> list[Term]:
    """Terms an attendance extract taken on ``as_of`` holds, oldest first.

    Every term that has started by ``as_of`` and ended no more than about 18 months
    before it, so the extract has more than three complete terms and, during term
    time, the term still in progress.
    """
    terms: list[Term] = []
    for year in range(as_of.year - 3, as_of.year + 1):
        for term in academic_year_terms(year):
            if term.start <= as_of and term.end > as_of - dt.timedelta(days=540):
                terms.append(term)
    return terms


def census_dates(as_of: dt.date, count: int = 2) -> list[dt.date]:
    """The last ``count`` school census days on or before ``as_of``, oldest first.

    Census days: first Thursday of October, third Thursday of January and of May.
    """

    def nth_thursday(year: int, month: int, n: int) -> dt.date:
        day = dt.date(year, month, 1)
        day += dt.timedelta(days=(3 - day.weekday()) % 7)
        return day + dt.timedelta(weeks=n - 1)

    days: list[dt.date] = []
    for year in range(as_of.year - 2, as_of.year + 1):
        days += [nth_thursday(year, 1, 3), nth_thursday(year, 5, 3), nth_thursday(year, 10, 1)]
    return [d for d in days if d <= as_of][-count:]
