"""The engine against the synthetic oracle (``tfident.synth.truth``) on error-free linkage.

The record index and the people come from the truth (every record placed in its person's
true household, every person with the true date of birth), so any disagreement is a
rule disagreement, never a linkage one. The oracle marks households outside the
council's area as never eligible; the engine has no notion of area (the households
stage decides who is placed), so eligibility is compared on households in the area and
the criterion flags on all of them.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tfident.criteria import evaluate_criteria, load_pack
from tfident.synth import generate_batch
from tfident.synth.truth import CRITERIA


@pytest.mark.parametrize(
    ("seed", "as_of"),
    [(1, dt.date(2026, 10, 31)), (7, dt.date(2028, 2, 29)), (3, dt.date(2025, 7, 20)), (11, dt.date(2026, 4, 1))],
)
def test_engine_agrees_with_the_oracle(seed: int, as_of: dt.date) -> None:
    batch = generate_batch(300, seed, as_of)
    record_index = batch.truth_persons.select(
        "source",
        "record_id",
        pl.col("true_person_id").alias("person_id"),
        pl.col("true_household_id").alias("household_id"),
    )
    people = batch.people.select(
        pl.col("true_person_id").alias("person_id"),
        pl.col("true_household_id").alias("household_id"),
        "date_of_birth",
    )
    evidence, hc = evaluate_criteria(batch.extracts, record_index, people, load_pack("phase1"), as_of)

    truth = batch.truth_households
    joined = truth.join(hc, left_on="true_household_id", right_on="household_id", how="left", suffix="_engine")
    assert joined.height == truth.height == hc.height
    for criterion in CRITERIA:
        disagree = joined.filter((pl.col(criterion) == "Y") != pl.col(f"{criterion}_engine"))
        assert disagree.height == 0, (criterion, disagree.select("true_household_id").to_series().to_list())
    in_area = joined.filter(pl.col("in_area") == "Y")
    assert in_area.filter((pl.col("eligible_phase1") == "Y") != pl.col("eligible")).height == 0
    assert in_area.filter(pl.col("eligibility") != pl.col("eligibility_engine")).height == 0
    assert (in_area["n_national"] == in_area["n_national_engine"]).all()
    # the batch is not trivial: every criterion and both kinds of eligibility occur
    assert all((truth[c] == "Y").any() for c in CRITERIA)
    assert (truth["eligible_phase1"] == "Y").any()
    # every evidence row is a real record of the extracts
    keys = pl.concat(
        [
            frame.select(pl.lit(name).alias("source"), pl.col("record_id").cast(pl.String))
            for name, frame in batch.extracts.items()
            if name != "gazetteer"
        ]
    )
    assert evidence.join(keys, on=["source", "record_id"], how="anti").height == 0
