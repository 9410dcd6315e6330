"""The prior's correction for profiles that cannot agree on the prior's block (no date of birth)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tfident.link.training import PRIOR_BLOCK, prior_correction

DOB = dt.date(2010, 1, 1)


def _frame(complete: int, without_dob: int, without_name: int = 0) -> pl.DataFrame:
    rows = [("ANN", "LEE", DOB)] * complete + [("ANN", "LEE", None)] * without_dob + [(None, "LEE", DOB)] * without_name
    return pl.DataFrame(
        rows, schema={"forename_first": pl.String, "surname_std": pl.String, "date_of_birth": pl.Date}, orient="row"
    )


CASES = [
    ("every profile complete: no correction", 10, 0, 0, 1.0),
    ("half without a date of birth: all pairs / complete pairs", 10, 10, 0, (20 * 19) / (10 * 9)),
    ("a missing forename counts as incomplete too", 10, 5, 5, (20 * 19) / (10 * 9)),
    ("fewer than two complete profiles: no correction", 1, 9, 0, 1.0),
    ("no profiles: no correction", 0, 0, 0, 1.0),
]


@pytest.mark.parametrize(
    ("complete", "without_dob", "without_name", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_prior_correction(complete: int, without_dob: int, without_name: int, expected: float) -> None:
    """The factor is the ratio of all profile pairs to the pairs of profiles holding the whole block."""
    frame = _frame(complete, without_dob, without_name)
    assert prior_correction(frame, PRIOR_BLOCK) == pytest.approx(expected)
