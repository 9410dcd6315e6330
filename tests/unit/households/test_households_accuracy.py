"""End to end on a small synthetic batch: standardise -> match -> link -> households vs truth."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from tfident.evaluate import score_pairs
from tfident.households import assign_households
from tfident.ingest.identifiers import IDENTIFIER_EXPRS, uprn_expr
from tfident.ingest.schema import SOURCES
from tfident.link import link_persons, load_linkage_config
from tfident.standardise import match_addresses, standardise_persons
from tfident.synth import generate_batch

D = date(2026, 10, 31)


def typed(extracts: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The synthetic extracts as ingest hands them on: identifiers normalised, UPRN Int64, line."""
    out = {}
    for name, frame in extracts.items():
        exprs = [
            uprn_expr(pl.col("uprn")).alias("uprn")
            if c.name == "uprn"
            else IDENTIFIER_EXPRS[c.name](pl.col(c.name)).alias(c.name)
            for c in SOURCES[name].columns
            if c.type == "identifier"
        ]
        out[name] = (
            frame.with_columns(exprs).with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
        )
    return out


@pytest.fixture(scope="module")
def run() -> dict[str, pl.DataFrame]:
    batch = generate_batch(300, 3, D)
    extracts = typed(batch.extracts)
    records = match_addresses(standardise_persons(extracts, D), extracts["gazetteer"])
    index, links = link_persons(records, load_linkage_config())
    residents, households = assign_households(records, index, D)
    scored = batch.truth_persons.join(index, on=["source", "record_id"]).join(
        residents.select("person_id", "household_id"), on="person_id"
    )
    return {"records": records, "scored": scored, "links": links, "households": households}


def test_every_record_is_indexed(run: dict[str, pl.DataFrame]) -> None:
    assert run["scored"].height == run["records"].height


def test_address_matching(run: dict[str, pl.DataFrame]) -> None:
    matched = run["records"]["uprn_matched"].is_not_null().mean()
    assert matched is not None and matched > 0.9


def test_person_links(run: dict[str, pl.DataFrame]) -> None:
    score = score_pairs(run["scored"], "person_id", "true_person_id")
    assert score.precision >= 0.98
    assert score.recall >= 0.95


def test_households(run: dict[str, pl.DataFrame]) -> None:
    score = score_pairs(run["scored"], "household_id", "true_household_id")
    assert score.precision >= 0.97
    assert score.recall >= 0.95
