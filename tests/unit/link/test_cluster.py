"""Guarded clustering (``tfident.link.clustering``): the twins guard against stray records,
and properties of union-find over any scored pairs (hypothesis).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfident.link import LinkageConfig, link_persons
from tfident.link.clustering import EDGE_SCHEMA, cluster_profiles
from tfident.link.config import Guards
from tfident.link.profiles import build_profiles
from tfident.standardise import names as nm

Maker = Callable[..., pl.DataFrame]

TWINS: dict[str, Any] = {
    "surname": "Sutcliffe",
    "date_of_birth": date(2012, 1, 17),
    "address_line_1": "1 High Street",
    "town": "Tenford",
    "postcode": "TF1 1AA",
}


def _record(source: str, record_id: str, forename: str | None, sex: str | None, **values: Any) -> dict[str, Any]:
    return {"source": source, "record_id": record_id, "forename": forename, "sex": sex, **TWINS, **values}


def _twins_with_stray_records() -> list[dict[str, Any]]:
    """The failure of ``generate_batch(50000, 1, 2026-10-31)``: Oliver and Olivia Sutcliffe,
    twins at one address, with one record of Olivia's under ``Ollie`` (a nickname of
    Oliver's too) and one with the wrong sex, which bridged them.
    """
    return [
        _record("school_census", "OLIVER1", "Oliver", "M"),
        _record("attendance", "OLIVER2", "Oliver", "M"),
        _record("social_care", "OLIVER3", "Oliver", "M"),
        _record("school_census", "OLIVIA1", "Olivia", "F"),
        _record("attendance", "OLIVIA2", "Olivia", "F"),
        _record("exclusions", "OLIVIA3", "Olivia", "F"),
        _record("exclusions", "OLLIE", "Ollie", "F"),  # Olivia's nickname record
        _record("health", "WRONGSEX", "Olivia", "M"),  # Olivia recorded as male
    ]


def _groups(index: pl.DataFrame, key: str = "record_id", cluster: str = "person_id") -> set[frozenset[str]]:
    return {frozenset(g) for g in index.group_by(cluster).agg(pl.col(key))[key].to_list()}


def _every_pair(profiles: pl.DataFrame, probability: float = 0.99) -> pl.DataFrame:
    """Edges between every two profiles: a scorer that calls everything a match."""
    n = profiles.height
    rows = [(i, j, probability, "splink", 0) for i in range(n) for j in range(i + 1, n)]
    return pl.DataFrame(rows, schema=EDGE_SCHEMA, orient="row")


def _twins_apart(clusters: set[frozenset[str]]) -> bool:
    return not any(
        any(k.startswith("OLIVER") for k in group) and any(k.startswith("OLIVIA") for k in group) for group in clusters
    )


def test_stray_records_do_not_bridge_twins_even_when_every_pair_scores_as_a_match(make_persons: Maker) -> None:
    persons = make_persons(_twins_with_stray_records())
    profiles, members = build_profiles(persons)
    clusters = cluster_profiles(profiles, _every_pair(profiles), Guards())
    found = _groups(members.join(clusters, on="pid"), key="record_key", cluster="cluster")
    found = {frozenset(k.split(":", 1)[1] for k in group) for group in found}
    assert _twins_apart(found), found
    # each twin still holds its own records
    assert any({"OLIVER1", "OLIVER2", "OLIVER3"} <= g for g in found)
    assert any({"OLIVIA1", "OLIVIA2", "OLIVIA3"} <= g for g in found)


def test_stray_records_do_not_bridge_twins_end_to_end(make_persons: Maker, linkage: LinkageConfig) -> None:
    index, _ = link_persons(make_persons(_twins_with_stray_records()), linkage)
    found = _groups(index)
    assert _twins_apart(found), found
    assert any({"OLIVER1", "OLIVER2", "OLIVER3"} <= g for g in found)
    assert any({"OLIVIA1", "OLIVIA2", "OLIVIA3"} <= g for g in found)


def test_twins_of_recorded_same_sex_with_similar_names_stay_apart(make_persons: Maker) -> None:
    # sex is no help here: Jaro-Winkler-similar distinct names at one address and dob
    rows = [
        _record("school_census", "OLIVER1", "Oliver", None),
        _record("attendance", "OLIVER2", "Oliver", "M"),
        _record("school_census", "OLIVIA1", "Olivia", None),
        _record("attendance", "OLIVIA2", "Olivia", "M"),
    ]
    profiles, members = build_profiles(make_persons(rows))
    clusters = cluster_profiles(profiles, _every_pair(profiles), Guards())
    by_key = _groups(members.join(clusters, on="pid"), "record_key", "cluster")
    found = {frozenset(k.split(":", 1)[1] for k in g) for g in by_key}
    assert _twins_apart(found), found


def test_a_typo_or_a_middle_name_at_the_same_address_still_links(make_persons: Maker, linkage: LinkageConfig) -> None:
    rows = [
        _record("school_census", "A1", "Oliver James", "M"),
        _record("attendance", "A2", "Oliver", "M"),
        _record("health", "A3", "Olvier", "M"),  # one keying error (a swap)
        _record("social_care", "A4", "James", "M"),  # the middle name used as forename
    ]
    profiles, members = build_profiles(make_persons(rows))
    clusters = cluster_profiles(profiles, _every_pair(profiles), Guards())
    assert members.join(clusters, on="pid")["cluster"].n_unique() == 1


# ---------------------------------------------------------------- properties of union-find

FORENAMES = ["OLIVER", "OLIVIA", "OLLIE", "OLVIER", "JAMES", "JIM", "AMY", "A"]
IDS = ["U1", "U2", None]


def _profiles(rows: list[tuple[int, int, int, int, int, int]]) -> pl.DataFrame:
    """Hand-made profiles: (forename, dob, uprn, sex, upn, records) indices per row."""
    data: dict[str, list[Any]] = {k: [] for k in ("pid", "forename_std", "date_of_birth", "uprn_matched", "sex", "upn")}
    data["records"] = []
    dobs = [dt.date(2012, 1, 17), dt.date(2012, 1, 18), dt.date(1980, 3, 3), None]
    for i, (f, d, u, s, upn, n) in enumerate(rows):
        data["pid"].append(i)
        data["forename_std"].append(FORENAMES[f])
        data["date_of_birth"].append(dobs[d])
        data["uprn_matched"].append([100, 200, None][u])
        data["sex"].append(["M", "F", None][s])
        data["upn"].append(IDS[upn])
        data["records"].append(n)
    frame = pl.DataFrame(
        data,
        schema={
            "pid": pl.Int64,
            "forename_std": pl.String,
            "date_of_birth": pl.Date,
            "uprn_matched": pl.Int64,
            "sex": pl.String,
            "upn": pl.String,
            "records": pl.Int64,
        },
    )
    first = pl.col("forename_std").str.split(" ").list.first()
    return frame.with_columns(
        first.alias("forename_first"),
        first.map_elements(nm.canonical_forename, return_dtype=pl.String).alias("forename_canonical"),
        first.map_elements(nm.metaphone, return_dtype=pl.String).alias("forename_metaphone"),
        first.map_elements(lambda f: list(nm.forename_variants(f)), return_dtype=pl.List(pl.String)).alias(
            "forename_variant"
        ),
        pl.lit(None, dtype=pl.String).alias("postcode_std"),
        pl.lit(None, dtype=pl.String).alias("nino"),
        pl.lit(None, dtype=pl.String).alias("nhs_number"),
    )


profile_rows = st.lists(
    st.tuples(
        st.integers(0, len(FORENAMES) - 1),
        st.integers(0, 3),
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(1, 4),
    ),
    min_size=2,
    max_size=9,
)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, list[tuple[int, int]], list[tuple[int, int]]]:
    rows = draw(profile_rows)
    n = len(rows)
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] < p[1])
    edges = draw(st.lists(pair, unique=True, max_size=20))
    probabilities = draw(st.lists(st.sampled_from([0.95, 0.97, 0.99]), min_size=len(edges), max_size=len(edges)))
    frame = pl.DataFrame(
        [(a, b, p, "splink", 0) for (a, b), p in zip(edges, probabilities, strict=True)],
        schema=EDGE_SCHEMA,
        orient="row",
    )
    cannot = draw(st.lists(pair, unique=True, max_size=2))
    must = draw(st.lists(pair, unique=True, max_size=2).filter(lambda ms: not set(ms) & set(cannot)))
    return _profiles(rows), frame, cannot, must


def _components(n: int, pairs: list[tuple[int, int]]) -> dict[int, int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in range(n)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=graphs(), seed=st.integers(0, 10_000))
def test_clustering_properties(
    graph: tuple[pl.DataFrame, pl.DataFrame, list[tuple[int, int]], list[tuple[int, int]]], seed: int
) -> None:
    profiles, edges, cannot, must = graph
    guards = Guards(conflicting_identifiers=("upn",))
    result = cluster_profiles(profiles, edges, guards, cannot_link=cannot, must_link=must)
    cluster = dict(result.select("pid", "cluster").iter_rows())

    # order independence: shuffled edge rows and shuffled rulings give the same clusters
    order = list(range(edges.height))
    random.Random(seed).shuffle(order)
    shuffled = edges[order] if order else edges
    again = cluster_profiles(
        profiles, shuffled, guards, cannot_link=list(reversed(cannot)), must_link=list(reversed(must))
    )
    assert dict(again.select("pid", "cluster").iter_rows()) == cluster

    # a cluster is named by its smallest member
    for pid, root in cluster.items():
        assert root <= pid
        assert cluster[root] == root

    # guards: no cluster holds two UPNs (must_link rulings bypass that guard); no cannot_link
    # ruling is inside one cluster
    forced = pl.Series([cluster[a] for pair in must for a in pair], dtype=pl.Int64).implode()
    upns = profiles.select("pid", "upn").join(result, on="pid").drop_nulls("upn")
    upns = upns.filter(~pl.col("cluster").is_in(forced))
    assert upns.group_by("cluster").agg(pl.col("upn").n_unique().alias("n"))["n"].max() in (None, 1)
    for a, b in cannot:
        assert cluster[a] != cluster[b]

    # components are the transitive closure of the accepted edges (edges inside a cluster) and rulings
    accepted = [(a, b) for a, b in edges.select("pid_l", "pid_r").iter_rows() if cluster[a] == cluster[b]]
    accepted += [(a, b) for a, b in must if cluster[a] == cluster[b]]
    closure = _components(profiles.height, accepted)
    assert closure == cluster


@given(st.dates(min_value=date(1, 1, 1)), st.dates(min_value=date(1, 1, 1)))
def test_the_date_of_birth_guard_takes_any_two_dates(a: date, b: date) -> None:
    """Mistyped years below 1000 (seen in pseudopeople's noise) are compared digit by digit, never a crash."""
    from tfident.link.clustering import _dob_compatible

    assert _dob_compatible(a, a)
    assert _dob_compatible(a, b) == _dob_compatible(b, a)


def test_a_one_digit_year_typo_below_1000_is_compatible() -> None:
    """0987-01-02 against 1987-01-02 is one digit off, as 1887 would be."""
    from tfident.link.clustering import _dob_compatible

    assert _dob_compatible(date(987, 1, 2), date(1987, 1, 2))
    assert not _dob_compatible(date(987, 1, 2), date(1999, 5, 6))


def test_a_merge_leaves_the_sets_other_clusters_share_alone() -> None:
    """Clusters share equal sets (one per date of birth, forename, address): a merge builds
    new ones, so a profile with the same values that is not in the merge keeps only its own.
    """
    from tfident.link.clustering import _Clusters

    # profiles 0 and 2 are alike (same forename, dob, UPRN, sex, no UPN); 1 differs in dob and UPRN
    profiles = _profiles([(0, 0, 0, 0, 0, 1), (0, 1, 1, 0, 0, 1), (0, 0, 0, 0, 0, 1)])
    clusters = _Clusters(profiles, Guards())
    before = clusters.state[2]
    shared = (before.dobs, before.uprns, before.forenames, before.name_records, before.sex_records)
    snapshot = [(set(s), dict(s) if isinstance(s, dict) else None) for s in shared]
    assert clusters.state[0].dobs is before.dobs  # one set for both (the point of sharing)
    assert clusters.union(0, 1)
    merged = clusters.state[clusters.find(0)]
    assert merged.dobs == {dt.date(2012, 1, 17), dt.date(2012, 1, 18)}
    assert merged.uprns == {100, 200}
    assert sum(merged.name_records.values()) == 2
    assert [(set(s), dict(s) if isinstance(s, dict) else None) for s in shared] == snapshot
    assert clusters.state[2].dobs == {dt.date(2012, 1, 17)}
    assert clusters.state[2].uprns == {100}
