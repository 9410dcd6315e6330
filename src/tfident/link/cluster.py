"""Clustering scored pairs of profiles into persons, with guards against bad merges.

Pairs are taken strongest first (probability, then rule order, then profile ids, so
the result does not depend on row order) and merged with union-find. Before two
clusters merge, the guards of the configuration are checked against everything each
cluster already holds:

- ``conflicting_identifiers``: both clusters hold a value of the identifier and no
  value in common (two different UPNs are two different children);
- ``dob``: both clusters hold dates of birth and none of one is compatible with any of
  the other (equal, day and month transposed, one day apart, or one year apart on the
  same day): a father and his namesake son;
- ``forename``: both clusters hold full forenames and none of one is compatible with
  any of the other (same, same canonical or metaphone, nickname variants meet, or
  Jaro-Winkler similar): twins.

A pair a guard refuses is dropped; its records may still meet through other pairs,
which are checked in the same way. Any scorer that produces pairs with probabilities
(the deterministic rules today, a probabilistic model later) can feed this step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl
from rapidfuzz.distance import JaroWinkler

from tfident.link.config import Guards


@dataclass
class _Cluster:
    ids: dict[str, set[str]] = field(default_factory=dict)
    dobs: set[dt.date] = field(default_factory=set)
    forenames: set[tuple[str, str, str, tuple[str, ...]]] = field(default_factory=set)


def _dob_compatible(a: dt.date, b: dt.date) -> bool:
    if a == b or abs((a - b).days) == 1:
        return True
    if (a.month, a.day) == (b.month, b.day) and abs(a.year - b.year) == 1:
        return True
    return a.year == b.year and a.day == b.month and a.month == b.day


def _forename_compatible(
    a: tuple[str, str, str, tuple[str, ...]], b: tuple[str, str, str, tuple[str, ...]], threshold: float
) -> bool:
    if a[0] == b[0] or a[1] == b[1] or (a[2] and a[2] == b[2]) or set(a[3]) & set(b[3]):
        return True
    return JaroWinkler.normalized_similarity(a[0], b[0]) >= threshold


class _Clusters:
    def __init__(self, profiles: pl.DataFrame, guards: Guards) -> None:
        self.guards = guards
        n = profiles.height
        self.parent = list(range(n))
        self.state: list[_Cluster] = []
        id_columns = list(guards.conflicting_identifiers)
        rows = profiles.select(
            "pid", "date_of_birth", "forename_first", "forename_canonical", "forename_metaphone", "forename_variant",
            *id_columns,
        ).iter_rows()  # fmt: skip
        for row in rows:
            pid, dob, first, canonical, metaphone, variants = row[:6]
            if pid != len(self.state):  # pragma: no cover - build_profiles numbers pids 0..n-1
                raise ValueError("profile ids must be 0..n-1 in order")
            cluster = _Cluster()
            for name, value in zip(id_columns, row[6:], strict=True):
                if value is not None:
                    cluster.ids[name] = {value}
            if dob is not None:
                cluster.dobs.add(dob)
            if first is not None and len(first) > 1:
                cluster.forenames.add((first, canonical or first, metaphone or "", tuple(variants or ())))
            self.state.append(cluster)

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def allowed(self, a: _Cluster, b: _Cluster) -> bool:
        for name, values in a.ids.items():
            other = b.ids.get(name)
            if other and not values & other:
                return False
        if self.guards.dob and a.dobs and b.dobs and not any(_dob_compatible(x, y) for x in a.dobs for y in b.dobs):
            return False
        if self.guards.forename and a.forenames and b.forenames:
            threshold = self.guards.forename_similarity
            if not any(_forename_compatible(x, y, threshold) for x in a.forenames for y in b.forenames):
                return False
        return True

    def union(self, x: int, y: int) -> bool:
        rx, ry = self.find(x), self.find(y)
        if rx == ry:
            return True
        a, b = self.state[rx], self.state[ry]
        if not self.allowed(a, b):
            return False
        if rx > ry:
            rx, ry = ry, rx
            a, b = b, a
        self.parent[ry] = rx
        for name, values in b.ids.items():
            a.ids.setdefault(name, set()).update(values)
        a.dobs |= b.dobs
        a.forenames |= b.forenames
        return True


def cluster_profiles(profiles: pl.DataFrame, edges: pl.DataFrame, guards: Guards) -> pl.DataFrame:
    """``pid -> cluster`` (the cluster's smallest pid) after merging ``edges`` strongest first."""
    clusters = _Clusters(profiles, guards)
    ordered = edges.sort(["probability", "rule_order", "pid_l", "pid_r"], descending=[True, False, False, False])
    for left, right in ordered.select("pid_l", "pid_r").iter_rows():
        clusters.union(left, right)
    roots = [clusters.find(i) for i in range(profiles.height)]
    return pl.DataFrame(
        {"pid": list(range(profiles.height)), "cluster": roots}, schema={"pid": pl.Int64, "cluster": pl.Int64}
    )
