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

- ``forename`` again, for twins: when both clusters share a date of birth and a
  matched UPRN, forenames that are only Jaro-Winkler similar (Oliver, Olivia) do not
  make them one person if their recorded sexes conflict;
- ambiguous weak records: a profile without a full forename (an initial or none) or
  without a date of birth whose candidate partners could not all be one person (twins,
  a father and his namesake son) links to none of them;
- ``cannot_link``: a reviewer ruled that two records are not one person; no cluster
  ever holds both (each ruling is a token the two sides carry with opposite marks).

A pair a guard refuses is dropped; its records may still meet through other pairs,
which are checked in the same way. Reviewers' ``must_link`` pairs are merged first and
bypass every guard but ``cannot_link``. Any scorer that produces pairs with
probabilities (the Splink model, deterministic rules) can feed this step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl
from rapidfuzz.distance import JaroWinkler

from tfident.link.config import Guards


@dataclass
class _Cluster:
    ids: dict[str, set[str]] = field(default_factory=dict)
    dobs: set[dt.date] = field(default_factory=set)
    forenames: set[tuple[str, str, str, tuple[str, ...]]] = field(default_factory=set)
    uprns: set[int] = field(default_factory=set)
    sexes: set[str] = field(default_factory=set)
    bans: dict[int, int] = field(default_factory=dict)
    """cannot_link ruling number -> side (0 or 1) of the records this cluster holds."""


def _dob_compatible(a: dt.date, b: dt.date) -> bool:
    if a == b or abs((a - b).days) == 1:
        return True
    if (a.month, a.day) == (b.month, b.day) and abs(a.year - b.year) == 1:
        return True
    return a.year == b.year and a.day == b.month and a.month == b.day


def _forename_same(a: tuple[str, str, str, tuple[str, ...]], b: tuple[str, str, str, tuple[str, ...]]) -> bool:
    return a[0] == b[0] or a[1] == b[1] or bool(a[2] and a[2] == b[2]) or bool(set(a[3]) & set(b[3]))


def _forename_compatible(
    a: tuple[str, str, str, tuple[str, ...]], b: tuple[str, str, str, tuple[str, ...]], threshold: float
) -> bool:
    if _forename_same(a, b):
        return True
    return JaroWinkler.normalized_similarity(a[0], b[0]) >= threshold


class _Clusters:
    def __init__(self, profiles: pl.DataFrame, guards: Guards, cannot_link: Sequence[tuple[int, int]] = ()) -> None:
        self.guards = guards
        n = profiles.height
        self.parent = list(range(n))
        self.state: list[_Cluster] = []
        id_columns = list(guards.conflicting_identifiers)
        rows = profiles.select(
            "pid", "date_of_birth", "forename_first", "forename_canonical", "forename_metaphone", "forename_variant",
            "uprn_matched", "sex", *id_columns,
        ).iter_rows()  # fmt: skip
        for row in rows:
            pid, dob, first, canonical, metaphone, variants, uprn, sex = row[:8]
            if pid != len(self.state):  # pragma: no cover - build_profiles numbers pids 0..n-1
                raise ValueError("profile ids must be 0..n-1 in order")
            cluster = _Cluster()
            if uprn is not None:
                cluster.uprns.add(uprn)
            if sex in ("M", "F"):
                cluster.sexes.add(sex)
            for name, value in zip(id_columns, row[8:], strict=True):
                if value is not None:
                    cluster.ids[name] = {value}
            if dob is not None:
                cluster.dobs.add(dob)
            if first is not None and len(first) > 1:
                cluster.forenames.add((first, canonical or first, metaphone or "", tuple(variants or ())))
            self.state.append(cluster)
        for token, (left, right) in enumerate(cannot_link):
            self.state[left].bans[token] = 0
            self.state[right].bans[token] = 1

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    @staticmethod
    def banned(a: _Cluster, b: _Cluster) -> bool:
        small, large = (a.bans, b.bans) if len(a.bans) <= len(b.bans) else (b.bans, a.bans)
        return any(large.get(token, side) != side for token, side in small.items())

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
            twins_context = a.dobs & b.dobs and a.uprns & b.uprns and a.sexes and b.sexes and not a.sexes & b.sexes
            if twins_context and not any(_forename_same(x, y) for x in a.forenames for y in b.forenames):
                return False
        return True

    def union(self, x: int, y: int, force: bool = False) -> bool:
        rx, ry = self.find(x), self.find(y)
        if rx == ry:
            return True
        a, b = self.state[rx], self.state[ry]
        if self.banned(a, b) or not (force or self.allowed(a, b)):
            return False
        if rx > ry:
            rx, ry = ry, rx
            a, b = b, a
        self.parent[ry] = rx
        for name, values in b.ids.items():
            a.ids.setdefault(name, set()).update(values)
        a.dobs |= b.dobs
        a.forenames |= b.forenames
        a.uprns |= b.uprns
        a.sexes |= b.sexes
        a.bans.update(b.bans)
        return True


def _ambiguous(clusters: _Clusters, edges: pl.DataFrame) -> set[int]:
    """Weak profiles (no full forename or no date of birth) whose partners could not all be one person."""
    weak = {pid for pid, state in enumerate(clusters.state) if not state.forenames or not state.dobs}
    if not weak:
        return set()
    partners: dict[int, list[int]] = {}
    for left, right in edges.select("pid_l", "pid_r").iter_rows():
        if left in weak:
            partners.setdefault(left, []).append(right)
        if right in weak:
            partners.setdefault(right, []).append(left)
    found = set()
    for pid, others in partners.items():
        states = [clusters.state[o] for o in others]
        if any(not clusters.allowed(x, y) for i, x in enumerate(states) for y in states[i + 1 :]):
            found.add(pid)
    return found


def cluster_profiles(
    profiles: pl.DataFrame,
    edges: pl.DataFrame,
    guards: Guards,
    cannot_link: Sequence[tuple[int, int]] = (),
    must_link: Sequence[tuple[int, int]] = (),
) -> pl.DataFrame:
    """``pid -> cluster`` (the cluster's smallest pid) after merging ``must_link`` pairs, then
    ``edges`` strongest first; ``cannot_link`` pairs of pids never end up in one cluster."""
    clusters = _Clusters(profiles, guards, sorted(cannot_link))
    for left, right in sorted(must_link):
        clusters.union(left, right, force=True)
    ambiguous = _ambiguous(clusters, edges)
    if ambiguous:
        drop = pl.Series(sorted(ambiguous), dtype=pl.Int64).implode()
        edges = edges.filter(~pl.col("pid_l").is_in(drop) & ~pl.col("pid_r").is_in(drop))
    ordered = edges.sort(["probability", "rule_order", "pid_l", "pid_r"], descending=[True, False, False, False])
    for left, right in ordered.select("pid_l", "pid_r").iter_rows():
        clusters.union(left, right)
    roots = [clusters.find(i) for i in range(profiles.height)]
    return pl.DataFrame(
        {"pid": list(range(profiles.height)), "cluster": roots}, schema={"pid": pl.Int64, "cluster": pl.Int64}
    )
