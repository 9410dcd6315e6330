"""Clustering by connected component (``tfident.link.components``): the same clusters as clustering
everything at once, and a previous run's clusters reused only for components whose inputs did not change.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tfident.link import LinkageConfig, cluster_edges, link_persons_cached
from tfident.link.clustering import cluster_profiles
from tfident.link.components import cluster_by_component, component_signatures, components
from tfident.link.incremental import pair_gammas, score_pairs
from tfident.link.profiles import build_profiles, tf_tables
from tfident.standardise import match_addresses, standardise_persons
from tfident.synth import generate_months

FIRST = date(2026, 1, 31)


@pytest.fixture(scope="module")
def scored(linkage: LinkageConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(profiles, edges)`` of one month of a 300-household council."""
    batch = next(iter(generate_months(300, 5, FIRST, 1)))
    persons = match_addresses(standardise_persons(batch.extracts, batch.as_of), batch.extracts["gazetteer"])
    profiles, _ = build_profiles(persons)
    tf = tf_tables(persons, linkage.model_data)
    gammas = pair_gammas(profiles, tf, linkage.model_data, linkage)
    scores = score_pairs(gammas, profiles, tf, linkage.model_data, threshold=linkage.thresholds.uncertain)
    return profiles, cluster_edges(scores, linkage)


def _component_of_three(profiles: pl.DataFrame, edges: pl.DataFrame, linkage: LinkageConfig) -> pl.DataFrame:
    """A reusable component of three or more profiles that is one cluster (a chain of its edges)."""
    signed = component_signatures(profiles, edges, [], linkage.guards)
    clusters = cluster_profiles(profiles, edges, linkage.guards)
    big = (
        signed.filter("reusable")
        .join(clusters, on="pid")
        .group_by("component")
        .agg(pl.len().alias("n"), pl.col("cluster").n_unique().alias("clusters"), pl.col("pid"))
        .filter((pl.col("n") >= 3) & (pl.col("clusters") == 1))
        .sort("component")
    )
    assert big.height > 0
    return big


def test_clustering_by_component_is_clustering_everything(
    scored: tuple[pl.DataFrame, pl.DataFrame], linkage: LinkageConfig
) -> None:
    """Without a previous run every component is clustered on its own, with the result of one pass over all."""
    profiles, edges = scored
    cannot = [(0, 1), (2, 3)]
    must = [(4, 5)]
    expected = cluster_profiles(profiles, edges, linkage.guards, cannot_link=cannot, must_link=must)
    got, cache, reused = cluster_by_component(profiles, edges, linkage.guards, cannot_link=cannot, must_link=must)
    assert_frame_equal(got, expected)
    assert reused == 0
    assert cache.height > 0
    assert got["cluster"].n_unique() < profiles.height


def test_unchanged_components_keep_their_clusters(
    scored: tuple[pl.DataFrame, pl.DataFrame], linkage: LinkageConfig
) -> None:
    """With its own cache, every reusable component takes its clusters from it, and the result is the same."""
    profiles, edges = scored
    expected, cache, _ = cluster_by_component(profiles, edges, linkage.guards)
    got, again, reused = cluster_by_component(profiles, edges, linkage.guards, previous=cache)
    assert_frame_equal(got, expected)
    assert_frame_equal(again.sort("rep_key"), cache.sort("rep_key"))
    signed = component_signatures(profiles, edges, [], linkage.guards)
    assert reused == signed.filter("reusable").height > 0


def test_a_component_whose_pair_crossed_the_threshold_is_clustered_again(
    scored: tuple[pl.DataFrame, pl.DataFrame], linkage: LinkageConfig
) -> None:
    """A pair of a one-cluster component falling under the match threshold splits it: its component is
    clustered again (a stale reuse would keep it whole), the other components are reused.
    """
    profiles, edges = scored
    _, cache, _ = cluster_by_component(profiles, edges, linkage.guards)
    component = _component_of_three(profiles, edges, linkage).row(0, named=True)
    # drop every edge of its last member: it leaves the component (its pairs crossed the threshold)
    member = max(component["pid"])
    crossed = edges.filter((pl.col("pid_l") != member) & (pl.col("pid_r") != member))
    expected = cluster_profiles(profiles, crossed, linkage.guards)
    got, _, reused = cluster_by_component(profiles, crossed, linkage.guards, previous=cache)
    assert_frame_equal(got, expected)
    assert got.filter(pl.col("pid") == member)["cluster"].item() == member  # alone now
    stale = cache.join(profiles.select("pid", "rep_key"), on="rep_key")
    assert stale.filter(pl.col("pid") == member)["cluster_key"].item() != profiles["rep_key"][member]
    assert 0 < reused < stale.height


def test_a_component_whose_edges_changed_order_is_clustered_again(
    scored: tuple[pl.DataFrame, pl.DataFrame], linkage: LinkageConfig
) -> None:
    """Two edges of one component swapping places in the clustering order change its signature."""
    profiles, edges = scored
    big = _component_of_three(profiles, edges, linkage)
    before = component_signatures(profiles, edges, [], linkage.guards)
    for row in big.iter_rows(named=True):
        pids = pl.Series(row["pid"]).implode()
        inside = edges.filter(pl.col("pid_l").is_in(pids) & pl.col("pid_r").is_in(pids))
        if inside["probability"].n_unique() > 1:
            break
    else:
        pytest.skip("no component with two edges of different probabilities")
    low, high = inside["probability"].min(), inside["probability"].max()
    swapped = edges.with_columns(
        pl.when(pl.col("probability") == low)
        .then(pl.lit(high))
        .when(pl.col("probability") == high)
        .then(pl.lit(low))
        .otherwise(pl.col("probability"))
        .alias("probability")
    )
    after = component_signatures(profiles, swapped, [], linkage.guards)
    changed = before.join(after, on="pid", suffix="_after").filter(
        (pl.col("sig_a") != pl.col("sig_a_after")) | (pl.col("sig_b") != pl.col("sig_b_after"))
    )
    assert set(row["pid"]) <= set(changed["pid"].to_list())


def test_an_incremental_month_reuses_clusters(linkage: LinkageConfig) -> None:
    """Two months linked with the first's cache: most profiles keep their clusters, the result is the full one."""
    months = []
    for batch in generate_months(150, 9, FIRST, 2, churn=0.1, corrections=0.3):
        persons = standardise_persons(batch.extracts, batch.as_of)
        months.append(match_addresses(persons, batch.extracts["gazetteer"]))
    _, _, cache = link_persons_cached(months[0], linkage)
    assert cache.clusters.height > 0
    full_index, full_links, full_cache = link_persons_cached(months[1], linkage)
    index, links, again = link_persons_cached(months[1], linkage, previous=cache)
    assert_frame_equal(index, full_index)
    assert_frame_equal(links, full_links)
    assert_frame_equal(again.clusters.sort("rep_key"), full_cache.clusters.sort("rep_key"))
    kept = again.clusters.join(cache.clusters, on=["rep_key", "sig_a", "sig_b"])
    assert 0 < kept.height < again.clusters.height


def test_components_are_the_connected_components() -> None:
    """Each profile's component is the smallest profile id it is connected to (a long chain, a star, alone)."""
    chain = [(i, i + 1) for i in range(10, 30)][::-1]
    pairs = pl.DataFrame(chain + [(40, 5), (40, 6), (7, 6), (1, 2)], schema=["pid_l", "pid_r"], orient="row")
    labels = components(45, pairs).tolist()
    assert labels[10:31] == [10] * 21
    assert [labels[i] for i in (5, 6, 7, 40)] == [5, 5, 5, 5]
    assert labels[1:3] == [1, 1]
    assert [labels[0], labels[3], labels[44]] == [0, 3, 44]


def _with_records(profiles: pl.DataFrame, pid: int, more: int) -> pl.DataFrame:
    """``profiles`` with profile ``pid`` holding ``more`` more records (a new record identical to it)."""
    return profiles.with_columns(
        pl.when(pl.col("pid") == pid).then(pl.col("records") + more).otherwise(pl.col("records")).alias("records")
    )


def _signature_of(signed: pl.DataFrame, pid: int) -> tuple[int, int]:
    row = signed.filter(pl.col("pid") == pid).row(0, named=True)
    return row["sig_a"], row["sig_b"]


def test_record_counts_do_not_change_a_component_of_one_forename_and_sex(
    scored: tuple[pl.DataFrame, pl.DataFrame], linkage: LinkageConfig
) -> None:
    """A profile gaining a record (a new record identical to it) keeps its component's signature when the
    component has one forename and one sex (the counts choose nothing): its clusters are reused, and they
    are the clusters of clustering everything again.
    """
    profiles, edges = scored
    _, cache, _ = cluster_by_component(profiles, edges, linkage.guards)
    signed = component_signatures(profiles, edges, [], linkage.guards).join(profiles, on="pid")
    one_name = (
        signed.filter("reusable")
        .group_by("component")
        .agg(
            pl.col("forename_std").n_unique().alias("names"),
            pl.col("sex").drop_nulls().n_unique().alias("sexes"),
            pl.col("pid").min(),
        )
        .filter((pl.col("names") == 1) & (pl.col("sexes") <= 1))
        .sort("component")
    )
    assert one_name.height > 0
    member = one_name["pid"][0]
    grown = _with_records(profiles, member, 3)
    after = component_signatures(grown, edges, [], linkage.guards)
    assert _signature_of(after, member) == _signature_of(signed, member)
    got, _, reused = cluster_by_component(grown, edges, linkage.guards, previous=cache)
    assert_frame_equal(got, cluster_profiles(grown, edges, linkage.guards))
    assert reused == after.filter("reusable").height


def test_record_counts_change_a_component_of_two_sexes(
    scored: tuple[pl.DataFrame, pl.DataFrame], linkage: LinkageConfig
) -> None:
    """Where the counts choose a principal sex (or forename), a profile gaining a record changes its
    component's signature, so the previous clusters are not reused (a stale reuse would keep them).
    """
    profiles, edges = scored
    component = _component_of_three(profiles, edges, linkage).row(0, named=True)
    first, second = sorted(component["pid"])[:2]
    # two sexes in the component: the principal sex follows the counts
    mixed = profiles.with_columns(
        pl.when(pl.col("pid") == first)
        .then(pl.lit("M"))
        .when(pl.col("pid") == second)
        .then(pl.lit("F"))
        .otherwise(pl.col("sex"))
        .alias("sex")
    )
    _, cache, _ = cluster_by_component(mixed, edges, linkage.guards)
    before = component_signatures(mixed, edges, [], linkage.guards)
    grown = _with_records(mixed, second, 3)
    after = component_signatures(grown, edges, [], linkage.guards)
    assert _signature_of(after, first) != _signature_of(before, first)
    got, _, _ = cluster_by_component(grown, edges, linkage.guards, previous=cache)
    assert_frame_equal(got, cluster_profiles(grown, edges, linkage.guards))
    reused_keys = cache.join(after.join(grown.select("pid", "rep_key"), on="pid"), on=["rep_key", "sig_a", "sig_b"])
    assert reused_keys.filter(
        pl.col("rep_key").is_in(grown.filter(pl.col("pid") == first)["rep_key"].implode())
    ).is_empty()
