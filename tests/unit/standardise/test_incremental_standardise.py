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
from tfident.standardise.addresses import AddressConfig, gazetteer_parts
from tfident.standardise.incremental import (
    GAZETTEER_FRAME,
    StandardiseCache,
    next_cache,
    standardise_fingerprint,
    standardise_records,
)
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


def _poisoned_cache(extracts: dict[str, pl.DataFrame], as_of: date) -> StandardiseCache:
    """Month ``as_of``'s cache with its parsed gazetteer's UPRNs all one out: a run that matches against
    these parts gives other UPRNs than a full run, so every use of them shows.
    """
    cache = _cache(extracts, as_of)
    parts = gazetteer_parts(extracts["gazetteer"]).with_columns(pl.col("uprn") + 1)
    return StandardiseCache(cache.fingerprint, cache.records, parts)


def _changed_gazetteer(gazetteer: pl.DataFrame, column: str, value: object) -> pl.DataFrame:
    first = pl.int_range(pl.len()) == 0
    return gazetteer.with_columns(pl.when(first).then(pl.lit(value)).otherwise(pl.col(column)).alias(column))


GAZETTEER_CHANGES = {
    "an address line": lambda g: _changed_gazetteer(g, "address_line_1", "1 Elsewhere Road"),
    "a postcode": lambda g: _changed_gazetteer(g, "postcode", "ZZ1 1ZZ"),
    "a uprn": lambda g: _changed_gazetteer(g, "uprn", 999999999999),
    "a row gone": lambda g: g.slice(1),
    "a row more": lambda g: pl.concat([g, g.head(1)]),
    "the rows' order": lambda g: g.reverse(),
}


def test_the_parsed_gazetteer_is_reused_when_unchanged(months: list[tuple[dict[str, pl.DataFrame], date]]) -> None:
    """Under the same fingerprint the cache's parts are matched against (the poisoned parts show), and
    with the true parts the month is the full result; the next run's cache takes the same parts.
    """
    extracts, as_of = months[1]
    cache = _poisoned_cache(*months[0])
    full = _full(extracts, as_of)
    got, reused = standardise_records(extracts, as_of, None, cache)
    assert 0 < reused < full.height
    assert not got.equals(full)  # the parts were used
    assert cache.gazetteer is not None
    true = StandardiseCache(cache.fingerprint, cache.records, gazetteer_parts(months[0][0]["gazetteer"]))
    assert_frame_equal(standardise_records(extracts, as_of, None, true)[0], full)
    kept = next_cache(extracts["gazetteer"], None, full, true)
    assert kept.gazetteer is true.gazetteer
    assert kept.frames()[GAZETTEER_FRAME] is true.gazetteer
    restored = StandardiseCache.from_frames(kept.frames())
    assert restored is not None
    assert restored.gazetteer is true.gazetteer


@pytest.mark.parametrize("change", list(GAZETTEER_CHANGES), ids=list(GAZETTEER_CHANGES))
def test_a_changed_gazetteer_is_parsed_again(months: list[tuple[dict[str, pl.DataFrame], date]], change: str) -> None:
    """Any change to the gazetteer's rows makes the cached parts stale: they are not used (the result is the
    full one, although they are poisoned), and the next run's cache holds the new gazetteer's parts.
    """
    extracts, as_of = months[1]
    changed = {**extracts, "gazetteer": GAZETTEER_CHANGES[change](extracts["gazetteer"])}
    cache = _poisoned_cache(*months[0])
    got, _ = standardise_records(changed, as_of, None, cache)
    assert_frame_equal(got, _full(changed, as_of))
    kept = next_cache(changed["gazetteer"], None, got, cache)
    assert kept.gazetteer is not None
    assert_frame_equal(kept.gazetteer, gazetteer_parts(changed["gazetteer"]))


@pytest.mark.parametrize(
    "why",
    ["address config", "code (another fingerprint)", "an older cache (no parts)", "parts of other columns"],
)
def test_stale_parts_are_not_used(months: list[tuple[dict[str, pl.DataFrame], date]], why: str) -> None:
    """Parts kept under another address configuration or code, none at all, or of other columns: the gazetteer
    is parsed (the poisoned parts are not used).
    """
    extracts, as_of = months[1]
    cache = _poisoned_cache(*months[0])
    assert cache.gazetteer is not None
    addresses = None
    if why == "address config":
        addresses = AddressConfig.model_validate({"fuzzy": {"min_street_similarity": 0.99}})
    elif why.startswith("code"):
        cache = StandardiseCache("0" * 64, cache.records, cache.gazetteer)
    elif why.startswith("an older"):
        cache = StandardiseCache(cache.fingerprint, cache.records)
    else:
        cache = StandardiseCache(cache.fingerprint, cache.records, cache.gazetteer.drop("place"))
    got, _ = standardise_records(extracts, as_of, addresses, cache)
    full = match_addresses(standardise_persons(extracts, as_of), extracts["gazetteer"], addresses)
    assert_frame_equal(got, full)
    kept = next_cache(extracts["gazetteer"], addresses, full, cache)
    assert kept.gazetteer is not None
    assert_frame_equal(kept.gazetteer, gazetteer_parts(extracts["gazetteer"]))
