"""tfident's own linker, exactly as a monthly run calls it.

Whatever linker the importable ``tfident`` has (the deterministic rules of 2026.1, or a
later probabilistic one): the timer covers ``standardise_persons`` + ``match_addresses``
(synthetic batches, against the batch's gazetteer, with ``config/addresses.yaml`` where
that exists) + ``link_persons(persons, load_linkage_config())``, the ``standardise`` and
``link`` stages of ``tfident.pipeline``. The configuration's ``method`` and ``version``
are reported with the results.

FEBRL: the two files (or the one file of FEBRL3) go in as if they were person sources
of a batch (``given_name`` -> forename, ``surname``, ``date_of_birth`` parsed from
YYYYMMDD, street number + ``address_1`` -> address line 1, ``address_2`` -> line 2,
``suburb`` -> town, ``postcode``) through the same ``standardise_persons`` and
``link_persons``. Two adjustments, both outside tfident's code: the Australian 4-digit
postcode is kept as it is in ``postcode_std`` (tfident's UK validation would drop every
one), and there is no gazetteer, so ``uprn_matched`` is empty and nothing that needs a
matched address can help. ``soc_sec_id`` is not used: no tfident identifier column fits
it, and it is corrupted in the duplicates anyway.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
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
    return {
        "extracts": extracts,
        "config": load_linkage_config(),
        "addresses": addresses,
        "as_of": dt.date.fromisoformat(meta["as_of"]),
    }


def _standardise(state: dict[str, Any], meta: dict[str, Any]) -> pl.DataFrame:
    extracts = state["extracts"]
    persons = std.standardise_persons(extracts, state["as_of"])
    if meta["kind"] == "synthetic":
        if state["addresses"] is not None:
            return std.match_addresses(persons, extracts["gazetteer"], state["addresses"])
        return std.match_addresses(persons, extracts["gazetteer"])
    return persons.with_columns(
        pl.col("postcode").str.strip_chars().alias("postcode_std"),
        pl.lit(None, dtype=pl.String).alias("postcode_outward"),
        pl.lit(None, dtype=pl.Int64).alias("uprn_matched"),
        pl.lit("unmatched").alias("address_match"),
    )


def link(state: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Standardise, match addresses and link (timed); one cluster per tfident person."""
    capture = _Capture()
    logger = logging.getLogger("tfident.link")
    logger.addHandler(capture)
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        persons = _standardise(state, meta)
        person_index, links = link_persons(persons, state["config"])
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
        logger.propagate = propagate
    state["persons"] = persons
    state["messages"] = capture.messages
    config = state["config"]
    frame = person_index.select("record_key", pl.col("person_id").alias("cluster"))
    extra = {"links_stored": links.height, "method": str(config.method), "config_version": config.version}
    return {"kind": "clusters", "frame": frame, "extra": extra}


def pairs_compared(state: dict[str, Any], meta: dict[str, Any], out: dict[str, Any]) -> int:
    """Profile pairs tfident compares (tfident first collapses records identical in every
    linkage field into profiles, and links a profile's records without a compare).

    Deterministic rules: the distinct profile pairs the rules' blocking joins bring
    together, before any check. A scoring model: the scored pairs ``link_persons`` logs.
    """
    config = state["config"]
    if getattr(config, "method", "") == "deterministic" and getattr(config, "rules", ()):
        return _rule_pairs(state["persons"], config)
    for message in state.get("messages", []):
        found = re.search(r"(\d+) (?:scored|candidate) pairs", message)
        if found:
            return int(found.group(1))
    return -1


def _rule_pairs(persons: pl.DataFrame, config: Any) -> int:
    from tfident.link.rules import _LIST_KEYS, _side, build_profiles

    profiles, _ = build_profiles(persons)
    frames = []
    for rule in config.rules:
        left_keys = [k.split("=")[0] for k in rule.block_on]
        right_keys = [k.split("=")[-1] for k in rule.block_on]
        left = _side(profiles, left_keys, [k for k in left_keys if k in _LIST_KEYS])
        right = _side(profiles, right_keys, [k for k in right_keys if k in _LIST_KEYS])
        right = right.rename({"pid": "pid_r", **{k: f"_k{i}" for i, k in enumerate(right_keys)}})
        sizes = left.group_by(left_keys).agg(pl.col("pid").n_unique().alias("_block"))
        left = left.join(sizes, on=left_keys).filter(pl.col("_block") <= rule.max_block).drop("_block")
        pairs = (
            left.join(right, left_on=left_keys, right_on=[f"_k{i}" for i in range(len(right_keys))])
            .filter(pl.col("pid") != pl.col("pid_r"))
            .select(pl.min_horizontal("pid", "pid_r").alias("a"), pl.max_horizontal("pid", "pid_r").alias("b"))
        )
        frames.append(pairs)
    return pl.concat(frames).unique().height if frames else 0
