"""Term labels: the forms agencies send normalise to the contract's ``YYYY/YY-AUT|SPR|SUM``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfident.ingest.terms import CANONICAL_PATTERN, FIRST_YEAR, LAST_YEAR, canonical_term, normalise_term, term_map

relaxed = settings(deadline=None, max_examples=300)

start_years = st.integers(min_value=FIRST_YEAR, max_value=LAST_YEAR - 1)
codes = st.sampled_from(["AUT", "SPR", "SUM"])
SEASON_WORDS = {"AUT": ["Autumn", "Aut", "Au"], "SPR": ["Spring", "Spr", "Sp"], "SUM": ["Summer", "Sum", "Su"]}


def calendar_year(start: int, code: str) -> int:
    """The calendar year a term falls in: autumn in the first year, spring and summer in the second."""
    return start if code == "AUT" else start + 1


@st.composite
def alternative_forms(draw: st.DrawFn) -> tuple[str, str]:
    """A canonical label and the same term written some other way agencies write it."""
    start, code = draw(start_years), draw(codes)
    season = draw(st.sampled_from(SEASON_WORDS[code]))
    season += draw(st.sampled_from(["", " term", " Term", "-term"]))
    end = start + 1
    year = calendar_year(start, code)
    academic = draw(
        st.sampled_from(
            [f"{start}/{end % 100:02d}", f"{start}-{end % 100:02d}", f"{start}/{end}", f"{start} - {end}"]
            + ([f"{start % 100:02d}/{end % 100:02d}"] if start >= 2000 and end <= 2099 else [])
        )
    )
    sep = draw(st.sampled_from([" ", "-", "_", " - ", ": ", "  "]))
    years = [str(year)] + ([f"{year % 100:02d}"] if 2000 <= year <= 2099 else [])
    form = draw(
        st.sampled_from(
            [
                f"{academic}{sep}{season}",
                f"{season}{sep}{academic}",
                f"{season}{sep}{draw(st.sampled_from(years))}",
                f"{season}{draw(st.sampled_from(years))}",
            ]
        )
    )
    cased = "".join(ch.lower() if draw(st.booleans()) else ch.upper() for ch in form)
    padded = draw(st.sampled_from(["", " ", "\t"])) + cased + draw(st.sampled_from(["", " "]))
    return canonical_term(start, code), padded


@relaxed
@given(start_years, codes)
def test_canonical_labels_are_fixed_points(start: int, code: str) -> None:
    label = canonical_term(start, code)
    assert re.match(CANONICAL_PATTERN, label)
    assert normalise_term(label) == label
    assert normalise_term(label.lower()) == label


@relaxed
@given(alternative_forms())
def test_alternative_forms_round_trip_to_canonical(case: tuple[str, str]) -> None:
    canonical, written = case
    assert normalise_term(written) == canonical


@relaxed
@given(st.text(max_size=40))
def test_normalising_never_raises_and_is_idempotent(text: str) -> None:
    result = normalise_term(text)
    assert result is None or re.match(CANONICAL_PATTERN, result)
    assert result is None or normalise_term(result) == result


@pytest.mark.parametrize(
    ("label", "canonical"),
    [
        ("Summer 2026", "2025/26-SUM"),
        ("Summer term 2026", "2025/26-SUM"),
        ("2025/26 Summer", "2025/26-SUM"),
        ("2025-26 Summer", "2025/26-SUM"),
        ("Su 2026", "2025/26-SUM"),
        ("SUM26", "2025/26-SUM"),
        ("Autumn 2025", "2025/26-AUT"),  # autumn 2025 and spring/summer 2026: one academic year
        ("Spring 2026", "2025/26-SPR"),
        ("AUT25", "2025/26-AUT"),
        ("Autumn Term 2025/2026", "2025/26-AUT"),
        ("1999/00 Summer", "1999/00-SUM"),
        (" 2025/26-aut ", "2025/26-AUT"),
    ],
)
def test_common_forms(label: str, canonical: str) -> None:
    assert normalise_term(label) == canonical


@pytest.mark.parametrize(
    "label",
    [
        "",
        "Term 3",  # summer in a three-term year, spring in a six-term one
        "T3 2026",
        "S 2026",  # spring or summer
        "Autumn 1 2025",  # half terms
        "Summer 2",
        "2026 Summer",  # calendar year, or the academic year ending in 2026?
        "2025/27 Summer",  # not consecutive years
        "Summer",
        "2025/26",
        "Winter 2025",
        "2025-09-03",
    ],
)
def test_ambiguous_or_unknown_labels_are_not_recognised(label: str) -> None:
    assert normalise_term(label) is None


def test_term_map_maps_each_distinct_label() -> None:
    assert term_map(["Summer 2026", None, "2025/26-SUM", "Term 3"]) == {
        "Summer 2026": "2025/26-SUM",
        "2025/26-SUM": "2025/26-SUM",
        "Term 3": None,
    }
