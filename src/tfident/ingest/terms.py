"""School term labels: the canonical form and the forms agencies send.

The data contract (section 3) labels a term ``YYYY/YY-AUT``, ``-SPR`` or ``-SUM``:
the academic year it belongs to, then the term. The criteria read the last three
complete terms by label (``tfident.criteria.engine.last_complete_terms``), so one
school writing ``Summer 2026`` and another ``2025/26-SUM`` would be two terms and
shift every child's window. Ingest therefore turns every label it recognises into the
canonical form, and a label it does not recognise is a row fault (quarantined), never
a term of its own.

Recognised (any case, spaces, ``-``, ``_``, ``:`` or ``.`` between the parts, an
optional word ``term`` after the season):

* the academic year and the season, either way round: ``2025/26-SUM``,
  ``2025/26 Summer``, ``2025-26 Summer``, ``2025/2026 Summer term``, ``25/26 SUM``,
  ``Summer 2025/26``, ``Summer term 2025-2026``;
* the season and the calendar year the term falls in: ``Summer 2026``,
  ``Summer term 2026``, ``Su 2026``, ``SUM26``, ``Autumn 2025``. The autumn term of
  2025 opens the academic year 2025/26; the spring and summer terms of 2026 close it.

Seasons: ``Autumn``/``Aut``/``Au``, ``Spring``/``Spr``/``Sp``, ``Summer``/``Sum``/``Su``.
Not recognised, because they are ambiguous: a single letter (``S`` is spring or
summer), numbered terms (``Term 3`` is summer in a three-term year, spring in a
six-term one), half terms (``Autumn 1``), a year before the season (``2026 Summer``:
calendar year, or academic year ending?) and academic years whose two years are not
consecutive. An agency whose labels are not recognised maps them in
``config/sources.yaml`` (``codes: term: {their label: 2025/26-SUM}``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SEASONS: dict[str, str] = {
    "AUTUMN": "AUT",
    "AUT": "AUT",
    "AU": "AUT",
    "SPRING": "SPR",
    "SPR": "SPR",
    "SP": "SPR",
    "SUMMER": "SUM",
    "SUM": "SUM",
    "SU": "SUM",
}
"""Season words (upper case) -> canonical term code."""

TERM_CODES = ("AUT", "SPR", "SUM")
"""Canonical term codes, in academic-year order."""

CANONICAL_PATTERN = r"^\d{4}/\d{2}-(?:AUT|SPR|SUM)$"
"""A canonical term label, e.g. ``2025/26-AUT``."""

FIRST_YEAR = 1900
LAST_YEAR = 2099

_SEASON = "(?P<season>" + "|".join(sorted(SEASONS, key=len, reverse=True)) + r")(?:[\s._:-]*TERM)?"
_SEP = r"[\s._:-]*"
_ACADEMIC = r"(?P<y1>\d{4}|\d{2})\s*[/-]\s*(?P<y2>\d{4}|\d{2})"
_FORMS = (
    re.compile(rf"^{_ACADEMIC}{_SEP}{_SEASON}$"),
    re.compile(rf"^{_SEASON}{_SEP}{_ACADEMIC}$"),
    re.compile(rf"^{_SEASON}{_SEP}(?P<year>\d{{4}}|\d{{2}})$"),
)


def canonical_term(start_year: int, code: str) -> str:
    """The canonical label of term ``code`` (AUT, SPR, SUM) of the academic year starting in ``start_year``.

    >>> canonical_term(2025, "SUM")
    '2025/26-SUM'
    """
    return f"{start_year}/{(start_year + 1) % 100:02d}-{code}"


def _year(text: str) -> int:
    """A four-digit year as written, or a two-digit one in the 2000s."""
    return int(text) if len(text) == 4 else 2000 + int(text)


def _academic_start(first: str, second: str) -> int | None:
    """The first year of an academic year written ``first``/``second``; ``None`` unless consecutive."""
    if len(first) == 2 and len(second) == 4:
        return None
    start = _year(first)
    end = _year(second) if len(second) == 4 else (start // 100) * 100 + int(second)
    if len(second) == 2 and end < start:
        end += 100  # 1999/00
    return start if end == start + 1 else None


def normalise_term(label: str | None) -> str | None:
    """The canonical form of a term label, or ``None`` when it is not recognised (see the module notes).

    >>> normalise_term("Summer 2026"), normalise_term("2025-26 summer"), normalise_term("AUT25")
    ('2025/26-SUM', '2025/26-SUM', '2025/26-AUT')
    >>> normalise_term("Term 3") is None
    True
    """
    if label is None:
        return None
    text = " ".join(label.upper().split())
    for form in _FORMS:
        match = form.match(text)
        if match is None:
            continue
        code = SEASONS[match["season"]]
        parts = match.groupdict()
        if parts.get("year") is not None:
            year = _year(parts["year"])
            start: int | None = year if code == "AUT" else year - 1
        else:
            start = _academic_start(parts["y1"], parts["y2"])
        if start is None or not FIRST_YEAR <= start < LAST_YEAR:
            return None
        return canonical_term(start, code)
    return None


def term_map(labels: Iterable[str | None]) -> dict[str, str | None]:
    """Each distinct non-null label -> its canonical form (``None`` when not recognised)."""
    return {label: normalise_term(label) for label in set(labels) if label is not None}
