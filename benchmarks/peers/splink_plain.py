"""Splink 4 on DuckDB with the plain configuration a newcomer writes from its tutorial.

Kept as published and labelled "plain": it ignores fields tfident uses (sex, UPN, NINO,
NHS number, the matched address; FEBRL's ``soc_sec_id``; pseudopeople's SSN), and its
blocking caps FEBRL4 recall near 0.82. :mod:`.splink_competent` is the fair peer.

- Input: ``unique_id, forename, surname, dob (YYYY-MM-DD text), postcode, address``
  (``address`` is not compared); FEBRL4 as two tables with ``link_type="link_only"``,
  pseudopeople as one table per dataset with ``"link_and_dedupe"``, FEBRL3 and the
  synthetic batches as one table with ``"dedupe_only"``.
- Blocking for prediction: ``block_on("surname", "dob")``, ``block_on("forename",
  "postcode")``, ``block_on("forename", "dob")``.
- Comparisons: ``NameComparison`` on forename and surname (exact, Jaro-Winkler 0.92,
  0.88, 0.7, else), ``DateOfBirthComparison`` (exact, 1 month, 1 year, 10 years, else),
  ``ExactMatch`` on postcode. No term-frequency adjustments.
- Training: the prior from ``block_on("forename", "surname", "dob")`` at recall 0.7;
  u by random sampling (5 million pairs, seed 1); m by EM over two blocking passes,
  ``block_on("forename", "surname")`` then ``block_on("dob")``.
- Prediction at match probability 0.5; connected-components clustering at 0.5.
- Timed: training (prior, u, m) apart from prediction and clustering.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.backends.duckdb import DuckDBAPI

from benchmarks.peers.splink_common import comparisons_scored, predict_and_cluster

THRESHOLD = 0.5
U_MAX_PAIRS = 5e6
COLUMNS = ["unique_id", "forename", "surname", "dob", "postcode", "address"]


def blocking_rules() -> list[Any]:
    """The prediction blocking rules."""
    return [block_on("surname", "dob"), block_on("forename", "postcode"), block_on("forename", "dob")]


def settings(link_type: str) -> SettingsCreator:
    """The plain settings."""
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=blocking_rules(),
        comparisons=[
            cl.NameComparison("forename"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("postcode"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _tables(frame: pl.DataFrame, link_type: str) -> list[Any]:
    if link_type != "dedupe_only":
        return [
            frame.filter(pl.col("source_dataset") == s).select(COLUMNS).to_pandas()
            for s in sorted(frame["source_dataset"].unique())
        ]
    return [frame.select(COLUMNS).to_pandas()]


def prepare(work: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Load the peers' input as pandas frames (not timed)."""
    return {"tables": _tables(pl.read_parquet(work / "peers.parquet"), meta["link_type"])}


def link(state: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Train, predict and cluster (timed)."""
    for name in ("splink", "duckdb"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import time

    tables = state["tables"]
    started = time.perf_counter()
    linker = Linker(tables, settings(meta["link_type"]), db_api=DuckDBAPI(), set_up_basic_logging=False)
    linker.training.estimate_probability_two_random_records_match([block_on("forename", "surname", "dob")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("forename", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    trained = time.perf_counter()
    return predict_and_cluster(linker, started, trained, THRESHOLD, THRESHOLD)


def pairs_compared(state: dict[str, Any], meta: dict[str, Any], out: dict[str, Any]) -> int:
    """Comparisons the prediction blocking rules generate (Splink's own count, duplicates across rules removed)."""
    return comparisons_scored(state["tables"], blocking_rules(), meta["link_type"])
