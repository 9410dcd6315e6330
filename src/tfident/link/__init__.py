"""tfident.link: link person records across sources into persons.

``link_persons`` is three steps, each replaceable: profiles (records identical in every
linkage field), scored candidate pairs (``rules.candidate_edges``: deterministic rules
today, a probabilistic model can produce the same frame), and clustering with guards
(``cluster.cluster_profiles``).
"""

from __future__ import annotations

import hashlib
import logging

import polars as pl

from tfident.link.cluster import cluster_profiles
from tfident.link.config import Guards, LinkageConfig, Rule, load_linkage_config
from tfident.link.rules import build_profiles, candidate_edges

__all__ = [
    "Guards",
    "LinkageConfig",
    "Rule",
    "link_persons",
    "load_linkage_config",
    "person_id_for",
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
}


def person_id_for(smallest_record_key: str) -> str:
    """A person's id: ``P`` and the first 12 hex digits of the SHA-1 of its smallest record key."""
    return "P" + hashlib.sha1(smallest_record_key.encode("utf-8")).hexdigest()[:12]


def link_persons(persons: pl.DataFrame, config: LinkageConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Link person records into persons.

    Returns ``(person_index, links)``: ``person_index`` has ``record_key, source,
    record_id, person_id`` (one row per record, in the order of ``persons``);
    ``links`` has ``record_key_l, record_key_r, match_probability, match_rule``, the
    pairs that ended up in one person (``record_key_l < record_key_r``).
    """
    if persons.is_empty():
        return pl.DataFrame(schema=PERSON_INDEX_SCHEMA), pl.DataFrame(schema=LINKS_SCHEMA)
    profiles, members = build_profiles(persons)
    edges = candidate_edges(profiles, config)
    clusters = cluster_profiles(profiles, edges, config.guards)

    record_cluster = members.join(clusters, on="pid")
    smallest = record_cluster.group_by("cluster").agg(pl.col("record_key").min().alias("_smallest"))
    ids = smallest.with_columns(
        pl.col("_smallest").map_elements(person_id_for, return_dtype=pl.String).alias("person_id")
    )
    by_record = record_cluster.join(ids, on="cluster").select("record_key", "person_id")
    person_index = persons.select("record_key", "source", "record_id").join(
        by_record, on="record_key", how="left", maintain_order="left"
    )

    # links: profile pairs inside one person, between their representative records, and
    # every other record of a profile to its representative
    rep = profiles.select("pid", "rep_key")
    kept = (
        edges.join(clusters.rename({"pid": "pid_l", "cluster": "c_l"}), on="pid_l")
        .join(clusters.rename({"pid": "pid_r", "cluster": "c_r"}), on="pid_r")
        .filter(pl.col("c_l") == pl.col("c_r"))
        .join(rep.rename({"pid": "pid_l", "rep_key": "a"}), on="pid_l")
        .join(rep.rename({"pid": "pid_r", "rep_key": "b"}), on="pid_r")
        .select(
            pl.min_horizontal("a", "b").alias("record_key_l"),
            pl.max_horizontal("a", "b").alias("record_key_r"),
            pl.col("probability").alias("match_probability"),
            pl.col("rule").alias("match_rule"),
        )
    )
    identical = members.filter(pl.col("record_key") != pl.col("rep_key")).select(
        pl.col("rep_key").alias("record_key_l"),
        pl.col("record_key").alias("record_key_r"),
        pl.lit(config.identical_probability, dtype=pl.Float64).alias("match_probability"),
        pl.lit("identical").alias("match_rule"),
    )
    links = pl.concat([kept, identical]).sort("record_key_l", "record_key_r")
    log.info(
        "linked %d records into %d persons (%d links, %d candidate pairs)",
        persons.height,
        ids.height,
        links.height,
        edges.height,
    )
    return person_index, links
