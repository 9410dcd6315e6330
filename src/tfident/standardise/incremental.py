"""Incremental standardisation: reuse the previous run's standardised rows of unchanged records.

A record's standardised columns (its names, address text, postcodes and its address match:
UPRN, reason and weight) are a function of its forename, surname, address, postcode and the
agency's UPRN (:data:`STANDARDISED_FROM`), the gazetteer and the address configuration, never of
the other records of the batch: names and addresses are standardised value by value, and an
address is matched against the gazetteer alone (the deterministic stages and ``fuzzy``). So a
record whose five are exactly those of a record of the previous published run, under the same
gazetteer, address configuration and code (:func:`standardise_fingerprint`), takes that
record's standardised columns (its other raw columns, the evidence date among them, are its
own); only the rest are standardised and matched. ``uk_address_matcher`` (off by default) scores a batch of
addresses with one model run: with it among the residual stages nothing is reused.

The cache is the previous run's standardised frame itself (it holds personal data: it is kept
like the link cache, ``tfident.checkpoints.save_run_cache``), with the gazetteer as
:func:`~tfident.standardise.addresses.gazetteer_parts` parsed it: a month whose gazetteer, address
configuration and code are those of the cache (the same fingerprint) matches its new and changed
records' addresses against those parts instead of parsing the whole gazetteer again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from tfident import __version__
from tfident.ingest.sources import PERSON_SOURCES
from tfident.standardise import RECORDS_SCHEMA
from tfident.standardise.addresses import AddressConfig, gazetteer_parts, match_addresses
from tfident.standardise.persons import RAW_COLUMNS, _source_frame, add_standard_columns, standardise_persons

log = logging.getLogger(__name__)

STANDARDISED_FROM: tuple[str, ...] = ("forename", "surname", "address", "postcode", "uprn")
"""The raw columns a record's standardised columns and address match are made from (names value by
value, the address text, postcode and the agency's UPRN against the gazetteer): the other raw columns
(ids, dates, identifiers, the evidence date) are carried as they are."""

DERIVED_COLUMNS: tuple[str, ...] = tuple(c for c in RECORDS_SCHEMA if c not in RAW_COLUMNS)
CACHED_COLUMNS: tuple[str, ...] = (*STANDARDISED_FROM, *DERIVED_COLUMNS)
"""The columns the cache keeps."""

REUSABLE_STAGES = frozenset({"fuzzy"})
"""Residual address stages that match each address on its own (a record's match does not depend on the batch)."""


@dataclass(frozen=True)
class StandardiseCache:
    """The previous published run's standardised records and the fingerprint they were made under."""

    fingerprint: str
    records: pl.DataFrame
    """:data:`STANDARDISED_FROM` and the columns made from them, one row per distinct five (:meth:`of`)."""
    gazetteer: pl.DataFrame | None = None
    """:func:`gazetteer_parts` of the gazetteer the fingerprint was made from (None in an older run's cache)."""

    @staticmethod
    def of(fingerprint: str, standardised: pl.DataFrame, gazetteer: pl.DataFrame | None = None) -> StandardiseCache:
        """The cache of a standardise stage's frame: only what is reused, once per distinct five
        (smaller on disk and in memory than the frame), and the parsed gazetteer, when given.
        """
        return StandardiseCache(
            fingerprint,
            standardised.select(CACHED_COLUMNS).unique(list(STANDARDISED_FROM), keep="first", maintain_order=True),
            gazetteer,
        )

    def frames(self) -> dict[str, pl.DataFrame]:
        """The frames kept in the run cache (``tfident.checkpoints.save_run_cache``)."""
        frames = {"standardised": self.records, "standardise_key": pl.DataFrame({"fingerprint": [self.fingerprint]})}
        if self.gazetteer is not None:
            frames[GAZETTEER_FRAME] = self.gazetteer
        return frames

    @staticmethod
    def from_frames(frames: dict[str, pl.DataFrame]) -> StandardiseCache | None:
        """The cache from the run cache's frames; None when they hold none (an older run's cache)."""
        records, key = frames.get("standardised"), frames.get("standardise_key")
        if records is None or key is None or key.height != 1:
            return None
        return StandardiseCache(str(key["fingerprint"][0]), records, frames.get(GAZETTEER_FRAME))

    def parts_for(self, gazetteer: pl.DataFrame, fingerprint: str) -> pl.DataFrame | None:
        """The cached :func:`gazetteer_parts` when they are those of ``gazetteer`` (whose
        :func:`standardise_fingerprint` is ``fingerprint``): the same fingerprint and the parts'
        columns and types; else None (the gazetteer is parsed).
        """
        if self.gazetteer is None or fingerprint != self.fingerprint:
            return None
        if self.gazetteer.schema != gazetteer_parts(gazetteer.clear()).schema:
            return None
        return self.gazetteer


GAZETTEER_FRAME = "standardise_gazetteer"
"""The run cache's frame holding the parsed gazetteer (:attr:`StandardiseCache.gazetteer`)."""


def next_cache(
    gazetteer: pl.DataFrame,
    addresses: AddressConfig | None,
    standardised: pl.DataFrame,
    previous: StandardiseCache | None = None,
) -> StandardiseCache:
    """What the next run's standardisation reuses from this run's ``standardised`` frame: its rows
    and the parsed gazetteer, taken from ``previous`` (this run's own cache) when it was kept under
    the same fingerprint, else parsed here.
    """
    fingerprint = standardise_fingerprint(gazetteer, addresses)
    parts = previous.parts_for(gazetteer, fingerprint) if previous is not None else None
    return StandardiseCache.of(fingerprint, standardised, gazetteer_parts(gazetteer) if parts is None else parts)


def standardise_fingerprint(gazetteer: pl.DataFrame, addresses: AddressConfig | None) -> str:
    """What a standardised row depends on besides the record: the gazetteer's rows, the address
    configuration, the code (tfident's and polars' versions, and the standardisation modules'
    own source, so a changed rule is never answered from an older run's rows).
    """
    digest = hashlib.sha256()
    digest.update(f"tfident {__version__}; polars {pl.__version__}\n".encode())
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.name.encode())
        digest.update(hashlib.sha256(module.read_bytes()).digest())
    digest.update((addresses or AddressConfig()).model_dump_json().encode())
    digest.update(",".join(f"{k}:{v}" for k, v in gazetteer.schema.items()).encode())
    for seed in (1, 2):
        digest.update(gazetteer.hash_rows(seed).to_numpy().tobytes())
    return digest.hexdigest()


def _raw_persons(extracts: dict[str, pl.DataFrame], as_of: date) -> pl.DataFrame | None:
    frames = [_source_frame(s, extracts[s], as_of) for s in PERSON_SOURCES if s in extracts]
    return pl.concat(frames, how="vertical") if frames else None


def standardise_records(
    extracts: dict[str, pl.DataFrame],
    as_of: date,
    addresses: AddressConfig | None = None,
    previous: StandardiseCache | None = None,
) -> tuple[pl.DataFrame, int]:
    """``(records, reused)``: every person record standardised and its address matched
    (``standardise_persons`` then ``match_addresses``), with the rows of records unchanged since
    ``previous`` taken from it; ``reused`` counts them. The frame is the same either way.
    """
    gazetteer = extracts["gazetteer"]
    config = addresses or AddressConfig()
    if previous is None:
        return match_addresses(standardise_persons(extracts, as_of), gazetteer, addresses), 0
    fingerprint = standardise_fingerprint(gazetteer, addresses)
    parts = previous.parts_for(gazetteer, fingerprint)
    raw = _raw_persons(extracts, as_of)
    usable = (
        raw is not None
        and set(config.residual_stages) <= REUSABLE_STAGES
        and previous.fingerprint == fingerprint
        and previous.records.schema == pl.Schema({c: RECORDS_SCHEMA[c] for c in CACHED_COLUMNS})
    )
    if not usable or raw is None:
        return match_addresses(standardise_persons(extracts, as_of), gazetteer, addresses, parts), 0
    # already once per distinct five (:meth:`StandardiseCache.of`): the fingerprint matched, so the cache was
    # written by this very code (it covers this module's source), and its file by its SHA-256
    known = previous.records.with_columns(pl.lit(True).alias("_hit"))
    joined = raw.with_row_index("_row").join(
        known, on=list(STANDARDISED_FROM), how="left", nulls_equal=True, maintain_order="left"
    )
    hit = joined["_hit"].fill_null(False)
    columns = list(RECORDS_SCHEMA)
    reused = joined.filter(hit).select("_row", *columns)
    todo = joined.filter(~hit).select("_row", *RAW_COLUMNS)
    fresh = match_addresses(add_standard_columns(todo.drop("_row")), gazetteer, addresses, parts)
    fresh = fresh.select(todo["_row"], *columns)
    records = pl.concat([reused, fresh.cast(reused.schema)]).sort("_row").drop("_row")
    log.info(
        "incremental standardisation: %d of %d records reused; the gazetteer %s",
        reused.height,
        raw.height,
        "parsed" if parts is None else "as last run parsed it",
    )
    return records, reused.height
