"""tfident's own linker, exactly as a monthly run calls it.

Synthetic batches: the timer covers ``standardise_persons`` + ``match_addresses``
(against the batch's gazetteer, with ``config/addresses.yaml`` where that exists) +
``link_persons(persons, load_linkage_config(), extracts=extracts)`` with the
committed, frozen model: the ``standardise`` and ``link`` stages of ``tfident.pipeline``.

FEBRL: the same code on Australian data that the committed model was not trained for.
The two files of FEBRL4 (or the one file of FEBRL3) go in as person sources of a batch
(``given_name`` -> forename, ``surname``, ``date_of_birth`` parsed from YYYYMMDD,
street number + ``address_1`` -> address line 1, ``address_2`` -> line 2, ``suburb`` ->
town, ``postcode``) through the same ``standardise_persons``; then, inside the timer, a
model is **trained on the FEBRL data itself without labels** (``tfident.link.training
.train_model``: the prior from name + date of birth, u by random sampling, m by EM) and
``link_persons`` predicts and clusters with it. What differs from a UK run, all of it
configuration (:func:`febrl_config`), none of it code:

- no gazetteer, so ``uprn_matched`` is empty and the address comparison falls back to
  the postcode (the Australian 4-digit postcode kept as it is in ``postcode_std``;
  tfident's UK validation would drop every one);
- ``soc_sec_id`` goes into the ``pnc_id`` identifier slot, compared exactly with m and
  u estimated like any identifier, but *not* a conflicting-identifier guard: FEBRL
  corrupts it in some duplicates. Measured (2026-11-23, threshold 0.5): with it FEBRL4
  F1 0.993, without it 0.975;
- EM blocks on date of birth, postcode, full name with date of birth, and the
  identifier (the UK model avoids date-of-birth and address blocks because of
  households; FEBRL has none);
- extra prediction blocking rules for FEBRL's heavier corruption (postcode, surname,
  forename, year and month of birth, forename and surname swapped);
- the date-of-birth and forename guards are off: they encode UK household structure
  (twins, a father and his namesake son), which FEBRL does not have, and FEBRL replaces
  whole forenames and dates of birth in duplicates (measured with them on: FEBRL4 F1
  0.884);
- the match threshold is 0.5 (the plain Splink peer's), since FEBRL has no clerical
  review band; at tfident's default 0.95 FEBRL4 F1 is 0.989.

pseudopeople (:mod:`benchmarks.pseudopeople_data`): tfident as shipped, as a council
would run it on its own data: the default ``config/linkage.yaml`` unchanged (its blocking
rules, guards, threshold 0.95), with a model trained on the data itself without labels
(``train_model`` with the default EM blocks, as ``tfident train`` does), timed as
training. No gazetteer, so no UPRN: the address comparison falls back to the zip in
``postcode_std``. The SSN goes into the ``nino`` slot after standardising (it cannot pass
NINO validation), so it is compared by the model and guarded as a conflicting
identifier, as a NINO is.

On pseudopeople the linker also returns, outside the timer, the households tfident's
households stage forms from its persons (:func:`households`), so that the benchmark can
score household F1 against pseudopeople's own household ids.

Training is timed apart from prediction (``train_seconds``; ``predict_seconds`` is the
rest: standardising, address matching, scoring and clustering). Pairs compared are the
profile pairs the blocking rules give Splink to score (counted over tfident's profiles,
with the rules capped as ``link_persons`` caps them), not the pairs scored at or above the uncertain threshold that
``link_persons`` logs.

FEBRL4 is two files linked (each entity at most once per file); clustering does not
enforce one-to-one: measured precision on cross-file pairs is 1.000 without it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import polars as pl

import tfident.standardise as std
from tfident.link import link_persons, load_linkage_config


class _Capture(logging.Handler):
    """Keeps the messages ``tfident.link`` logs while linking (it reports its pair counts there)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def prepare(work: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Load the extracts and the configuration (not timed)."""
    extracts = {p.stem: pl.read_parquet(p) for p in sorted((work / "extracts").glob("*.parquet"))}
    addresses = std.load_address_config() if hasattr(std, "load_address_config") else None
    identifiers = work / "identifiers.parquet"
    config = load_linkage_config()
    return {
        "extracts": extracts,
        "config": febrl_config(config) if meta["kind"] == "febrl" else config,
        "trained": False,
        "addresses": addresses,
        "as_of": dt.date.fromisoformat(meta["as_of"]),
        "identifiers": pl.read_parquet(identifiers) if identifiers.exists() else None,
    }


FEBRL_THRESHOLD = 0.5
FEBRL_EM_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("date_of_birth",),
    ("postcode_std",),
    ("forename_first", "surname_std", "date_of_birth"),
    ("pnc_id",),
)
FEBRL_BLOCKING: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("postcode", ("postcode_std",)),
    ("surname", ("surname_std",)),
    ("forename", ("forename_first",)),
    ("year_month", ("dob_year", "dob_month")),
    ("swapped_lr", ("forename_first=surname_std",)),
    ("swapped_rl", ("surname_std=forename_first",)),
)


def febrl_config(config: Any) -> Any:
    """The linkage configuration for FEBRL (see the module docstring); the model is trained later."""
    from tfident.link import BlockingRule, Guards

    extra = tuple(BlockingRule(name=name, block_on=keys) for name, keys in FEBRL_BLOCKING)
    return config.model_copy(
        update={
            "blocking_rules": (*config.blocking_rules, *extra),
            "guards": Guards(conflicting_identifiers=(), dob=False, forename=False),
            "thresholds": config.thresholds.model_copy(update={"match": FEBRL_THRESHOLD, "uncertain": FEBRL_THRESHOLD}),
        }
    )


def _train(state: dict[str, Any], persons: pl.DataFrame, kind: str) -> Any:
    """FEBRL and pseudopeople: a model trained on the data itself, without labels (timed as training)."""
    from tfident.link.training import train_model

    config = state["config"]
    if kind == "febrl":
        model = train_model(persons, config, {"data": "FEBRL (unlabelled)"}, em_blocks=FEBRL_EM_BLOCKS)
    else:
        model = train_model(persons, config, {"data": f"{kind} (unlabelled)"})
    return config.model_copy(update={"model_data": model, "model_version": model["version"]})


def _standardise(state: dict[str, Any], meta: dict[str, Any]) -> pl.DataFrame:
    extracts = state["extracts"]
    persons = std.standardise_persons(extracts, state["as_of"])
    if meta["kind"] == "synthetic":
        if state["addresses"] is not None:
            return std.match_addresses(persons, extracts["gazetteer"], state["addresses"])
        return std.match_addresses(persons, extracts["gazetteer"])
    persons = persons.with_columns(
        pl.col("postcode").str.strip_chars().alias("postcode_std"),
        pl.lit(None, dtype=pl.String).alias("postcode_outward"),
        pl.lit(None, dtype=pl.Int64).alias("uprn_matched"),
        pl.lit("unmatched").alias("address_match"),
    )
    if state.get("identifiers") is not None:
        # FEBRL's soc_sec_id -> pnc_id; pseudopeople's SSN -> nino (see the module docstring)
        frame = state["identifiers"]
        ids = frame.select(
            "record_key", *(pl.col(c).str.strip_chars().alias(c) for c in frame.columns if c != "record_key")
        ).rename({"soc_sec_id": "pnc_id"}, strict=False)
        slots = [c for c in ids.columns if c != "record_key"]
        persons = persons.drop(slots).join(ids, on="record_key", how="left", maintain_order="left")
    return persons


def link(state: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Standardise, match addresses and link (timed); one cluster per tfident person."""
    capture = _Capture()
    logger = logging.getLogger("tfident.link")
    logger.addHandler(capture)
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    import time

    train_seconds = 0.0
    try:
        started = time.perf_counter()
        persons = _standardise(state, meta)
        if meta["kind"] != "synthetic":
            trained = time.perf_counter()
            state["config"] = _train(state, persons, meta["kind"])
            train_seconds = time.perf_counter() - trained
        # the extracts give the records' slots (one attendance row per pupil, school and term), as in
        # the link stage; none on FEBRL and pseudopeople, whose extracts have no slot columns
        person_index, links = link_persons(persons, state["config"], extracts=state["extracts"])
        total = time.perf_counter() - started
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
        logger.propagate = propagate
    state["persons"] = persons
    state["messages"] = capture.messages
    config = state["config"]
    frame = person_index.select("record_key", pl.col("person_id").alias("cluster"))
    extra = {
        "links_stored": links.height,
        "method": str(config.method),
        "config_version": config.version,
        "model_version": config.model_version,
        "threshold": config.thresholds.match,
        "train_seconds": round(train_seconds, 3),
        "predict_seconds": round(total - train_seconds, 3),
    }
    out: dict[str, Any] = {"kind": "clusters", "frame": frame, "extra": extra}
    if meta["kind"] == "pseudopeople":
        out["households_frame"] = households(persons, person_index, state["as_of"])
    return out


def households(persons: pl.DataFrame, person_index: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """``record_key, cluster``: the household tfident's pipeline places each record's person in.

    The households stage as a run calls it (``tfident.households.assign_households``,
    default ``config/households.yaml``), after linkage and outside the timer. With no
    gazetteer every household is one at a normalised address key (the address text
    within its town, the zip being the sample's ``00000``). Records of people placed
    nowhere (no address on any of their records) are left out: scored as singletons.
    """
    from tfident.households import assign_households

    residents, _ = assign_households(persons, person_index, as_of)
    placed = residents.filter(pl.col("household_id").is_not_null()).select("person_id", "household_id")
    return (
        person_index.select("record_key", "person_id")
        .join(placed, on="person_id", how="inner")
        .select("record_key", pl.col("household_id").alias("cluster"))
    )


def pairs_compared(state: dict[str, Any], meta: dict[str, Any], out: dict[str, Any]) -> int:
    """Profile pairs tfident's Splink scores (tfident first collapses records identical in
    every linkage field into profiles, and links a profile's records without a compare):
    the pairs the configuration's blocking rules (capped on these profiles, as
    ``link_persons`` caps them) generate over the profiles, duplicates across rules removed.

    (Until issue 12 this reported the pairs ``link_persons`` logs, which are only those
    scored at or above the uncertain threshold: 23,604 of the 190,348 scored at 100k.)
    """
    import duckdb

    from tfident.link.blocking import blocking_rule_sql
    from tfident.link.profiles import build_profiles, splink_input

    config = state["config"]
    profiles, _ = build_profiles(state["persons"])
    frame = splink_input(profiles)
    rules = blocking_rule_sql(config, frame)
    # counted directly (each pair once, whatever rules give it): Splink's estimator reads
    # no equi-join in a rule with a crowded-key exclusion (an OR) and would count a
    # cartesian product, while DuckDB joins on the rule's equalities and filters
    con = duckdb.connect()
    con.register("p", frame.drop("forename_variant", "surname_tokens").to_arrow())
    union = " UNION ".join(
        f"SELECT l.pid AS a, r.pid AS b FROM p AS l JOIN p AS r ON l.pid < r.pid AND {sql}" for sql in rules
    )
    row = con.execute(f"SELECT count(*) FROM ({union})").fetchone()
    return int(row[0]) if row else 0
