"""Incremental standardisation (``tfident.standardise.incremental``): unchanged records keep last month's
standardised rows, new and changed ones are standardised, and the frame is the one a full run makes.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tfident.ingest.sources import PERSON_SOURCES
from tfident.standardise import match_addresses, standardise_persons
from tfident.standardise.addresses import AddressConfig
from tfident.standardise.incremental import StandardiseCache, standardise_fingerprint, standardise_records
from tfident.synth import generate_months

FIRST = date(2026, 1, 31)


@pytest.fixture(scope="module")
def months() -> list[tuple[dict[str, pl.DataFrame], date]]:
    """The extracts and month end of two months of a 150-household council (churn and corrections)."""
    return [(b.extracts, b.as_of) for b in generate_months(150, 13, FIRST, 2, churn=0.2, corrections=0.5)]


def _full(extracts: dict[str, pl.DataFrame], as_of: date) -> pl.DataFrame:
    return match_addresses(standardise_persons(extracts, as_of), extracts["gazetteer"])


def _cache(extracts: dict[str, pl.DataFrame], as_of: date) -> StandardiseCache:
    return StandardiseCache.of(standardise_fingerprint(extracts["gazetteer"], None), _full(extracts, as_of))


def test_a_month_standardised_with_last_months_rows_is_the_full_result(
    months: list[tuple[dict[str, pl.DataFrame], date]],
) -> None:
    cache = _cache(*months[0])
    extracts, as_of = months[1]
    full = _full(extracts, as_of)
    got, reused = standardise_records(extracts, as_of, None, cache)
    assert_frame_equal(got, full)
    assert 0 < reused < full.height
    assert cache.records.height < full.height  # one row per distinct names, address, postcode and UPRN
    again, _ = standardise_records(extracts, as_of, None, StandardiseCache.of(cache.fingerprint, full))
    assert_frame_equal(again, full)


def test_a_changed_record_is_standardised_again(months: list[tuple[dict[str, pl.DataFrame], date]]) -> None:
    """A record corrected since last month (new forename, new address) gets its new standardised row."""
    extracts, as_of = months[0]
    cache = _cache(extracts, as_of)
    source = next(s for s in PERSON_SOURCES if s in extracts and extracts[s].height)
    frame = extracts[source]
    changed = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("Zebedee")).otherwise(pl.col("forename")).alias("forename"),
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("1 Nowhere Street"))
        .otherwise(pl.col("address_line_1"))
        .alias("address_line_1"),
    )
    corrected = {**extracts, source: changed}
    full = _full(corrected, as_of)
    got, reused = standardise_records(corrected, as_of, None, cache)
    assert_frame_equal(got, full)
    assert reused == full.height - 1  # every record but the corrected one
    key = f"{source}:{frame['record_id'][0]}"
    row = got.filter(pl.col("record_key") == key).row(0, named=True)
    assert row["forename_std"] == "ZEBEDEE"
    before = cache.records.filter(pl.col("forename") == frame["forename"][0])["forename_std"]
    assert before.len() > 0
    assert row["forename_std"] not in before.to_list()
    assert row["address_std"].startswith("1 NOWHERE STREET")


def test_nothing_is_reused_under_another_gazetteer_or_address_config(
    months: list[tuple[dict[str, pl.DataFrame], date]],
) -> None:
    extracts, as_of = months[0]
    cache = _cache(extracts, as_of)
    smaller = {**extracts, "gazetteer": extracts["gazetteer"].slice(1)}
    got, reused = standardise_records(smaller, as_of, None, cache)
    assert reused == 0
    assert_frame_equal(got, _full(smaller, as_of))
    strict = AddressConfig.model_validate({"fuzzy": {"min_street_similarity": 0.99}})
    assert standardise_fingerprint(extracts["gazetteer"], strict) != cache.fingerprint
    _, reused = standardise_records(extracts, as_of, strict, cache)
    assert reused == 0
