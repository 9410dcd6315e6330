"""Splink 4 on DuckDB configured as Splink's own documentation does for person data,
given the same fields tfident links on (``meta["fields"]``).

Following Splink's examples ("Deduplicating 50,000 records of realistic data", the
FEBRL4 link example) and the comparison library's documented comparisons:

- Comparisons: ``NameComparison`` on forename and on surname (exact, Jaro-Winkler 0.92,
  0.88, 0.7, else) with term-frequency adjustments; ``DateOfBirthComparison`` (exact,
  one character edit, within a month, a year, ten years, else); the postcode by
  ``PostcodeComparison`` for UK postcodes (full, sector, district, area) or an exact
  match with term frequencies elsewhere (FEBRL's and pseudopeople's); ``ExactMatch`` on
  sex and on the address's matched UPRN (synthetic batches; tfident's address
  evidence); each identifier (UPN, NINO, NHS number, PNC id; FEBRL's ``soc_sec_id``;
  pseudopeople's SSN) by ``DamerauLevenshteinAtThresholds(.., [1])`` (exact, one edit,
  else).
- Blocking for prediction, on several keys: (forename, surname), (surname, dob),
  (forename, dob), each identifier, (postcode, forename) where the postcode tells
  places apart, (UPRN, forename initial) where there is one.
- Training: the prior from (forename, surname, dob) and each identifier as deterministic
  rules at recall 0.7; u by random sampling (5 million pairs, seed 1); m by EM blocked on
  (forename, surname), then dob (the documentation's two passes). Timed apart from
  prediction.
- Prediction at match probability 0.5; clustering (connected components) at 0.95.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import polars as pl
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.backends.duckdb import DuckDBAPI

from benchmarks.peers.splink_common import comparisons_scored, predict_and_cluster

PREDICT_THRESHOLD = 0.5
CLUSTER_THRESHOLD = 0.95
U_MAX_PAIRS = 5e6
RECALL = 0.7


def fields(meta: dict[str, Any]) -> dict[str, Any]:
    """What the dataset gives tfident, which the peer gets too: ``sex`` (bool), ``postcode``
    (``"uk"``, ``"exact"`` or ``None``), ``block_postcode`` (bool), ``uprn`` (bool),
    ``identifiers`` (column names).
    """
    default = {"sex": False, "postcode": "exact", "block_postcode": True, "uprn": False, "identifiers": []}
    return {**default, **meta.get("fields", {})}


def columns(meta: dict[str, Any]) -> list[str]:
    f = fields(meta)
    out = ["unique_id", "source_dataset", "forename", "surname", "dob"]
    if f["postcode"]:
        out.append("postcode")
    if f["sex"]:
        out.append("sex")
    if f["uprn"]:
        out.append("uprn")
    return out + list(f["identifiers"])


def comparisons(meta: dict[str, Any]) -> list[Any]:
    f = fields(meta)
    out: list[Any] = [
        cl.NameComparison("forename").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("dob", input_is_string=True),
    ]
    if f["postcode"] == "uk":
        out.append(cl.PostcodeComparison("postcode"))
    elif f["postcode"]:
        out.append(cl.ExactMatch("postcode").configure(term_frequency_adjustments=True))
    if f["sex"]:
        out.append(cl.ExactMatch("sex"))
    if f["uprn"]:
        out.append(cl.ExactMatch("uprn"))
    out += [cl.DamerauLevenshteinAtThresholds(name, [1]) for name in f["identifiers"]]
    return out


def blocking_rules(meta: dict[str, Any]) -> list[Any]:
    f = fields(meta)
    rules = [block_on("forename", "surname"), block_on("surname", "dob"), block_on("forename", "dob")]
    rules += [block_on(name) for name in f["identifiers"]]
    if f["postcode"] and f["block_postcode"]:
        rules.append(block_on("postcode", "forename"))
    if f["uprn"]:
        rules.append(block_on("uprn", "substr(forename, 1, 1)"))
    return rules


def settings(meta: dict[str, Any]) -> SettingsCreator:
    return SettingsCreator(
        link_type=meta["link_type"],
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=blocking_rules(meta),
        comparisons=comparisons(meta),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _tables(frame: pl.DataFrame, meta: dict[str, Any]) -> list[Any]:
    cols = columns(meta)
    if meta["link_type"] == "dedupe_only":
        return [frame.select(cols).to_pandas()]
    sources = sorted(frame["source_dataset"].unique())
    return [frame.filter(pl.col("source_dataset") == s).select(cols).to_pandas() for s in sources]


def prepare(work: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Load the peers' input as pandas frames (not timed)."""
    return {"tables": _tables(pl.read_parquet(work / "peers.parquet"), meta)}


def link(state: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Train, then predict and cluster (timed, the two apart)."""
    for name in ("splink", "duckdb"):
        logging.getLogger(name).setLevel(logging.ERROR)
    started = time.perf_counter()
    linker = Linker(state["tables"], settings(meta), db_api=DuckDBAPI(), set_up_basic_logging=False)
    deterministic = [block_on("forename", "surname", "dob")] + [block_on(n) for n in fields(meta)["identifiers"]]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("forename", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    trained = time.perf_counter()
    return predict_and_cluster(linker, started, trained, PREDICT_THRESHOLD, CLUSTER_THRESHOLD)


def pairs_compared(state: dict[str, Any], meta: dict[str, Any], out: dict[str, Any]) -> int:
    """Comparisons the prediction blocking rules generate (Splink's own count, duplicates across rules removed)."""
    return comparisons_scored(state["tables"], blocking_rules(meta), meta["link_type"])
