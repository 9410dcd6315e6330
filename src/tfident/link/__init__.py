"""tfident.link: link person records across sources into persons.

``link_persons`` is four steps, each replaceable:

1. *profiles*: records identical in every linkage field are one profile
   (``profiles.build_profiles``); records named in a reviewer's ruling stay alone;
2. *prediction*: Splink (Fellegi-Sunter) scores the candidate pairs of profiles that the
   blocking rules of ``config/linkage.yaml`` find (``blocking``), with the comparisons
   (``comparisons``) of the frozen model file the configuration names (``model``), on
   DuckDB or Spark (``backends``) (``prediction.predict``);
3. *clustering*: connected components over pairs at or above the match threshold,
   strongest first, with guards (conflicting identifiers, unless the pair is strong
   without them; twins; incompatible dates of birth; two records of one ``slots`` slot) and
   reviewers' ``cannot_link``/``must_link`` rulings (``clustering.cluster_profiles``); then, with
   ``thresholds.second_pass``, pairs of the uncertain band join two persons the guards
   accept whole (``clustering.second_pass``, match_rule ``second_pass``);
4. *links*: the pairs inside one person, and the pairs of the uncertain band (and any
   match the guards held apart) for clerical review, each with its per-field weights
   (``explanation`` shows them; ``training`` makes the model file).

Modules, by noun: ``config`` (``linkage.yaml``), ``model`` (the model file),
``comparisons``, ``blocking``, ``profiles``, ``backends`` (``duckdb``, ``spark``),
``prediction``, ``clustering``, ``slots``, ``explanation``, ``training``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import replace

import polars as pl

from tfident.errors import ConfigError
from tfident.link.clustering import COPIED_COLUMN, mark_copied_dobs, release_caches, second_pass
from tfident.link.components import cluster_by_component, recluster_copied_dobs
from tfident.link.config import BlockingRule, Guards, LinkageConfig, Thresholds, load_linkage_config
from tfident.link.incremental import (
    LinkCache,
    cache_of_clusters,
    dirty_profiles,
    new_cache,
    pair_gammas,
    profile_keys,
    reuse_gammas,
    score_pairs,
)
from tfident.link.model import prior_weight
from tfident.link.prediction import weights_json, without_identifiers
from tfident.link.profiles import build_profiles, tf_tables
from tfident.link.slots import SLOT_COLUMN, SLOTS_SCHEMA, contested_slots, record_slots

__all__ = [
    "CONSTRAINTS_SCHEMA",
    "LINKS_SCHEMA",
    "NOT_SAME_PERSON_RULES",
    "SECOND_PASS_RULE",
    "SLOTS_SCHEMA",
    "BlockingRule",
    "Guards",
    "LinkCache",
    "LinkageConfig",
    "Thresholds",
    "link_persons",
    "link_persons_cached",
    "load_linkage_config",
    "person_id_for",
    "record_slots",
]

log = logging.getLogger(__name__)

PERSON_INDEX_SCHEMA: dict[str, pl.DataType] = {
    "record_key": pl.String(),
    "source": pl.String(),
    "record_id": pl.String(),
    "person_id": pl.String(),
}
LINKS_SCHEMA: dict[str, pl.DataType] = {
    "record_key_l": pl.String(),
    "record_key_r": pl.String(),
    "match_probability": pl.Float64(),
    "match_rule": pl.String(),
    "match_weights_json": pl.String(),
}
CONSTRAINTS_SCHEMA: dict[str, pl.DataType] = {
    "record_key_l": pl.String(),
    "record_key_r": pl.String(),
    "kind": pl.String(),
}
"""Reviewers' rulings passed to :func:`link_persons`: ``kind`` is ``cannot_link`` or ``must_link``."""

NOT_SAME_PERSON_RULES: tuple[str, ...] = ("uncertain", "held_apart")
"""``match_rule`` values of links kept for clerical review, not links inside a person:
``uncertain`` (probability in the uncertain band) and ``held_apart`` (at or above the
match threshold but refused by a guard or a ruling)."""

MODEL_RULE = "splink"
SECOND_PASS_RULE = "second_pass"
"""``match_rule`` of a pair of the uncertain band that joined two persons in the second pass
(``thresholds.second_pass``: :func:`tfident.link.clustering.second_pass`); a link inside one person."""


def person_id_for(smallest_record_key: str) -> str:
    """A person's id: ``P`` and the first 12 hex digits of the SHA-1 of its smallest record key."""
    return "P" + hashlib.sha1(smallest_record_key.encode("utf-8")).hexdigest()[:12]


def _ruling_pairs(constraints: pl.DataFrame | None, members: pl.DataFrame, kind: str) -> list[tuple[int, int]]:
    if constraints is None or constraints.is_empty():
        return []
    pid = members.select("record_key", "pid")
    pairs = (
        constraints.filter(pl.col("kind") == kind)
        .join(pid.rename({"record_key": "record_key_l", "pid": "a"}), on="record_key_l")
        .join(pid.rename({"record_key": "record_key_r", "pid": "b"}), on="record_key_r")
        .filter(pl.col("a") != pl.col("b"))
        .select(pl.min_horizontal("a", "b").alias("lo"), pl.max_horizontal("a", "b").alias("hi"))
        .unique()
    )
    return [(int(a), int(b)) for a, b in pairs.iter_rows()]


def _pid_pairs(pairs: list[tuple[int, int]]) -> pl.DataFrame:
    return pl.DataFrame(pairs, schema={"pid_l": pl.Int64, "pid_r": pl.Int64}, orient="row")


def cluster_edges(scores: pl.DataFrame, config: LinkageConfig, second: bool = False) -> pl.DataFrame:
    """The scored pairs at or above the match threshold as clustering's edges
    (:data:`tfident.link.clustering.EDGE_SCHEMA`, with ``override_ids`` and ``weight``); with
    ``second``, those of ``[thresholds.second_pass, match)`` instead (none when it is not set).
    """
    override = config.guards.identifier_override_weight
    strong = (
        pl.lit(False)
        if override is None
        else (without_identifiers(config.guards.conflicting_identifiers) >= override).fill_null(False)
    )
    probability = pl.col("match_probability")
    if not second:
        kept = probability >= config.thresholds.match
    elif config.thresholds.second_pass is None:
        kept = pl.lit(False)
    else:
        kept = (probability >= config.thresholds.second_pass) & (probability < config.thresholds.match)
    return scores.filter(kept).select(
        "pid_l",
        "pid_r",
        pl.col("match_probability").alias("probability"),
        pl.lit(MODEL_RULE).alias("rule"),
        pl.lit(0, dtype=pl.Int64).alias("rule_order"),
        strong.alias("override_ids"),
        pl.col("match_weight").alias("weight"),
        # the second pass reads whether the addresses disagree
        *([pl.col("gamma_address")] if second and "gamma_address" in scores.columns else []),
    )


def link_persons(
    persons: pl.DataFrame,
    config: LinkageConfig,
    constraints: pl.DataFrame | None = None,
    extracts: Mapping[str, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Link person records into persons (:func:`link_persons_cached` without a previous run)."""
    person_index, links, _ = link_persons_cached(persons, config, constraints, extracts=extracts)
    return person_index, links


def link_persons_cached(
    persons: pl.DataFrame,
    config: LinkageConfig,
    constraints: pl.DataFrame | None = None,
    previous: LinkCache | None = None,
    extracts: Mapping[str, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, LinkCache]:
    """Link person records into persons, reusing ``previous`` (the previous run's
    :class:`LinkCache`) for the pairs of profiles that did not change
    (:mod:`tfident.link.incremental`); the result is the same with or without it.

    ``constraints`` (optional, :data:`CONSTRAINTS_SCHEMA`) are reviewers' rulings by
    ``record_key``; rulings naming records absent from ``persons`` are ignored. ``extracts``
    (optional: the batch's extracts, by source, that ``persons`` was standardised from) give each
    record's slot (:func:`~tfident.link.slots.record_slots`), what it fills once for its person:
    two records of one slot never end up in one person (guard ``one_record_per_slot``). The slots
    are read after scoring, when clustering needs them, and let go after (at a million records they
    are some 60 MiB).

    Returns ``(person_index, links, cache)``: ``person_index`` has ``record_key, source,
    record_id, person_id`` (one row per record, in the order of ``persons``);
    ``links`` has ``record_key_l, record_key_r, match_probability, match_rule,
    match_weights_json`` (``record_key_l < record_key_r``): the pairs that ended up in
    one person (``splink``, ``identical`` or ``must_link``),
    and the pairs kept for review (:data:`NOT_SAME_PERSON_RULES`); ``cache`` is what the
    next run reuses.
    """
    if persons.is_empty():
        return pl.DataFrame(schema=PERSON_INDEX_SCHEMA), pl.DataFrame(schema=LINKS_SCHEMA), LinkCache.empty()
    if not config.model_data:
        raise ConfigError("no linkage model loaded: load the configuration with load_linkage_config()")
    ruled: list[str] = []
    if constraints is not None and not constraints.is_empty():
        ruled = pl.concat([constraints["record_key_l"], constraints["record_key_r"]]).unique().to_list()
    profiles, members = build_profiles(persons, solo_keys=ruled)
    tf = tf_tables(persons, config.model_data)
    keys = profile_keys(profiles, config)
    # the names' caches pin memory that standardising freed (release_caches): give it back before
    # the blocking query, the link stage's largest
    release_caches()
    if previous is None:
        gammas = pair_gammas(profiles, tf, config.model_data, config)
    else:
        dirty = dirty_profiles(keys, previous)
        gammas = pl.concat(
            [reuse_gammas(keys, dirty, previous), pair_gammas(profiles, tf, config.model_data, config, dirty)]
        )
        log.info("incremental linkage: %d of %d profiles new or changed", int(dirty.sum()), profiles.height)
    scores = score_pairs(gammas, profiles, tf, config.model_data, threshold=config.thresholds.uncertain)
    # every blocked pair's levels go to disk for the next run now: the rest never reads them
    cache = new_cache(keys, gammas)
    del gammas
    edges = cluster_edges(scores, config)
    band = cluster_edges(scores, config, second=True)
    profiles = mark_copied_dobs(profiles, config.guards)
    cannot = _ruling_pairs(constraints, members, "cannot_link")
    must = _ruling_pairs(constraints, members, "must_link")
    if config.guards.one_record_per_slot:
        merging = pl.concat(
            [edges.select("pid_l", "pid_r"), band.select("pid_l", "pid_r"), _pid_pairs(must)], how="vertical_relaxed"
        )
        slots = None if extracts is None else record_slots(extracts)
        profiles = contested_slots(profiles, members, slots, merging)
        del slots
    clusters, cluster_cache, reused = cluster_by_component(
        profiles,
        edges,
        config.guards,
        cannot_link=cannot,
        must_link=must,
        previous=None if previous is None else previous.clusters,
    )
    if previous is not None:
        log.info("incremental clustering: clusters of %d of %d profiles reused", reused, profiles.height)
    profiles, clusters, cluster_cache = recluster_copied_dobs(
        profiles, edges, config.guards, clusters, cluster_cache, cannot_link=cannot, must_link=must
    )
    # the cache keeps the first clustering's clusters: the second pass is made again every run
    limits = config.thresholds
    clusters, joined = second_pass(
        profiles,
        band,
        config.guards,
        clusters,
        cannot,
        bridge_addresses=limits.second_pass_bridge_addresses,
        same_dob=limits.second_pass_same_dob,
        strong=edges,
    )
    if joined.height:
        log.info("second pass: %d pairs of the uncertain band joined two persons", joined.height)
    release_caches()  # and what clustering freed, before the links are written

    record_cluster = members.join(clusters, on="pid")
    smallest = record_cluster.group_by("cluster").agg(pl.col("record_key").min().alias("_smallest"))
    ids = smallest.with_columns(
        pl.col("_smallest").map_elements(person_id_for, return_dtype=pl.String).alias("person_id")
    )
    by_record = record_cluster.join(ids, on="cluster").select("record_key", "person_id")
    person_index = persons.select("record_key", "source", "record_id").join(
        by_record, on="record_key", how="left", maintain_order="left"
    )
    links = _links(profiles, members, clusters, scores, must, config, joined)
    log.info(
        "linked %d records into %d persons (%d scored pairs, %d links)",
        persons.height,
        ids.height,
        scores.height,
        links.height,
    )
    return person_index, links, replace(cache, clusters=cache_of_clusters(cluster_cache))


def _with_copied(links: pl.DataFrame, copied: list[str]) -> pl.DataFrame:
    """``links`` with ``"dob_copied": [record keys]`` added to the weights JSON of a pair where either
    end's date of birth is one clustering took for a household member's (``copied``: the
    representative records of the marked profiles), so ``tfident explain`` can say so.

    Only the marked pairs' JSON is rebuilt and scattered back: an expression over every pair would
    copy the whole weights column twice (a few hundred MiB at a million records).
    """
    if not copied:
        return links
    marked = pl.Series(copied, dtype=pl.String).implode()
    left, right = pl.col("record_key_l").is_in(marked), pl.col("record_key_r").is_in(marked)
    rows = links.select((left | right).arg_true().alias("_row"))["_row"]
    if rows.is_empty():
        return links

    def quoted(column: str) -> pl.Expr:
        text = pl.col(column).str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
        return pl.lit('"') + text + pl.lit('"')

    # record_key_l < record_key_r (the pair's ends in order), so the keys come out sorted
    listed = (
        pl.when(left & right)
        .then(quoted("record_key_l") + pl.lit(", ") + quoted("record_key_r"))
        .when(left)
        .then(quoted("record_key_l"))
        .otherwise(quoted("record_key_r"))
    )
    weights = pl.col("match_weights_json")
    added = links[rows].select(weights.str.strip_suffix("}") + pl.lit(', "dob_copied": [') + listed + pl.lit("]}"))
    return links.with_columns(links["match_weights_json"].scatter(rows, added.to_series()))


def _with_slots(links: pl.DataFrame, profiles: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """``links`` (with the ends' clusters ``c_l``, ``c_r``) with ``"one_slot": [slots]`` added to the
    weights JSON of a pair held apart whose two persons both hold a record of those slots
    (``one_record_per_slot``), so ``tfident explain`` can say why. Only such pairs are rebuilt.
    """
    if SLOT_COLUMN not in profiles.columns:
        return links
    held = profiles.select("pid", SLOT_COLUMN).filter(pl.col(SLOT_COLUMN).list.len() > 0)
    if held.is_empty():
        return links
    by_cluster = (
        held.join(clusters, on="pid").explode(SLOT_COLUMN).group_by("cluster").agg(pl.col(SLOT_COLUMN).unique().sort())
    )
    apart = links.with_row_index("_row").filter(pl.col("match_rule") == "held_apart")
    shared = (
        apart.select("_row", "c_l", "c_r", "match_weights_json")
        .join(by_cluster.rename({"cluster": "c_l", SLOT_COLUMN: "_l"}), on="c_l")
        .join(by_cluster.rename({"cluster": "c_r", SLOT_COLUMN: "_r"}), on="c_r")
        .with_columns(pl.col("_l").list.set_intersection("_r").list.sort().alias("_both"))
        .filter(pl.col("_both").list.len() > 0)
    )
    if shared.is_empty():
        return links
    listed = pl.col("_both").list.eval(pl.lit('"') + pl.element() + pl.lit('"')).list.join(", ")
    added = shared.select(
        pl.col("match_weights_json").str.strip_suffix("}") + pl.lit(', "one_slot": [') + listed + pl.lit("]}")
    )
    rows = shared["_row"].cast(pl.Int64)
    return links.with_columns(links["match_weights_json"].scatter(rows, added.to_series()))


def _links(
    profiles: pl.DataFrame,
    members: pl.DataFrame,
    clusters: pl.DataFrame,
    scores: pl.DataFrame,
    must: list[tuple[int, int]],
    config: LinkageConfig,
    joined: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Pairs inside one person and pairs kept for review, between representative records
    (``joined``: the pairs the second pass joined two persons on, :data:`SECOND_PASS_RULE`).
    """
    rep = profiles.select("pid", "rep_key")
    prior = prior_weight(config.model_data)
    copied = (
        profiles.filter(pl.col(COPIED_COLUMN).is_not_null())["rep_key"].to_list()
        if COPIED_COLUMN in profiles.columns
        else []
    )

    def ends(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.join(clusters.rename({"pid": "pid_l", "cluster": "c_l"}), on="pid_l")
            .join(clusters.rename({"pid": "pid_r", "cluster": "c_r"}), on="pid_r")
            .join(rep.rename({"pid": "pid_l", "rep_key": "a"}), on="pid_l")
            .join(rep.rename({"pid": "pid_r", "rep_key": "b"}), on="pid_r")
            .with_columns(
                pl.min_horizontal("a", "b").alias("record_key_l"),
                pl.max_horizontal("a", "b").alias("record_key_r"),
                (pl.col("c_l") == pl.col("c_r")).alias("same"),
            )
        )

    threshold = config.thresholds.match
    # the pairs' own columns only: each join below copies every column it carries
    weighed = scores.select(
        "pid_l", "pid_r", "match_probability", weights_json(scores, prior).alias("match_weights_json")
    )
    if joined is None or joined.is_empty():
        weighed = weighed.with_columns(pl.lit(False).alias("_second"))
    else:
        # the flag alone, joined on the pair's ids (a join of ``weighed`` would copy its weights column)
        both = pl.concat([joined, joined.select(pl.col("pid_r").alias("pid_l"), pl.col("pid_l").alias("pid_r"))])
        second = both.unique().with_columns(pl.lit(True).alias("_second"))
        flag = weighed.select("pid_l", "pid_r").join(second, on=["pid_l", "pid_r"], how="left", maintain_order="left")
        weighed = weighed.with_columns(flag["_second"])
    scored = ends(weighed).select(
        "record_key_l",
        "record_key_r",
        "match_probability",
        pl.when((pl.col("match_probability") < threshold) & pl.col("_second").fill_null(False) & pl.col("same"))
        .then(pl.lit(SECOND_PASS_RULE))
        .when(pl.col("match_probability") < threshold)
        .then(pl.lit("uncertain"))
        .when(pl.col("same"))
        .then(pl.lit(MODEL_RULE))
        .otherwise(pl.lit("held_apart"))
        .alias("match_rule"),
        "match_weights_json",
        "c_l",
        "c_r",
    )
    scored = _with_slots(scored, profiles, clusters).drop("c_l", "c_r")
    scored = _with_copied(scored, copied)
    forced = _pid_pairs(must)
    ruled = (
        ends(forced)
        .filter("same")
        .select(
            "record_key_l",
            "record_key_r",
            pl.lit(1.0).alias("match_probability"),
            pl.lit("must_link").alias("match_rule"),
            pl.lit(None, dtype=pl.String).alias("match_weights_json"),
        )
    )
    identical_json = f'{{"identical": true, "probability": {config.identical_probability}}}'
    identical = members.filter(pl.col("record_key") != pl.col("rep_key")).select(
        pl.col("rep_key").alias("record_key_l"),
        pl.col("record_key").alias("record_key_r"),
        pl.lit(config.identical_probability, dtype=pl.Float64).alias("match_probability"),
        pl.lit("identical").alias("match_rule"),
        pl.lit(identical_json).alias("match_weights_json"),
    )
    # a reviewer's ruling names the pair first; then the model's score
    return (
        pl.concat([ruled, scored, identical])
        .unique(["record_key_l", "record_key_r"], keep="first", maintain_order=True)
        .sort("record_key_l", "record_key_r")
    )
