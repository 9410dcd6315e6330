"""benchmarks.profiles: pooling several seeds, and the interval each pooled rate carries."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks.profiles import markdown, out_of_sight, pooled, wilson


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # all or none: the closed forms n / (n + z^2) and z^2 / (n + z^2)
        (0, 10, 0.0, 1.96**2 / (10 + 1.96**2)),
        (10, 10, 10 / (10 + 1.96**2), 1.0),
        (1, 1, 1 / (1 + 1.96**2), 1.0),
    ],
)
def test_wilson_interval_at_all_or_none(successes: int, trials: int, low: float, high: float) -> None:
    assert wilson(successes, trials) == pytest.approx((low, high), abs=1e-12)


@pytest.mark.parametrize(("successes", "trials"), [(980, 1000), (50, 100), (3, 40), (7591, 7609)])
def test_wilson_bounds_solve_the_score_equation(successes: int, trials: int) -> None:
    """Each bound is a true rate p at which the observed rate is exactly z standard errors away:
    trials * (observed - p)^2 = z^2 * p * (1 - p) (Wilson 1927), one root each side.
    """
    observed = successes / trials
    low, high = wilson(successes, trials)
    for p in (low, high):
        assert trials * (observed - p) ** 2 == pytest.approx(1.96**2 * p * (1 - p), rel=1e-9)
    assert low < observed < high


def test_wilson_interval_holds_the_rate_and_narrows_with_more_trials() -> None:
    for successes, trials in [(7, 8), (98, 100), (979, 1000), (9790, 10000)]:
        low, high = wilson(successes, trials)
        assert low < successes / trials < high
    widths = [wilson(98 * n, 100 * n) for n in (1, 10, 100)]
    assert [h - lo for lo, h in widths] == sorted((h - lo for lo, h in widths), reverse=True)


def test_no_trials_means_nothing_is_known() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


def _row(profile: str, seed: int, found: int, eligible: int, candidates: int, right: int, f1: float) -> dict[str, Any]:
    families = {"eligible_found": found, "eligible": eligible, "candidates": candidates, "candidates_eligible": right}
    return {
        "profile": profile,
        "seed": seed,
        "scores": {
            "families": families | {"precision": right / candidates, "recall": found / eligible},
            "households": {"f1": f1},
            "persons": {"f1": 0.99},
            "persons_cross_source": {"precision": 0.999, "recall": 0.99, "f1": 0.9945},
        },
        "twin_pairs": 3,
        "twin_pairs_merged": seed % 2,
        "eligible_out_of_sight": seed - 100,
        "run_seconds": 1.0,
    }


def test_pooled_sums_counts_before_the_rates_and_gives_their_intervals() -> None:
    rows = [
        _row("lagged", 101, 97, 100, 99, 98, 0.98),
        _row("messy", 101, 49, 50, 50, 50, 0.99),
        _row("lagged", 102, 390, 400, 396, 394, 0.97),
    ]
    (lagged, messy) = pooled(rows)
    assert lagged["profile"] == "lagged"
    assert lagged["seeds"] == [101, 102]
    f = lagged["families"]
    assert (f["eligible_found"], f["eligible"], f["candidates"], f["candidates_eligible"]) == (487, 500, 495, 492)
    assert f["recall"] == 487 / 500
    assert f["precision"] == 492 / 495
    assert f["recall_interval"] == wilson(487, 500)
    assert f["precision_interval"] == wilson(492, 495)
    assert lagged["twin_pairs"] == 6
    assert lagged["twin_pairs_merged"] == 1
    assert lagged["min_households_f1"] == 0.97
    assert lagged["eligible_out_of_sight"] == 3
    assert messy["families"]["precision_interval"] == wilson(50, 50)


def test_markdown_shows_each_pooled_interval() -> None:
    rows = [_row("lagged", 101, 97, 100, 99, 98, 0.98), _row("lagged", 102, 390, 400, 396, 394, 0.97)]
    report = {
        "date": "2026-12-06", "households": 3000, "seed": 101, "seeds": [101, 102], "model_version": "m",
        "total_seconds": 1.0, "jobs": 2, "profiles": rows, "pooled": pooled(rows),
    }  # fmt: skip
    text = markdown(report)
    low, high = wilson(487, 500)
    assert f"| lagged | 0.994 / 0.974 (487/500) | {wilson(492, 495)[0]:.3f} to {wilson(492, 495)[1]:.3f} " in text
    assert f"{low:.3f} to {high:.3f}" in text
    assert "2 batches at a time" in text
    assert f"| 3: {487 / 497:.3f} |" in text  # 3 of 500 out of sight: 487 found of the 497 a run could find
    assert not math.isnan(low)


def _csv(path: Path, header: str, *lines: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n")


def test_out_of_sight_counts_eligible_families_no_record_of_whom_is_in_the_area(tmp_path: Path) -> None:
    _csv(tmp_path / "gazetteer.csv", "uprn,address_line_1,address_line_2,address_line_3,town,postcode",
         "100,1 Maple Avenue,,,Tenford,TF1 1AW", "200,2 Oak Road,,,Tenford,TF10 2BB")  # fmt: skip
    _csv(
        tmp_path / "benefits.csv", "record_id,forename,postcode,uprn",
        "B1,A,ZZ9 9ZZ,",  # family A: outside the area ...
        "B2,A,zz99zz,",  # ... written any way
        "B3,B,ZZ9 9ZZ,",  # family B: outside here ...
        "B4,C,ZZ9 9ZZ,",  # family C: outside, but ...
        "B5,C,,",  # ... a record with no postcode may be in the area
        "B6,D,ZZ9 9ZZ,200",  # family D: a gazetteer UPRN is in the area whatever the postcode
        "B7,E,ZZ9 9ZZ,",  # family E: outside, not eligible
        "B8,F,TF10 9XY,",  # family F: an outward code of the gazetteer (TF10, not TF1), a postcode it lacks
    )  # fmt: skip
    _csv(tmp_path / "attendance.csv", "record_id,forename,postcode,uprn", "A1,B,tf11aw,")  # ... and in it here
    _csv(
        tmp_path / "truth" / "persons.csv", "source,record_id,true_person_id,true_household_id",
        "benefits,B1,P1,A", "benefits,B2,P2,A", "benefits,B3,P3,B", "attendance,A1,P4,B", "benefits,B4,P5,C",
        "benefits,B5,P5,C", "benefits,B6,P6,D", "benefits,B7,P7,E", "benefits,B8,P8,F",
    )  # fmt: skip
    _csv(
        tmp_path / "truth" / "households.csv", "true_household_id,eligible_phase1",
        "A,Y", "B,Y", "C,Y", "D,Y", "E,N", "F,Y",
    )  # fmt: skip
    assert out_of_sight(tmp_path) == 1  # family A alone
