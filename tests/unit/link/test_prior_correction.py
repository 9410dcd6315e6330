"""The prior's correction for profiles that cannot agree on the prior's block (no date of birth)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from tfident.link.training import (
    MIN_BLOCK_RECALL,
    PRIOR_BLOCK,
    PRIOR_EXACT_LEVELS,
    block_recall_from_m,
    prior_correction,
)

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


def _settings(m: dict[str, float | None], quote: str = '"') -> dict[str, Any]:
    """A model's settings with an exact level (m given, u 0.01) per prior-block comparison."""
    comparisons = []
    for name, column in PRIOR_EXACT_LEVELS:
        levels: list[dict[str, Any]] = [{"sql_condition": f"{column}_l IS NULL", "is_null_level": True}]
        if m.get(name) is not None:
            condition = f"{quote}{column}_l{quote} = {quote}{column}_r{quote}"
            levels.append({"sql_condition": condition, "m_probability": m[name], "u_probability": 0.01})
        levels.append({"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.9})
        comparisons.append({"output_column_name": name, "comparison_levels": levels})
    return {"comparisons": comparisons}


M_CASES: list[tuple[str, dict[str, float | None], str, float | None]] = [
    ("product of the exact levels' m", {"forename": 0.9, "surname": 0.95, "dob": 0.7}, '"', 0.9 * 0.95 * 0.7),
    ("Spark's backticks read the same", {"forename": 0.9, "surname": 0.95, "dob": 0.7}, "`", 0.9 * 0.95 * 0.7),
    ("a missing level: not measured", {"forename": 0.9, "surname": 0.95, "dob": None}, '"', None),
    ("an untrained level (m = u): not measured", {"forename": 0.01, "surname": 0.95, "dob": 0.7}, '"', None),
    ("floored at MIN_BLOCK_RECALL", {"forename": 0.2, "surname": 0.2, "dob": 0.2}, '"', MIN_BLOCK_RECALL),
]


@pytest.mark.parametrize(("m", "quote", "expected"), [c[1:] for c in M_CASES], ids=[c[0] for c in M_CASES])
def test_block_recall_from_m(m: dict[str, float | None], quote: str, expected: float | None) -> None:
    """The prior block's recall is the product of its fields' exact-level m probabilities."""
    recall = block_recall_from_m(_settings(m, quote), PRIOR_EXACT_LEVELS)
    assert recall == (None if expected is None else pytest.approx(expected))
