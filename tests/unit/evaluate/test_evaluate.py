"""Scoring a run against truth."""

from __future__ import annotations

import polars as pl
import pytest

from tfident.evaluate import evaluate_run, score_cross_source_pairs, score_pairs


def _records(rows: list[tuple[str, str, str | None, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["source", "record_id", "pred", "true"], orient="row")


def test_it_counts_pairs_from_a_contingency_table() -> None:
    """It scores pairs without enumerating them: one wrong merge of two true persons."""
    records = _records(
        [
            ("a", "1", "p1", "t1"),
            ("b", "1", "p1", "t1"),
            ("c", "1", "p1", "t2"),  # wrongly merged into p1
            ("a", "2", "p2", "t2"),
        ]
    )
    score = score_pairs(records, "pred", "true")
    # predicted pairs: C(3,2)=3 in p1; true pairs: t1 has 1, t2 has 1; tp: 1 (a1,b1)
    assert (score.true_positive, score.predicted, score.actual) == (1, 3, 2)
    assert score.precision == pytest.approx(1 / 3)
    assert score.recall == pytest.approx(1 / 2)
    assert score.f1 == pytest.approx(0.4)


def test_it_scores_only_cross_source_pairs_when_asked() -> None:
    """It leaves out pairs of records from the same source."""
    records = _records(
        [
            ("a", "1", "p1", "t1"),
            ("a", "2", "p1", "t1"),
            ("b", "1", "p1", "t1"),
        ]
    )
    score = score_cross_source_pairs(records, "pred", "true")
    assert (score.true_positive, score.predicted, score.actual) == (2, 2, 2)


def test_it_treats_an_empty_grouping_as_perfect_precision() -> None:
    """It reports precision 1 when nothing was predicted, and recall 0 when links were missed."""
    records = _records([("a", "1", "p1", "t1"), ("b", "1", "p2", "t1")])
    score = score_pairs(records, "pred", "true")
    assert score.precision == 1.0
    assert score.recall == 0.0


def test_it_scores_candidate_families_by_majority_true_household() -> None:
    """It credits a candidate with the true household most of its records belong to."""
    truth_persons = pl.DataFrame(
        {
            "source": ["a", "b", "c", "a", "b"],
            "record_id": ["1", "1", "1", "2", "2"],
            "true_person_id": ["t1", "t1", "t2", "t3", "t4"],
            "true_household_id": ["h1", "h1", "h1", "h2", "h3"],
        }
    )
    truth_households = pl.DataFrame({"true_household_id": ["h1", "h2", "h3"], "eligible_phase1": ["Y", "N", "Y"]})
    persons_index = pl.DataFrame(
        {
            "source": ["a", "b", "c", "a", "b"],
            "record_id": ["1", "1", "1", "2", "2"],
            "person_id": ["P1", "P1", "P2", "P3", "P4"],
            "household_id": ["H1", "H1", "H1", "H2", None],
        }
    )
    result = evaluate_run(persons_index, pl.Series(["H1", "H2"]), truth_persons, truth_households)
    assert result.families.candidates == 2
    assert result.families.candidates_eligible == 1  # H1 stands for h1; H2 for h2 (not eligible)
    assert result.families.eligible == 2
    assert result.families.eligible_found == 1
    assert result.persons.f1 == 1.0


def test_claims_are_scored_by_the_true_family_their_members_stand_for() -> None:
    """A claim stands for the true household most of its members' records belong to: one valid claim, one
    claim for a family whose outcomes the truth says were not met, one claimable family never claimed.
    """
    from tfident.evaluate import score_claims

    truth_persons = pl.DataFrame(
        [
            ("a", "1", "T1"),
            ("b", "1", "T1"),
            ("a", "2", "T2"),
            ("a", "3", "T3"),
            ("a", "4", "T3"),
        ],
        schema=["source", "record_id", "true_household_id"],
        orient="row",
    )
    index = pl.DataFrame(
        [("a", "1", "p1"), ("b", "1", "p1"), ("a", "2", "p2"), ("a", "3", "p3"), ("a", "4", "p4")],
        schema=["source", "record_id", "person_id"],
        orient="row",
    )
    schema = {"key": pl.Int64, "person_id": pl.String}
    claimed = pl.DataFrame([(1, "p1"), (1, "p2"), (2, "p3")], schema=schema, orient="row")  # claim 1: T1 (2 of 3)
    attached = pl.DataFrame([(10, "p1"), (11, "p3"), (12, "p4")], schema=schema, orient="row")
    truth = pl.DataFrame(
        {"true_household_id": ["T1", "T2", "T3"], "claimable": ["Y", "Y", "N"]},
    )
    score = score_claims(claimed, attached, index, truth_persons, truth)
    assert (score.claims, score.claims_valid, score.claimable, score.claimable_claimed) == (2, 1, 2, 1)
    assert (score.attached_truth, score.attached_found, score.claimable_attached) == (3, 2, 1)
    assert score.recall_attached == pytest.approx(1.0)
    assert score.precision == pytest.approx(0.5)
    assert score.recall == pytest.approx(0.5)
