"""End to end on a small synthetic batch: standardise -> match -> link -> households vs truth."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from tests.synthetic_records import typed_extracts
from tfident.evaluate import score_pairs
from tfident.households import assign_households
from tfident.link import link_persons, load_linkage_config
from tfident.standardise import match_addresses, standardise_persons
from tfident.synth import generate_batch

D = date(2026, 10, 31)


@pytest.fixture(scope="module")
def run() -> dict[str, pl.DataFrame]:
    batch = generate_batch(300, 3, D)
    extracts = typed_extracts(batch.extracts)
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
    assert matched is not None
    assert matched > 0.9


def test_person_links(run: dict[str, pl.DataFrame]) -> None:
    score = score_pairs(run["scored"], "person_id", "true_person_id")
    assert score.precision >= 0.98
    assert score.recall >= 0.95


def test_households(run: dict[str, pl.DataFrame]) -> None:
    score = score_pairs(run["scored"], "household_id", "true_household_id")
    assert score.precision >= 0.97
    assert score.recall >= 0.95
