"""Clustering by connected component, reusing the previous run's clusters of unchanged components.

:func:`tfident.link.clustering.cluster_profiles` is local to each connected component of the
graph whose edges are the pairs at or above the match threshold and the reviewers'
``must_link`` pairs: a union only ever joins two ends of one edge, the guards look only at
what the two clusters hold, a weak profile's ambiguity looks only at its own edges, and a
``cannot_link`` ruling between two components can never bite. The order of the edges within a
component is the global order restricted to it, and profile ids are renumbered monotonically,
so clustering each component on its own gives exactly the clusters of clustering everything
at once (a test checks it).

So a component's clusters are a function of its *inputs*: its profiles (every column of each
profile: names, dates of birth, addresses, identifiers, record counts) and its edges in the
order clustering takes them (with each edge's ``override_ids``). :func:`component_signatures`
hashes those inputs into a 128-bit signature per component. A component whose signature was
also a component of the previous run keeps that run's clusters; every other component is
clustered again. Because every pair's weight is recomputed each month (term frequencies move),
the signature is taken over *this* month's edges: a pair that crossed the match threshold (an
edge added or gone), an edge whose probability moved past another's of the same component
(a different order), an edge whose ``override_ids`` flipped, or any new, changed or removed
profile changes the signature. A profile's record count (it grows whenever a new record identical to
the profile arrives, as most months' records do) is read by clustering only to choose a cluster's
principal forename and sex, so it is left out of the signature of a component whose profiles carry at
most one forename and one sex between them (there is nothing to choose), and kept in every other's.
Not reused, whatever their signature: components holding a
profile without a full forename or a date of birth (their ambiguity depends on the edges'
weights, not only their order) and components holding a profile named in a reviewer's ruling.
Nor are components :func:`recluster_copied_dobs` clustered again (their marks depend on other
components): they are left out of the cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tfident.link.clustering import COPIED_COLUMN, cluster_profiles, copied_dobs_by_person, mark_copied_dobs
from tfident.link.config import Guards
from tfident.link.graph import components

SIGNATURE_SEEDS: tuple[int, int] = (0x636C, 0x7573)
"""Seeds of the two 64-bit hashes that make a component's 128-bit signature."""

CLUSTER_CACHE_SCHEMA: dict[str, pl.DataType] = {
    "rep_key": pl.String(),
    "sig_a": pl.UInt64(),
    "sig_b": pl.UInt64(),
    "cluster_key": pl.String(),
}
"""The cache's clusters: each profile of a component of two or more profiles (by its representative
record), its component's signature, and the representative record of its cluster's first profile."""

EMPTY_CLUSTERS = pl.DataFrame(schema=CLUSTER_CACHE_SCHEMA)


COUNT_COLUMN = "records"
"""The profile column clustering reads only through its clusters' principal forenames and sexes."""


def _profile_hashes(profiles: pl.DataFrame) -> pl.DataFrame:
    """``pid, h_a, h_b, c_a, c_b, weak, name, sex``: a 128-bit hash of every column of each profile but its
    id (``h_``), the same without its record count (``c_``), whether the profile lacks a full forename or a
    date of birth (clustering's weak profiles), and the forename and sex clustering tallies its records
    under (null when it tallies none).
    """
    rest = profiles.drop("pid")
    row = rest.select(pl.struct(pl.all()).alias("row"))["row"]
    uncounted = rest.drop(COUNT_COLUMN, strict=False).select(pl.struct(pl.all()).alias("row"))["row"]
    full = pl.col("forename_first").is_not_null() & (pl.col("forename_first").str.len_chars() > 1)
    weak = ~full | pl.col("date_of_birth").is_null()
    name_columns = [c for c in ("forename_first", "forename_canonical", "forename_metaphone", "forename_variant")
                    if c in profiles.columns]  # fmt: skip
    name = pl.when(full).then(pl.struct(name_columns).hash(SIGNATURE_SEEDS[0])).otherwise(None)
    sex = pl.when(pl.col("sex").is_in(["M", "F"])).then(pl.col("sex")).otherwise(None)
    return pl.DataFrame(
        {
            "pid": profiles["pid"],
            "h_a": row.hash(SIGNATURE_SEEDS[0]),
            "h_b": row.hash(SIGNATURE_SEEDS[1]),
            "c_a": uncounted.hash(SIGNATURE_SEEDS[0]),
            "c_b": uncounted.hash(SIGNATURE_SEEDS[1]),
        }
    ).with_columns(profiles.select(weak.fill_null(True).alias("weak"), name.alias("name"), sex.alias("sex")))


def component_signatures(
    profiles: pl.DataFrame, edges: pl.DataFrame, must_link: Sequence[tuple[int, int]], guards: Guards
) -> pl.DataFrame:
    """``pid, component, sig_a, sig_b, reusable`` for every profile in a component of two or more profiles
    (a profile alone is its own cluster): the component, its signature (its profiles and its edges in
    clustering order, with ``override_ids``, under ``guards``) and whether its clusters may be reused
    (no weak profile and no profile named in a ruling, given as ``profiles.solo_key`` or ``must_link``).
    """
    must = pl.DataFrame(list(must_link), schema={"pid_l": pl.Int64, "pid_r": pl.Int64}, orient="row")
    graph = pl.concat([edges.select("pid_l", "pid_r"), must])
    label = pl.Series("component", components(profiles.height, graph))
    sizes = label.value_counts()
    in_group = pl.DataFrame({"pid": profiles["pid"], "component": label}).join(
        sizes.filter(pl.col("count") > 1).select("component"), on="component", maintain_order="left"
    )
    if in_group.is_empty():
        return in_group.with_columns(
            pl.lit(0, pl.UInt64).alias("sig_a"), pl.lit(0, pl.UInt64).alias("sig_b"), pl.lit(True).alias("reusable")
        )
    hashes = _profile_hashes(profiles)
    ruled = pl.Series("pid", [p for pair in must_link for p in pair], dtype=pl.Int64)
    solo = profiles["solo_key"].is_not_null() if "solo_key" in profiles.columns else pl.repeat(False, profiles.height)
    # a solo profile is a ruled record or one missing a name or date of birth: never reused either way
    blocked = hashes.select("pid", (pl.col("weak") | solo | pl.col("pid").is_in(ruled.implode())).alias("_blocked"))
    # a component whose profiles carry at most one forename and at most one sex between them clusters
    # the same whatever their record counts (the counts only choose the principal forename and sex):
    # its signature leaves the counts out, and says so (``uncounted``)
    members = (
        in_group.join(hashes.select("pid", "h_a", "h_b", "c_a", "c_b", "name", "sex"), on="pid")
        .sort("pid")
        .with_columns(
            ((pl.col("name").drop_nulls().n_unique() <= 1) & (pl.col("sex").drop_nulls().n_unique() <= 1))
            .over("component")
            .alias("uncounted")
        )
        .with_columns(
            pl.when("uncounted").then("c_a").otherwise("h_a").alias("h_a"),
            pl.when("uncounted").then("c_b").otherwise("h_b").alias("h_b"),
        )
    )
    override = pl.col("override_ids").fill_null(False) if "override_ids" in edges.columns else pl.lit(False)
    guard_text = guards.model_dump_json()
    ordered = (
        edges.sort(["probability", "rule_order", "pid_l", "pid_r"], descending=[True, False, False, False])
        .select("pid_l", "pid_r", override.alias("override"))
        .join(
            members.select(pl.col("pid").alias("pid_l"), pl.col("h_a").alias("la"), pl.col("h_b").alias("lb")),
            on="pid_l",
            maintain_order="left",
        )
        .join(
            members.select(pl.col("pid").alias("pid_r"), pl.col("h_a").alias("ra"), pl.col("h_b").alias("rb")),
            on="pid_r",
            maintain_order="left",
        )
        .join(in_group.select(pl.col("pid").alias("pid_l"), "component"), on="pid_l", maintain_order="left")
    )
    must_rows = must.join(in_group.select(pl.col("pid").alias("pid_l"), "component"), on="pid_l").select(
        "component", pl.lit(1, pl.UInt64).alias("forced")
    )
    per_component = (
        members.group_by("component", maintain_order=True)
        .agg(pl.col("h_a").alias("members_a"), pl.col("h_b").alias("members_b"), pl.col("uncounted").first())
        .join(
            ordered.group_by("component", maintain_order=True).agg(
                pl.struct("la", "lb", "ra", "rb", "override").alias("edges")
            ),
            on="component",
            how="left",
        )
        .join(must_rows.group_by("component").agg(pl.len().alias("forced")), on="component", how="left")
        .with_columns(pl.lit(guard_text).alias("guards"))
    )
    row = per_component.select(pl.struct(pl.exclude("component")).alias("row"))["row"]
    signatures = pl.DataFrame(
        {
            "component": per_component["component"],
            "sig_a": row.hash(SIGNATURE_SEEDS[0]),
            "sig_b": row.hash(SIGNATURE_SEEDS[1]),
        }
    )
    reusable = in_group.join(blocked, on="pid").group_by("component").agg((~pl.col("_blocked").any()).alias("reusable"))
    return in_group.join(signatures, on="component", maintain_order="left").join(
        reusable, on="component", maintain_order="left"
    )


def cluster_by_component(
    profiles: pl.DataFrame,
    edges: pl.DataFrame,
    guards: Guards,
    cannot_link: Sequence[tuple[int, int]] = (),
    must_link: Sequence[tuple[int, int]] = (),
    previous: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """``(clusters, cache, reused)``: :func:`~tfident.link.clustering.cluster_profiles`'s ``pid -> cluster``,
    with the components whose signature is in ``previous`` (the previous run's cache,
    :data:`CLUSTER_CACHE_SCHEMA`) taking their clusters from it and every other component clustered
    on its own; this run's cache; and how many profiles had their clusters reused.
    """
    # over every profile: the household member whose date of birth a record carries is seldom in the
    # record's component
    profiles = mark_copied_dobs(profiles, guards)
    signed = component_signatures(profiles, edges, must_link, guards)
    rep = profiles.select("pid", "rep_key")
    signed = signed.join(rep, on="pid", maintain_order="left")
    reused = pl.DataFrame(schema={"pid": pl.Int64, "cluster": pl.Int64})
    if previous is not None and not previous.is_empty():
        known = signed.filter("reusable").join(
            previous.select("rep_key", "sig_a", "sig_b", "cluster_key"), on=["rep_key", "sig_a", "sig_b"], how="left"
        )
        # a component is reused whole or not at all (its signature covers every member, so a match is whole)
        whole = known.group_by("component").agg(pl.col("cluster_key").is_not_null().all().alias("_whole"))
        known = known.join(whole.filter("_whole").select("component"), on="component")
        reused = known.with_columns(pl.col("pid").min().over("cluster_key").alias("cluster")).select("pid", "cluster")
    todo = signed.join(reused.select("pid"), on="pid", how="anti").sort("pid")["pid"]
    fresh = _cluster_subset(profiles, edges, guards, cannot_link, must_link, todo)
    clusters = (
        pl.DataFrame({"pid": profiles["pid"]})
        .join(pl.concat([reused, fresh]), on="pid", how="left", maintain_order="left")
        .with_columns(pl.coalesce("cluster", "pid").alias("cluster"))
        .select("pid", "cluster")
    )
    cache = (
        signed.join(clusters, on="pid")
        .join(rep.rename({"pid": "cluster", "rep_key": "cluster_key"}), on="cluster")
        .select(list(CLUSTER_CACHE_SCHEMA))
    )
    return clusters, cache, reused.height


def recluster_copied_dobs(
    profiles: pl.DataFrame,
    edges: pl.DataFrame,
    guards: Guards,
    clusters: pl.DataFrame,
    cache: pl.DataFrame,
    cannot_link: Sequence[tuple[int, int]] = (),
    must_link: Sequence[tuple[int, int]] = (),
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``(profiles, clusters, cache)`` after ``dob_copied_seen_on_person``: the profiles of components
    :func:`cluster_by_component` split (``cache`` holds each profile's component signature and cluster)
    whose date of birth another person holds at their address
    (:func:`~tfident.link.clustering.copied_dobs_by_person`) are marked (:data:`COPIED_COLUMN`), and
    their components clustered again; those components leave the cache, since their marks depend on
    other components' clusters, which their signatures do not cover. Unchanged when nothing is marked
    or the rule is off.
    """
    if not (guards.dob and guards.dob_copied_from_household and guards.dob_copied_seen_on_person):
        return profiles, clusters, cache
    if cache.is_empty() or COPIED_COLUMN not in profiles.columns:
        return profiles, clusters, cache
    signed = cache.join(profiles.select("pid", "rep_key"), on="rep_key")
    split = signed.filter(pl.col("cluster_key").n_unique().over("sig_a", "sig_b") > 1)
    marks = copied_dobs_by_person(profiles, clusters, split["pid"], guards.forename_similarity)
    if not marks:
        return profiles, clusters, cache
    marked = pl.DataFrame({"pid": list(marks), "_at": list(marks.values())}, schema={"pid": pl.Int64, "_at": pl.String})
    touched = split.join(marked.select("pid"), on="pid").select("sig_a", "sig_b").unique()
    todo = split.join(touched, on=["sig_a", "sig_b"]).sort("pid")["pid"]
    profiles = (
        profiles.join(marked, on="pid", how="left", maintain_order="left")
        .with_columns(pl.coalesce(COPIED_COLUMN, "_at").alias(COPIED_COLUMN))
        .drop("_at")
    )
    fresh = _cluster_subset(profiles, edges, guards, cannot_link, must_link, todo)
    clusters = (
        clusters.join(fresh.rename({"cluster": "_fresh"}), on="pid", how="left", maintain_order="left")
        .with_columns(pl.coalesce("_fresh", "cluster").alias("cluster"))
        .select("pid", "cluster")
    )
    return profiles, clusters, cache.join(touched, on=["sig_a", "sig_b"], how="anti", maintain_order="left")


def _cluster_subset(
    profiles: pl.DataFrame,
    edges: pl.DataFrame,
    guards: Guards,
    cannot_link: Sequence[tuple[int, int]],
    must_link: Sequence[tuple[int, int]],
    pids: pl.Series,
) -> pl.DataFrame:
    """``pid, cluster`` of the profiles ``pids`` (whole components, ascending) clustered on their own."""
    if pids.is_empty():
        return pl.DataFrame(schema={"pid": pl.Int64, "cluster": pl.Int64})
    local = pl.DataFrame({"pid": pids, "_local": pl.int_range(0, pids.len(), dtype=pl.Int64, eager=True)})
    index = dict(zip(pids.to_list(), range(pids.len()), strict=True))
    subset = profiles.join(local, on="pid", maintain_order="left").sort("_local").drop("pid").rename({"_local": "pid"})
    sub_edges = (
        edges.join(local.rename({"pid": "pid_l", "_local": "_l"}), on="pid_l")
        .join(local.rename({"pid": "pid_r", "_local": "_r"}), on="pid_r")
        .drop("pid_l", "pid_r")
        .rename({"_l": "pid_l", "_r": "pid_r"})
    )

    def within(pairs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        return [(index[a], index[b]) for a, b in pairs if a in index and b in index]

    clustered = cluster_profiles(
        subset, sub_edges, guards, cannot_link=within(cannot_link), must_link=within(must_link)
    )
    back = pids.cast(pl.Int64)
    return pl.DataFrame(
        {"pid": back.gather(clustered["pid"]), "cluster": back.gather(clustered["cluster"])},
        schema={"pid": pl.Int64, "cluster": pl.Int64},
    )
