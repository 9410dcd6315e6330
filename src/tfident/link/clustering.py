"""Clustering scored pairs of profiles into persons, with guards against bad merges.

Pairs are taken strongest first (probability, then rule order, then profile ids, so
the result does not depend on row order) and merged with union-find. Before two
clusters merge, the guards of the configuration are checked against everything each
cluster already holds:

- ``conflicting_identifiers``: both clusters hold a value of the identifier and no
  value in common, nor two values one keying error apart (two different UPNs are
  usually two different children; ``399722317`` / ``399742317`` is a typo), unless the
  pair being merged is strong without its identifiers (its match weight less the
  identifier comparisons' weights reaches ``identifier_override_weight``, the edge's
  ``override_ids``): then a disagreeing identifier is evidence (its comparison's negative
  weight, already in the score), not a veto: a mis-keyed or temporary UPN. So too, with
  ``same_identity_overrides_identifiers``, when the two profiles of the pair agree exactly
  on first forename, surname, date of birth and address (one matched UPRN, or one
  normalised address text where neither has a UPRN) and carry no opposite sexes: two
  people cannot share all of that, whatever the model's term frequencies make of a
  common name (a record carrying a sibling's UPN, a re-keyed UPN). Every other
  guard still applies, so twins carrying different UPNs stay apart. Between two profiles
  with the same first forename and surname, ``same_name_identifier_errors`` keying errors
  (two by default: ``220263447`` / ``Z202G3447``, an OCR reading) are tolerated instead of
  one in an identifier with no check character (:data:`CHECKED_IDENTIFIERS`): twins differ
  in forename, so a twin's identifier (often two keying errors from the other's) never
  meets this tolerance. With ``undated_namesakes_share_ids``, no veto between two clusters that hold no date of birth,
  the same full names and a shared address (:func:`_one_undated_name`): one worker's tax forms
  under different numbers (pseudopeople gives a worker with no SSN of their own another number on
  each employer's form), where no date of birth could tell a namesake apart anyway and the dob
  guard still decides when either meets a record that carries one;
- ``dob``: both clusters hold dates of birth and none of one is compatible with any of
  the other (equal, day and month transposed, one day apart, one year apart on the
  same day, or one digit of YYYYMMDD different): a father and his namesake son.
  With ``dob_copied_from_household``, not when every date of birth one cluster holds is
  a copy of a household member's (:func:`copied_dobs`: the date of birth of a record of
  another person, by forename, at the record's address) and the other cluster records
  none of its dates of birth at those addresses: pseudopeople's census copies a
  household member's date of birth onto a record, as a form filled in for the whole
  household can. The namesake son's own date of birth is no other person's, and the
  father's is recorded at their address, so they stay apart. With
  ``dob_copied_seen_on_person`` the member may be a person of the run, not only a record at
  the address (:func:`copied_dobs_by_person`, after a first clustering:
  :func:`tfident.link.components.recluster_copied_dobs`);
- ``forename``: both clusters hold full forenames and none of one is compatible with
  any of the other (same, same canonical or metaphone, nickname variants meet,
  Jaro-Winkler similar, one keying error apart in a name of three letters or more, or
  one a shortened form of the other: :func:`_hypocoristic`), and neither's first
  forename is a middle name of the other's (a middle name used as forename) nor are
  forename and surname swapped (each name of the one close to the other's other name:
  the same, one keying error apart, one the start of the other, nickname variants: a
  double-barrelled surname written as forenames, ``SMITH GREEN, BENJAMIN``): twins.

- ``forename`` again, for twins: when both clusters share a date of birth and an
  address (a matched UPRN or, for records without one, a postcode), their *principal*
  forenames (the full forenames most of each cluster's records carry) must be one name:
  the same, the same canonical or sound, nickname variants that meet, one the shortened
  form of the other (three letters or more: Cal, Callum; with the endings of a pet form
  when the principal sexes do not conflict: Rubes, Ruby; Mase, Mason), one keying error
  apart (Damerau-Levenshtein distance 1: a typo), or one a middle name of the other
  cluster's full forenames (a middle name used as forename; a forename/surname swap likewise).
  The middle name does not count when a third cluster at that date of birth and address has
  it for principal forename, principal forenames not one name with the other's, and an
  established principal identifier (carried by two records or more, of the cluster or of the
  profiles there, whether or not they have merged yet) conflicting with the
  other's: twins named each after the other (``Olivia Mia``, ``Mia Olivia``), each with her
  own UPN. A record whose principal identifier is such a twin's, and whose forename is a
  middle name of that twin, joins neither twin across an identifier conflict (an identical
  identity or a strong pair overriding it): its name says one twin, its number the other.
  Distinct names (Oliver, Olivia: Jaro-Winkler similar, two edits apart) are twins whatever sexes the records carry,
  and a stray record (Olivia recorded once as Ollie, a nickname of Oliver's, or once
  with the wrong sex) cannot bridge them, because it does not change a cluster's
  principal name. When the clusters' principal sexes conflict, neither a single keying
  error nor a shortened form makes them one person (Eva and Evan); and when one of them has no forename (an unnamed
  newborn, ``Baby``), conflicting principal sexes alone keep them apart, and so does an initial
  (``E``) that none of the other's forenames, their variants or middle names begins with, at one UPRN
  or one full UK postcode;
- ambiguous weak records: a profile without a full forename (an initial or none) or
  without a date of birth whose candidate partners could not all be one person (twins,
  a father and his namesake son) links to none of them, unless its best partner
  outweighs every partner it could not be one person with by ``ambiguous_margin`` bits
  (an identifier or an address text that agrees with one of them only); when that best
  partner could be one person with all of them (a weak copy of the profile), the partners
  are kept strongest first while they could be one person together, and each one left out
  must be outweighed by that margin by the strongest kept partner it conflicts with. With
  ``weak_record_bridges_dob``, a profile with no date of birth keeps its edge to a partner
  so outweighed, merged past the ``dob`` guard, when every stronger partner it conflicts with
  outweighs it by the margin, carries no opposite sex (under another forename), is one name
  with the profile (as the partner is), and the partner carries no identifier, each of the
  two a single record (:func:`_bridges`): a tax form joining a Social Security record and a
  census record of one person whose dates of birth no typo explains;
- ``one_record_per_slot``: both clusters hold a record of one slot of a source (one school and
  term of ``attendance``, one school and census day of ``school_census``: ``person_slot`` in
  ``tfident/ingest/sources.yaml``), which one person fills once: they are two people, whatever
  else agrees or overrides (twins named each after the other, a record carrying a twin's UPN and
  a mistyped date of birth). Clustering sees only the slots a profile shares with another profile
  of its component (:func:`tfident.link.slots.contested_slots`);
- ``cannot_link``: a reviewer ruled that two records are not one person; no cluster
  ever holds both (each ruling is a token the two sides carry with opposite marks).

A pair a guard refuses is dropped; its records may still meet through other pairs,
which are checked in the same way. Reviewers' ``must_link`` pairs are merged first and
bypass every guard but ``cannot_link``. Any scorer that produces pairs with
probabilities (:data:`EDGE_SCHEMA`) can feed this step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz.distance import OSA, JaroWinkler

from tfident.ingest.identifiers import is_valid_postcode
from tfident.link.config import Guards
from tfident.link.graph import components
from tfident.link.slots import SLOT_COLUMN
from tfident.standardise import names
from tfident.standardise.names import forename_variants

EDGE_SCHEMA: dict[str, pl.DataType] = {
    "pid_l": pl.Int64(),
    "pid_r": pl.Int64(),
    "probability": pl.Float64(),
    "rule": pl.String(),
    "rule_order": pl.Int64(),
}
"""The pairs :func:`cluster_profiles` merges: two profiles, the pair's probability, the name
of the scorer that found it and that scorer's order (the lower wins a tie of probability);
optional ``override_ids`` (bool) and ``weight`` (the match weight, bits)."""

_Forename = tuple[str, str, str, tuple[str, ...]]
"""A full forename as clustering sees it: first forename, canonical, metaphone, nickname variants."""


@dataclass(slots=True)
class _Cluster:
    """What one cluster holds. The sets and mappings are never changed in place: a merge
    builds new ones (:meth:`_Clusters.union`), so the profiles' clusters share equal values
    (one ``frozenset({date})`` for every profile born that day; a million records' clusters
    took 1.2 GB as a set and a dict each).
    """

    ids: Mapping[str, frozenset[str]] = field(default_factory=dict)
    dobs: frozenset[dt.date] = frozenset()
    forenames: frozenset[_Forename] = frozenset()
    name_records: Mapping[_Forename, int] = field(default_factory=dict)
    """Records per full forename (for the principal name)."""
    sex_records: Mapping[str, int] = field(default_factory=dict)
    """Records per recorded sex (for the principal sex)."""
    swaps: frozenset[tuple[str, str]] = frozenset()
    """(first forename, surname) of each record, to recognise a forename/surname swap."""
    middles: frozenset[str] = frozenset()
    """The middle names of the full forenames the cluster holds."""
    initials: frozenset[str] = frozenset()
    """The forenames of the cluster's records that are an initial only (``E``)."""
    firm_dobs: frozenset[dt.date] = frozenset()
    """The dates of birth of the cluster's records that are no copy of a household member's."""
    copied_places: frozenset[str] = frozenset()
    """The addresses (:func:`_place`) of the cluster's records whose date of birth is such a copy."""
    dob_places: frozenset[str] = frozenset()
    """The addresses of the cluster's records that carry a date of birth, where some date of birth is a copy."""
    uprns: frozenset[int] = frozenset()
    postcodes: frozenset[str] = frozenset()
    """Postcodes of records without a matched UPRN."""
    uprn_postcodes: frozenset[str] = frozenset()
    """Postcodes of records with a matched UPRN (:func:`_one_address`)."""
    bans: Mapping[int, int] = field(default_factory=dict)
    """cannot_link ruling number -> side (0 or 1) of the records this cluster holds."""
    records: int = 0
    component: int = 0
    """The connected component of the scored pairs the cluster lies in (:func:`cluster_profiles`)."""
    id_records: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """Records per identifier value (``(identifier, value)``), for the principal identifiers;
    empty in a cluster of one profile, whose values each have all its ``records``."""
    slots: frozenset[str] = frozenset()
    """The slots its records fill that another profile of its component fills too
    (:func:`tfident.link.slots.contested_slots`): a cluster holding one never merges with another holding it."""

    def principal_names(self) -> list[_Forename]:
        """The full forenames most of the cluster's records carry (several on a tie)."""
        top = max(self.name_records.values(), default=0)
        return [name for name, n in self.name_records.items() if n == top]

    def principal_sexes(self) -> set[str]:
        """The sex most of the cluster's records carry (both on a tie, none when unknown)."""
        top = max(self.sex_records.values(), default=0)
        return {sex for sex, n in self.sex_records.items() if n == top}

    def id_tally(self) -> Mapping[tuple[str, str], int]:
        """Records per identifier value (``(identifier, value)``)."""
        if self.id_records:
            return self.id_records
        return {(name, value): self.records for name, values in self.ids.items() for value in values}

    def principal_ids(self, name: str) -> frozenset[str]:
        """The values of identifier ``name`` most of the cluster's records carry (several on a tie)."""
        counts = {value: n for (key, value), n in self.id_tally().items() if key == name}
        top = max(counts.values(), default=0)
        return frozenset(value for value, n in counts.items() if n == top)


def _digits(day: dt.date) -> str:
    """YYYYMMDD, the year zero-padded (``strftime("%Y")`` gives "987" for a mistyped year 987)."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _dob_compatible(a: dt.date, b: dt.date) -> bool:
    if a == b or abs((a - b).days) == 1:
        return True
    if sum(x != y for x, y in zip(_digits(a), _digits(b), strict=True)) == 1:
        return True
    if (a.month, a.day) == (b.month, b.day) and abs(a.year - b.year) == 1:
        return True
    return a.year == b.year and a.day == b.month and a.month == b.day


def _ids_conflict(a: AbstractSet[str], b: AbstractSet[str], errors: int = 1) -> bool:
    """Two clusters' values of one identifier conflict: none in common, and none ``errors``
    keying errors or fewer from one of the other's (a digit mistyped, two transposed:
    ``399722317`` / ``399742317``). A mistyped identifier still weighs against the pair in
    the model (its comparison's else level); it just does not veto the merge.
    """
    if a & b:
        return False
    return not any(len(x) == len(y) >= MIN_KEYED_LENGTH and OSA.distance(x, y) <= errors for x in a for y in b)


MIN_KEYED_LENGTH = 8
"""Identifiers this long or longer may carry one keying error (UPN 13 characters, NINO 9,
NHS number 10); in a shorter code one character is too much of the value."""

CHECKED_IDENTIFIERS = frozenset({"upn", "nhs_number"})
"""Identifiers carrying a check character, which standardisation verifies (an invalid value is
dropped): a value keyed wrong seldom passes it, so two valid values two keying errors apart (one
digit and its check character) are two numbers, often issued in sequence (one school's intake).
``same_name_identifier_errors`` does not apply to them."""


def _shortened(a: str, b: str) -> bool:
    """One forename, of three letters or more, is the start of the other (Cal, Callum; Bil, Bilal)."""
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return len(short) >= 3 and len(short) < len(long) and long.startswith(short)


def _forename_same(a: _Forename, b: _Forename) -> bool:
    return (
        a[0] == b[0]
        or a[1] == b[1]
        or bool(a[2] and a[2] == b[2])
        or bool(set(a[3]) & set(b[3]))
        or _shortened(a[0], b[0])
    )


PET_ENDINGS: tuple[str, ...] = ("IES", "IE", "ES", "EY", "Y", "I", "S", "E")
"""Endings English pet forms add to the start of a name (Rubes, Mase, Richie, Ambs, Sammy)."""

MIN_STEM = 3
"""Letters of a name's start a pet form must keep to stand for it (Mas-e for Mason; not Ib-by)."""


def _hypocoristic(a: str, b: str) -> bool:
    """The shorter forename is a pet form of the longer one: its start (at least
    :data:`MIN_STEM` letters, a doubled last letter undoubled) with a pet ending
    (:data:`PET_ENDINGS`) or none: Rubes / Ruby, Mase / Mason, Ambs / Amber, Sammie /
    Samantha, Richie / Richard. Names no such rule reaches (Mimi / Amelia, Bex / Rebecca)
    need the name tables (:data:`tfident.standardise.names.DIMINUTIVES`).
    """
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if short == long:
        return False
    stems = {short} | {short[: -len(e)] for e in PET_ENDINGS if short.endswith(e)}
    stems |= {x[:-1] for x in stems if len(x) >= 2 and x[-1] == x[-2]}
    return any(len(x) >= MIN_STEM and x != long and long.startswith(x) for x in stems)


def _forename_same_across_sexes(a: _Forename, b: _Forename) -> bool:
    """:func:`_forename_same` without the shortened form: for clusters of opposite principal
    sexes, where a name that starts another is a twin's (Eva and Evan, Jo and Joe).
    """
    return a[0] == b[0] or a[1] == b[1] or bool(a[2] and a[2] == b[2]) or bool(set(a[3]) & set(b[3]))


def _forename_one_name(a: _Forename, b: _Forename) -> bool:
    """One name, perhaps mistyped or a pet form: :func:`_forename_same`, one keying error apart
    or :func:`_hypocoristic`.
    """
    return _forename_same(a, b) or OSA.distance(a[0], b[0]) <= 1 or _hypocoristic(a[0], b[0])


def _keyed(a: str, b: str) -> bool:
    """One keying error apart (a letter wrong, missing, extra, or two transposed), in names of
    three letters or more (in shorter ones a letter is too much of the name).
    """
    return min(len(a), len(b)) >= MIN_KEYED_NAME and OSA.distance(a, b) <= 1


MIN_KEYED_NAME = 3


def _forename_compatible(a: _Forename, b: _Forename, threshold: float) -> bool:
    if _forename_same(a, b) or _keyed(a[0], b[0]) or _hypocoristic(a[0], b[0]):
        return True
    return JaroWinkler.normalized_similarity(a[0], b[0]) >= threshold


def _initial_differs(weak: _Cluster, other: _Cluster) -> bool:
    """``weak`` has no full forename and an initial that none of ``other``'s names begins with: no
    forename, canonical form or variant of its full forenames, no middle name, and (when ``other``
    has no full forename either) none of its initials.
    """
    if weak.forenames or not weak.initials:
        return False
    if other.forenames:
        letters = {n[0] for f in other.forenames for n in (f[0], f[1], *f[3]) if n} | {m[0] for m in other.middles}
    else:
        letters = set(other.initials)
    return bool(letters) and not weak.initials & letters


@cache
def _variants(name: str) -> frozenset[str]:
    return frozenset(forename_variants(name))


def release_caches() -> None:
    """Empty clustering's and the name standardisation's per-name caches
    (:func:`tfident.standardise.names.release_caches`) once a batch no longer needs them.
    """
    _variants.cache_clear()
    names.release_caches()


def _name_close(a: str, b: str) -> bool:
    """A forename and a surname that may be one name written twice (for a swap): equal, one
    keying error apart, one the start of the other (three letters or more: a
    double-barrelled surname whose first part is written as forename), or nickname variants.
    """
    if a == b or _keyed(a, b):
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return (len(short) >= MIN_STEM and long.startswith(short)) or bool(_variants(a) & _variants(b))


def _swapped(a: _Cluster, b: _Cluster) -> bool:
    """One cluster holds a record whose forename and surname are another's swapped, each
    perhaps mistyped or shortened (:func:`_name_close`).
    """
    if any((surname, first) in b.swaps for first, surname in a.swaps):
        return True
    return any(
        _name_close(first_a, surname_b) and _name_close(surname_a, first_b)
        for first_a, surname_a in a.swaps
        for first_b, surname_b in b.swaps
    )


def _middle_name_used(
    a: _Cluster, b: _Cluster, names_a: Sequence[_Forename] | None = None, names_b: Sequence[_Forename] | None = None
) -> bool:
    """One cluster's first forename (of ``names_a``/``names_b``, else any) is a later word of the
    other's full forenames: a middle name used as forename. Not when the cluster using it
    carries middle names of its own that the other never shows, as first or middle name:
    ``Fatima Hafsa`` is not ``Khadija Fatima`` known by her middle name, but her twin.
    """
    firsts_a = {x[0] for x in (a.forenames if names_a is None else names_a)}
    firsts_b = {y[0] for y in (b.forenames if names_b is None else names_b)}

    def used(firsts: set[str], user: _Cluster, other: _Cluster, other_firsts: set[str]) -> bool:
        return bool(firsts & other.middles) and not (user.middles - other.middles - other_firsts)

    return used(firsts_a, a, b, firsts_b) or used(firsts_b, b, a, firsts_a)


class _Clusters:
    def __init__(
        self,
        profiles: pl.DataFrame,
        guards: Guards,
        cannot_link: Sequence[tuple[int, int]] = (),
        component: np.ndarray | None = None,
    ) -> None:
        self.guards = guards
        n = profiles.height
        self.parent = list(range(n))
        self.state: list[_Cluster] = []
        id_columns = list(guards.conflicting_identifiers)
        counts = profiles["records"] if "records" in profiles.columns else pl.repeat(1, n, eager=True)
        if "forename_middles" not in profiles.columns:  # profiles not from build_profiles: the forename's later words
            later = pl.col("forename_std").str.split(" ").list.slice(1)
            profiles = profiles.with_columns(later.alias("forename_middles"))
        if "surname_std" not in profiles.columns:
            profiles = profiles.with_columns(pl.lit(None, dtype=pl.String).alias("surname_std"))
        self.identity = _identities(profiles) if guards.same_identity_overrides_identifiers else [None] * n
        self.records = counts.to_numpy()
        """Records per profile (profiles only: a cluster's records are its profiles' sum)."""
        labels = np.zeros(n, dtype=np.int64) if component is None else component
        self.twin_places = _twin_places(profiles, labels) if guards.forename else {}
        """(component, date of birth, UPRN or postcode) -> the profiles there, where several first
        forenames meet. Within a component only, so a component clusters the same whatever the
        others hold (an incremental run reuses unchanged components' clusters)."""
        self.id_support = _id_support(profiles, counts, labels, self.twin_places, id_columns)
        """(component, identifier, value) -> the records of the :data:`twin_places` profiles carrying
        it: whether a number is established does not wait for its records to merge."""
        self.names = _name_keys(profiles) if guards.same_name_identifier_errors > 1 else None
        marked = mark_copied_dobs(profiles, guards)
        copied = (
            marked[COPIED_COLUMN]
            if COPIED_COLUMN in marked.columns
            else pl.Series(COPIED_COLUMN, [None] * n, dtype=pl.String)
        )
        # a cluster's addresses matter only where some date of birth is a copy (``_dobs_copied`` meets
        # them with the copies' addresses): every other address is left out of the clusters' state
        places = _place(profiles)
        place = pl.when(places.is_in(copied.drop_nulls().unique().implode())).then(places)
        slots = (
            pl.col(SLOT_COLUMN)
            if guards.one_record_per_slot and SLOT_COLUMN in profiles.columns
            else pl.lit(None, dtype=pl.List(pl.String))
        )
        rows = profiles.with_columns(
            counts.alias("_records"), place.alias("_place"), copied.alias("_copied"), slots.alias("_slots")
        ).select(
            "pid", "date_of_birth", "forename_first", "forename_canonical", "forename_metaphone", "forename_variant",
            "uprn_matched", "sex", "forename_middles", "postcode_std", "_records", "surname_std", "_place", "_copied",
            "_slots", *id_columns,
        ).iter_rows()  # fmt: skip
        shared: dict[object, object] = {}

        def one(value: object) -> Any:
            """``value``, or the equal value an earlier profile's cluster already holds."""
            return shared.setdefault(value, value)

        tallies: dict[tuple[Any, int], Mapping[Any, int]] = {}

        def tally(value: Any, records: int) -> Mapping[Any, int]:
            """``{value: records}``, one mapping for every profile's cluster with that tally."""
            found = tallies.get((value, records))
            if found is None:
                found = tallies[(value, records)] = {value: records}
            return found

        no_ids: Mapping[str, frozenset[str]] = {}
        no_counts: Mapping[Any, int] = {}
        for row in rows:
            pid, dob, first, canonical, metaphone, variants, uprn, sex, middles, postcode, records, surname = row[:12]
            place, copied_at, held = row[12:15]
            if pid != len(self.state):  # pragma: no cover - build_profiles numbers pids 0..n-1
                raise ValueError("profile ids must be 0..n-1 in order")
            cluster = _Cluster(
                ids=no_ids,
                name_records=no_counts,
                sex_records=no_counts,
                bans=no_counts,
                records=records,
                component=int(labels[pid]),
                id_records=no_counts,
            )
            if uprn is not None:
                cluster.uprns = one(frozenset((uprn,)))
                if postcode is not None:
                    cluster.uprn_postcodes = one(frozenset((postcode,)))
            elif postcode is not None:
                cluster.postcodes = one(frozenset((postcode,)))
            if sex in ("M", "F"):
                cluster.sex_records = tally(sex, records)
            if held:
                cluster.slots = one(frozenset(held))
            ids: dict[str, frozenset[str]] = {
                name: one(frozenset((value,)))
                for name, value in zip(id_columns, row[15:], strict=True)
                if value is not None
            }
            if ids:
                cluster.ids = ids
            if dob is not None:
                cluster.dobs = one(frozenset((dob,)))
                if copied_at is None:
                    cluster.firm_dobs = cluster.dobs
                else:
                    cluster.copied_places = one(frozenset((copied_at,)))
                if place is not None:
                    cluster.dob_places = one(frozenset((place,)))
            if first is not None and len(first) > 1:
                forename: _Forename = one((first, canonical or first, metaphone or "", tuple(variants or ())))
                cluster.forenames = one(frozenset((forename,)))
                cluster.name_records = tally(forename, records)
                # later words of the forename and the middle names (rules._add_derived); the
                # forename never holds a record's middle names, so both are needed
                cluster.middles = one(frozenset(t for t in (middles or ()) if len(t) > 1))
                if surname is not None:
                    cluster.swaps = one(frozenset(((first, surname),)))
            elif first is not None and len(first) == 1:
                cluster.initials = one(frozenset((first,)))
            self.state.append(cluster)
        for token, (left, right) in enumerate(cannot_link):
            self.state[left].bans = {**self.state[left].bans, token: 0}
            self.state[right].bans = {**self.state[right].bans, token: 1}

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

    def _others_here(self, a: _Cluster, b: _Cluster) -> list[_Cluster]:
        """The other clusters holding a profile at an address and date of birth ``a`` and ``b``
        share (:data:`twin_places`: where several first forenames meet).
        """
        if not self.twin_places:
            return []
        places: list[object] = [*(a.uprns & b.uprns), *(a.postcodes & b.postcodes)]
        for x, y in ((a, b), (b, a)):  # an address without a UPRN at the postcode of the other's UPRNs
            if shared := x.postcodes & y.uprn_postcodes:
                places += [*shared, *y.uprns]
        found: dict[int, _Cluster] = {}
        for dob in a.dobs & b.dobs:
            for place in places:
                for pid in self.twin_places.get((a.component, dob, place), ()):
                    other = self.state[self.find(pid)]
                    if other is not a and other is not b:
                        found.setdefault(id(other), other)
        return list(found.values())

    def _named_twin(self, user: _Cluster, holder: _Cluster, names: Sequence[_Forename]) -> bool:
        """Another cluster at an address and date of birth ``user`` and ``holder`` share has for
        principal forename a first forename of ``user``'s ``names`` that is a middle name of
        ``holder``'s, principal forenames not one name with ``holder``'s, and an established
        principal identifier that conflicts with ``holder``'s (:meth:`_principal_ids_conflict`):
        that name is a twin's (``Mia Olivia`` beside ``Olivia Mia``), not ``holder``'s used as forename.
        """
        used = {n[0] for n in names} & holder.middles
        return bool(used) and any(
            {n[0] for n in other.principal_names()} & used
            and self._principal_ids_conflict(other, holder)
            and not _principal_names_one(other, holder)
            for other in self._others_here(user, holder)
        )

    def _twins_number(self, a: _Cluster, b: _Cluster) -> bool:
        """One of ``a``, ``b`` (``x``) carries for principal identifier the established principal
        identifier of a third cluster at an address and date of birth they share, whose middle
        names hold ``x``'s principal forename, whose principal identifiers conflict with the other's
        (``y``) and whose principal forenames are not one name with ``y``'s: ``x`` is either that
        twin known by a middle name or ``y`` carrying the twin's number (``Mohammed`` with the
        number of ``Ali Mohammed``, beside his twin ``Mohammed``), so it joins neither, whatever
        else overrides the identifiers.
        """
        if not (a.ids and b.ids):
            return False
        for other in self._others_here(a, b):
            for x, y in ((a, b), (b, a)):
                if (
                    {n[0] for n in x.principal_names()} & other.middles
                    and self._principal_ids_conflict(other, y)
                    and any(name in other.ids and x.principal_ids(name) & other.principal_ids(name) for name in x.ids)
                    and not _principal_names_one(other, y)
                ):
                    return True
        return False

    def _established(self, cluster: _Cluster, name: str) -> frozenset[str]:
        """The principal values of identifier ``name`` in ``cluster`` (:meth:`_Cluster.principal_ids`)
        when established: carried by :data:`ESTABLISHED_RECORDS` records or more, in the cluster or
        among the profiles where twins meet (:data:`id_support`: a twin's records may not have merged
        yet, her number already on two of them); else none.
        """
        values = cluster.principal_ids(name)
        top = max((n for (key, _), n in cluster.id_tally().items() if key == name), default=0)
        support = max((self.id_support.get((cluster.component, name, v), 0) for v in values), default=0)
        return values if max(top, support) >= ESTABLISHED_RECORDS else frozenset()

    def _principal_ids_conflict(self, a: _Cluster, b: _Cluster) -> bool:
        """Some identifier both clusters hold has established principal values (:meth:`_established`)
        that conflict (:func:`_ids_conflict`, one keying error tolerated). A number on one record is
        not established: a temporary or mis-keyed UPN splits one person's records as often as twins do.
        """
        for name in a.ids:
            if name not in b.ids:
                continue
            values_a, values_b = self._established(a, name), self._established(b, name)
            if values_a and values_b and _ids_conflict(values_a, values_b):
                return True
        return False

    def id_errors(self, x: int, y: int) -> int:
        """The keying errors tolerated between identifiers across a pair of profiles ``x``, ``y``:
        ``same_name_identifier_errors`` when both carry one first forename and surname, else one.
        """
        if self.names is not None and self.names[x] and self.names[x] == self.names[y]:
            return self.guards.same_name_identifier_errors
        return 1

    def may_join(self, x: int, y: int) -> bool:
        """:meth:`allowed` for the clusters of profiles ``x`` and ``y`` (their states), the pair's tolerance,
        with identifiers overridden for two profiles of one identity (:meth:`same_identity`), as :meth:`union`
        does: a weak record's partners of one name, date of birth and address, one of them carrying a
        sister's UPN, could be one person (lagged seed 150: Amelia Hart's undated youth offending record).
        """
        return self.allowed(
            self.state[x], self.state[y], override_ids=self.same_identity(x, y), errors=self.id_errors(x, y)
        )

    def one_forename(self, x: int, y: int) -> bool:
        """The clusters of profiles ``x`` and ``y`` have principal forenames that are one name
        (:func:`_forename_one_name`: not merely similar, Maria and Martha), or one has none.
        """
        return _principal_names_one(self.state[x], self.state[y])

    def opposite_sexes(self, x: int, y: int) -> bool:
        """The clusters of profiles ``x`` and ``y`` carry principal sexes with none in common, and no
        principal first forename in common (one name written alike with opposite sexes is a sex
        keyed wrong: Eric, female; a son and his mother differ in forename).
        """
        a, b = self.state[x], self.state[y]
        sexes_a, sexes_b = a.principal_sexes(), b.principal_sexes()
        if not (sexes_a and sexes_b) or sexes_a & sexes_b:
            return False
        return not {n[0] for n in a.principal_names()} & {n[0] for n in b.principal_names()}

    def allowed(
        self, a: _Cluster, b: _Cluster, override_ids: bool = False, errors: int = 1, check_dob: bool = True
    ) -> bool:
        if a.slots & b.slots:  # two records of one slot are two people (``one_record_per_slot``)
            return False
        if not override_ids and self.guards.undated_namesakes_share_ids:
            override_ids = _one_undated_name(a, b)
        if not override_ids:
            if _clusters_ids_conflict(a, b, errors):
                return False
        elif self.guards.forename and _clusters_ids_conflict(a, b, errors) and self._twins_number(a, b):
            return False
        if (
            check_dob
            and self.guards.dob
            and a.dobs
            and b.dobs
            and not any(_dob_compatible(x, y) for x in a.dobs for y in b.dobs)
            and not (_dobs_copied(a, b) or _dobs_copied(b, a))
        ):
            return False
        if self.guards.forename and a.forenames and b.forenames:
            threshold = self.guards.forename_similarity
            if not any(_forename_compatible(x, y, threshold) for x in a.forenames for y in b.forenames) and not (
                _middle_name_used(a, b) or _swapped(a, b)
            ):
                return False
            if a.dobs & b.dobs and _one_address(a, b) and not self._one_name(a, b):
                return False
        elif self.guards.forename and a.dobs & b.dobs and _one_address(a, b):
            # no forename on one side (an unnamed newborn, "Baby"): at one address with one
            # date of birth, only the recorded sex tells twins apart
            sexes_a, sexes_b = a.principal_sexes(), b.principal_sexes()
            if sexes_a and sexes_b and not sexes_a & sexes_b:
                return False
            # ... and the initial a record gives (``E Williams`` carrying her twin Ava's UPN is Evie's),
            # at one UPRN or one full postcode (not a value every record shares: a harness's zip 00000)
            if (a.uprns & b.uprns or any(is_valid_postcode(p) for p in a.postcodes & b.postcodes)) and (
                _initial_differs(a, b) or _initial_differs(b, a)
            ):
                return False
        return True

    def _one_name(self, a: _Cluster, b: _Cluster) -> bool:
        """Whether two clusters at one address with one date of birth name one person, not twins.

        A middle name used as forename makes them one only when the name so used is not the
        principal forename of a third cluster there that is the other's twin
        (:meth:`_named_twin`): twins named each after the other (``Olivia Mia``, ``Mia
        Olivia``) carry two numbers. (Requiring the two clusters' own principal identifiers
        to agree as well cost messy seed 106 0.0024 of cross-source recall, one person's
        records split by a mis-keyed UPN, and kept no twin pair apart that this does not.)
        """
        names_a, names_b = a.principal_names(), b.principal_names()
        if _swapped(a, b):
            return True
        if _middle_name_used(a, b, names_a, names_b) and not (
            self._named_twin(a, b, names_a) or self._named_twin(b, a, names_b)
        ):
            return True
        sexes_a, sexes_b = a.principal_sexes(), b.principal_sexes()
        same = _forename_same_across_sexes if sexes_a and sexes_b and not sexes_a & sexes_b else _forename_one_name
        return any(same(x, y) for x in names_a for y in names_b)

    def same_identity(self, x: int, y: int) -> bool:
        """Profiles ``x`` and ``y`` agree on first forename, surname, date of birth and address
        (and carry no opposite sexes): one person, whatever identifiers they carry.
        """
        a, b = self.identity[x], self.identity[y]
        if a is None or b is None or a[:4] != b[:4]:
            return False
        return a[4] is None or b[4] is None or a[4] == b[4]

    def union(
        self, x: int, y: int, force: bool = False, override_ids: bool = False, override_dob: bool = False
    ) -> bool:
        rx, ry = self.find(x), self.find(y)
        if rx == ry:
            return True
        override_ids = override_ids or self.same_identity(x, y)
        a, b = self.state[rx], self.state[ry]
        allowed = force or self.allowed(a, b, override_ids, self.id_errors(x, y), check_dob=not override_dob)
        if self.banned(a, b) or not allowed:
            return False
        if rx > ry:
            rx, ry = ry, rx
            a, b = b, a
        self.parent[ry] = rx
        # new sets and mappings, never changed in place: profiles' clusters share them
        if a.ids or b.ids:
            tally = dict(a.id_tally())
            for key, n in b.id_tally().items():
                tally[key] = tally.get(key, 0) + n
            a.id_records = tally
        a.records += b.records
        if b.ids:
            ids = dict(a.ids)
            for name, values in b.ids.items():
                ids[name] = ids.get(name, frozenset()) | values
            a.ids = ids
        a.dobs |= b.dobs
        a.firm_dobs |= b.firm_dobs
        a.copied_places |= b.copied_places
        a.dob_places |= b.dob_places
        a.forenames |= b.forenames
        a.uprns |= b.uprns
        a.postcodes |= b.postcodes
        a.uprn_postcodes |= b.uprn_postcodes
        a.middles |= b.middles
        a.initials |= b.initials
        a.swaps |= b.swaps
        a.slots |= b.slots
        if b.name_records:
            names = dict(a.name_records)
            for forename, n in b.name_records.items():
                names[forename] = names.get(forename, 0) + n
            a.name_records = names
        if b.sex_records:
            sexes = dict(a.sex_records)
            for sex, n in b.sex_records.items():
                sexes[sex] = sexes.get(sex, 0) + n
            a.sex_records = sexes
        if b.bans:
            a.bans = {**a.bans, **b.bans}
        return True


def _one_address(a: _Cluster, b: _Cluster) -> bool:
    """Whether two clusters have an address in common: a matched UPRN, a postcode of records without
    one, or such a postcode and the postcode of the other's UPRN-matched records: an address written
    so that it matched no UPRN (``20 Eastfield Place``, its flat left out) at the postcode of one that
    did (``Flat 4, 20 Eastfield Place``). Twins' records so written would otherwise escape the twin
    guards (messy seed 194: ``Oliver Taylor``, flat left out, went to his twin ``Harry Oliver``).
    """
    return bool(
        a.uprns & b.uprns
        or a.postcodes & b.postcodes
        or a.postcodes & b.uprn_postcodes
        or b.postcodes & a.uprn_postcodes
    )


def _twin_places(profiles: pl.DataFrame, component: np.ndarray) -> dict[tuple[int, dt.date, object], tuple[int, ...]]:
    """(component, date of birth, matched UPRN, else postcode) -> the profiles there that carry a
    full first forename, where two or more first forenames meet (twins, or one person under two names).
    """
    named = (
        profiles.with_columns(pl.Series("_component", component, dtype=pl.Int64))
        .filter(
            pl.col("date_of_birth").is_not_null()
            & (pl.col("forename_first").str.len_chars() > 1)
            & (pl.col("uprn_matched").is_not_null() | pl.col("postcode_std").is_not_null())
        )
        .select("pid", "_component", "date_of_birth", "forename_first", "uprn_matched", "postcode_std")
    )
    out: dict[tuple[int, dt.date, object], tuple[int, ...]] = {}
    for by_uprn in (True, False):
        rows = named.filter(pl.col("uprn_matched").is_not_null() if by_uprn else pl.col("uprn_matched").is_null())
        key = "uprn_matched" if by_uprn else "postcode_std"
        groups = (
            rows.group_by("_component", "date_of_birth", key)
            .agg(pl.col("pid").sort(), pl.col("forename_first").n_unique().alias("names"))
            .filter(pl.col("names") > 1)
        )
        for label, dob, at, pids, _ in groups.iter_rows():
            out[(label, dob, at)] = tuple(pids)
    return out


def _id_support(
    profiles: pl.DataFrame,
    counts: pl.Series,
    component: np.ndarray,
    places: Mapping[tuple[int, dt.date, object], tuple[int, ...]],
    id_columns: Sequence[str],
) -> dict[tuple[int, str, str], int]:
    """(component, identifier, value) -> records, over the profiles of ``places`` (:func:`_twin_places`)."""
    pids = sorted({pid for group in places.values() for pid in group})
    if not pids or not id_columns:
        return {}
    there = (
        profiles.select("pid", *id_columns)
        .with_columns(pl.Series("_records", counts, dtype=pl.Int64), pl.Series("_component", component, dtype=pl.Int64))
        .filter(pl.col("pid").is_in(pl.Series(pids, dtype=pl.Int64).implode()))
    )
    out: dict[tuple[int, str, str], int] = {}
    for name in id_columns:
        sums = there.filter(pl.col(name).is_not_null()).group_by("_component", name).agg(pl.col("_records").sum())
        for label, value, n in sums.iter_rows():
            out[(label, name, value)] = n
    return out


def _principal_names_one(a: _Cluster, b: _Cluster) -> bool:
    """The clusters' principal forenames are one name (:func:`_forename_one_name`; across opposite
    principal sexes :func:`_forename_same_across_sexes`, as for the twins guard: Eva and Evan), or
    one has none.
    """
    names_a, names_b = a.principal_names(), b.principal_names()
    sexes_a, sexes_b = a.principal_sexes(), b.principal_sexes()
    same = _forename_same_across_sexes if sexes_a and sexes_b and not sexes_a & sexes_b else _forename_one_name
    return not names_a or not names_b or any(same(x, y) for x in names_a for y in names_b)


def _clusters_ids_conflict(a: _Cluster, b: _Cluster, errors: int) -> bool:
    """Some identifier both clusters hold has values that conflict (:func:`_ids_conflict`;
    ``errors`` keying errors tolerated in an identifier with no check character).
    """
    for name, values in a.ids.items():
        other = b.ids.get(name)
        if other and _ids_conflict(values, other, 1 if name in CHECKED_IDENTIFIERS else errors):
            return True
    return False


ESTABLISHED_RECORDS = 2
"""Records that must carry a cluster's principal identifier value for the twins rules to rely on it."""


def _one_undated_name(a: _Cluster, b: _Cluster) -> bool:
    """Neither cluster holds a date of birth, both hold the same full names (first forename and
    surname) and they share an address (a matched UPRN, or a postcode of records without one):
    ``undated_namesakes_share_ids``.
    """
    if a.dobs or b.dobs or not a.swaps or a.swaps != b.swaps:
        return False
    return bool(a.uprns & b.uprns or a.postcodes & b.postcodes)


def _dobs_copied(a: _Cluster, b: _Cluster) -> bool:
    """Every date of birth ``a`` holds is a copy of a household member's, and ``b`` records none
    of its dates of birth at the addresses of those copies (a father's, at his namesake son's).
    """
    return not a.firm_dobs and bool(a.copied_places) and not a.copied_places & b.dob_places


COPIED_COLUMN = "dob_copied_at"
"""The profiles' column of :func:`copied_dobs` (computed over every profile before clustering by
component: the household member is seldom in the record's component)."""


def _place(profiles: pl.DataFrame) -> pl.Expr:
    """A profile's address: ``U<uprn>`` for a matched UPRN, else ``A<address key>`` (null when neither)."""
    key = pl.col("address_key") if "address_key" in profiles.columns else pl.lit(None, dtype=pl.String)
    return pl.coalesce(pl.lit("U") + pl.col("uprn_matched").cast(pl.String), pl.lit("A") + key)


def _another_person(a: tuple[Any, ...], b: tuple[Any, ...], threshold: float) -> bool:
    """Two profiles' names (first forename, canonical, metaphone, variants, middles, surname) are
    two people's: the forenames are not compatible (:func:`_forename_compatible`), neither first
    forename is a middle name of the other, and forename and surname are not swapped.
    """
    if _forename_compatible(a[:4], b[:4], threshold):
        return False
    if a[0] in b[4] or b[0] in a[4]:
        return False
    return not (a[5] and b[5] and _name_close(a[0], b[5]) and _name_close(a[5], b[0]))


def copied_dobs(profiles: pl.DataFrame, forename_similarity: float = 0.85) -> list[str | None]:
    """Per profile (by ``pid``, 0..n-1), the address (:func:`_place`) at which its date of birth is
    exactly that of another profile with a full forename of another person
    (:func:`_another_person`), or None: a date of birth that may be a household member's,
    copied onto the record (or the member's own, copied onto another's: both carry it).

    Twins at one address carry one date of birth under two forenames, so each of them is
    marked too; the ``dob`` guard is not what keeps twins apart (the ``forename`` guard is),
    and a twin's marked date of birth only lets a cluster merge whose own dates of birth
    were not recorded at that address.
    """
    out: list[str | None] = [None] * profiles.height
    if profiles.is_empty():
        return out
    # the places and dates of birth shared under two first forenames or more, before any name column
    # is built: most groups are one person's profiles (the same forename is always compatible)
    shared = (
        profiles.select("pid", "date_of_birth", _place(profiles).alias("_place"), "forename_first")
        .filter(
            pl.col("date_of_birth").is_not_null()
            & pl.col("_place").is_not_null()
            & (pl.col("forename_first").str.len_chars() > 1)
        )
        .filter(pl.col("forename_first").n_unique().over("_place", "date_of_birth") > 1)
    )
    named = profiles.join(shared.select("pid", "_place"), on="pid").select(
        "pid", "date_of_birth", "_place", *_name_columns(profiles)
    )
    if named.is_empty():
        return out
    groups: dict[tuple[Any, Any], list[tuple[int, tuple[Any, ...]]]] = {}
    for pid, dob, place, first, canonical, metaphone, variants, mids, surname_ in named.iter_rows():
        names = (first, canonical, metaphone, tuple(variants), frozenset(mids), surname_)
        groups.setdefault((place, dob), []).append((pid, names))
    for (place, _), members in groups.items():
        for i, (pid, names) in enumerate(members):
            if any(
                _another_person(names, other, forename_similarity) for j, (_, other) in enumerate(members) if j != i
            ):
                out[pid] = place
    return out


def _name_columns(profiles: pl.DataFrame) -> list[pl.Expr]:
    """The names :func:`_another_person` reads, in its order: first forename, canonical form, metaphone,
    nickname variants, middle names, surname.
    """
    middles = (
        pl.col("forename_middles").fill_null(pl.lit([], dtype=pl.List(pl.String)))
        if "forename_middles" in profiles.columns
        else pl.col("forename_std").str.split(" ").list.slice(1)
    )
    surname = pl.col("surname_std") if "surname_std" in profiles.columns else pl.lit(None, dtype=pl.String)
    return [
        pl.col("forename_first"),
        pl.col("forename_canonical").fill_null(pl.col("forename_first")),
        pl.col("forename_metaphone").fill_null(""),
        pl.col("forename_variant").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        middles.alias("_middles"),
        surname.alias("_surname"),
    ]


def _names(profiles: pl.DataFrame) -> pl.DataFrame:
    """``pid`` and the names :func:`_another_person` reads, of the profiles with a full forename."""
    return profiles.filter(pl.col("forename_first").str.len_chars() > 1).select("pid", *_name_columns(profiles))


def copied_dobs_by_person(
    profiles: pl.DataFrame, clusters: pl.DataFrame, candidates: pl.Series, forename_similarity: float = 0.85
) -> dict[int, str]:
    """Of the profiles ``candidates`` (pids) not yet marked (:data:`COPIED_COLUMN`), those whose date of
    birth is one held by another *person* (a cluster of ``clusters``: ``pid, cluster``) that has a record
    at the profile's address, every full forename of that person being another person's to the
    profile's (:func:`_another_person`): ``{pid: address}``.

    :func:`copied_dobs` sees a copy only when the household member's own record at the address
    carries the date of birth; a member whose census record is missing (pseudopeople omits rows)
    may still be a person here, their tax form at the address and their Social Security record,
    which has no address, carrying it. ``candidates`` keeps the work small: only profiles of
    components that clustering split (nothing else can merge more).
    """
    if candidates.is_empty() or profiles.is_empty():
        return {}
    marked = pl.col(COPIED_COLUMN).is_null() if COPIED_COLUMN in profiles.columns else pl.lit(True)
    located = profiles.select("pid", "date_of_birth", _place(profiles).alias("_place"), marked.alias("_free"))
    cand = (
        located.filter(
            pl.col("pid").is_in(candidates.implode())
            & pl.col("_free")
            & pl.col("date_of_birth").is_not_null()
            & pl.col("_place").is_not_null()
        )
        .join(clusters, on="pid")
        .select("pid", "cluster", "_place", "date_of_birth")
    )
    if cand.is_empty():
        return {}
    # the persons with a record at a candidate's address, and the dates of birth each holds anywhere
    at = located.filter(pl.col("_place").is_in(cand["_place"].unique().implode())).join(clusters, on="pid")
    people = at.select("cluster", "_place").unique()
    born = (
        located.join(clusters, on="pid")
        .filter(pl.col("cluster").is_in(people["cluster"].unique().implode()) & pl.col("date_of_birth").is_not_null())
        .select("cluster", "date_of_birth")
        .unique()
    )
    hits = (
        cand.join(people.join(born, on="cluster").rename({"cluster": "other"}), on=["_place", "date_of_birth"])
        .filter(pl.col("other") != pl.col("cluster"))
        .select("pid", "_place", "other")
        .unique()
        .sort("pid", "other")
    )
    if hits.is_empty():
        return {}
    others = clusters.filter(pl.col("cluster").is_in(hits["other"].unique().implode()))
    names = _names(profiles.filter(pl.col("pid").is_in(pl.concat([hits["pid"], others["pid"]]).implode())))
    by_pid = {row[0]: (row[1], row[2], row[3], tuple(row[4]), frozenset(row[5]), row[6]) for row in names.iter_rows()}
    by_person: dict[int, list[tuple[Any, ...]]] = {}
    for pid, cluster in others.iter_rows():
        if pid in by_pid:
            by_person.setdefault(cluster, []).append(by_pid[pid])
    out: dict[int, str] = {}
    for pid, place, other in hits.iter_rows():
        own, theirs = by_pid.get(pid), by_person.get(other)
        if own is None or not theirs or pid in out:
            continue
        if all(_another_person(own, name, forename_similarity) for name in theirs):
            out[pid] = place
    return out


def mark_copied_dobs(profiles: pl.DataFrame, guards: Guards) -> pl.DataFrame:
    """``profiles`` with :data:`COPIED_COLUMN` (:func:`copied_dobs`, over every profile given) when the
    dob guard and ``dob_copied_from_household`` are on and the column is not there yet; else as given.
    """
    if not (guards.dob and guards.dob_copied_from_household) or COPIED_COLUMN in profiles.columns:
        return profiles
    copied = copied_dobs(profiles, guards.forename_similarity)
    return profiles.with_columns(pl.Series(COPIED_COLUMN, copied, dtype=pl.String))


_Identity = tuple[str, str, dt.date, str, str | None]
"""First forename, surname, date of birth, address (``U<uprn>`` or ``A<address key>``), sex (M/F or None)."""


def _identities(profiles: pl.DataFrame) -> list[_Identity | None]:
    """Each profile's :data:`_Identity`, or None when it lacks a full forename, surname, date of
    birth or address (a UPRN, else an address key).
    """
    key = pl.col("address_key") if "address_key" in profiles.columns else pl.lit(None, dtype=pl.String)
    address = pl.coalesce(pl.lit("U") + pl.col("uprn_matched").cast(pl.String), pl.lit("A") + key)
    rows = profiles.select(
        "forename_first", "surname_std", "date_of_birth", address.alias("_address"), "sex"
    ).iter_rows()  # fmt: skip
    out: list[_Identity | None] = []
    for first, surname, dob, where, sex in rows:
        complete = first is not None and len(first) > 1 and surname and dob is not None and where is not None
        out.append((first, surname, dob, where, sex if sex in ("M", "F") else None) if complete else None)
    return out


def _name_keys(profiles: pl.DataFrame) -> np.ndarray:
    """Per profile, a 64-bit hash of its first forename and surname (0 when either is missing or
    one letter): one array, not a tuple per profile (a million profiles).
    """
    full = (pl.col("forename_first").str.len_chars() > 1) & (pl.col("surname_std").str.len_chars() > 1)
    key = pl.when(full).then(pl.struct("forename_first", "surname_std").hash(NAME_KEY_SEED)).otherwise(0)
    return profiles.select(key.fill_null(0).alias("_name"))["_name"].to_numpy()


NAME_KEY_SEED = 0x6E616D65


def _edge_weights(edges: pl.DataFrame) -> pl.Expr:
    """Each edge's match weight: its ``weight`` column, else from its probability (clipped)."""
    p = pl.col("probability").clip(1e-12, 1 - 1e-12)
    from_p = (p / (1 - p)).log(2)
    return pl.coalesce(pl.col("weight"), from_p) if "weight" in edges.columns else from_p


@dataclass(slots=True)
class _WeakDecisions:
    """What :func:`_ambiguous` decided for the weak profiles: those linking to no one, the edges
    to drop, and the edges to a beaten rival that bridge a date of birth instead
    (``weak_record_bridges_dob``), as ``(pid_l, pid_r)``.
    """

    ambiguous: set[int] = field(default_factory=set)
    dropped: set[tuple[int, int]] = field(default_factory=set)
    bridged: set[tuple[int, int]] = field(default_factory=set)


def _ambiguous(clusters: _Clusters, edges: pl.DataFrame) -> _WeakDecisions:
    """Weak profiles (no full forename or no date of birth) whose partners could not all be one
    person, and the edges to drop for them.

    A weak profile is ambiguous (all its edges dropped) when its partners could not all be
    one person, unless ``guards.ambiguous_margin`` is set and its best partner outweighs
    every partner it could not be one person with by that margin: then only the edges to
    those partners are dropped (a record with no date of birth whose national insurance
    number agrees with one candidate and not with another). With
    ``guards.weak_record_bridges_dob``, the edges of a profile with no date of birth to such
    beaten partners may be kept as bridges (merged past the ``dob`` guard, :func:`_bridges`)
    instead of dropped.
    """
    out = _WeakDecisions()
    weak = {pid for pid, state in enumerate(clusters.state) if not state.forenames or not state.dobs}
    if not weak:
        return out
    margin = clusters.guards.ambiguous_margin
    partners: dict[int, list[tuple[float, int]]] = {}
    for left, right, weight in edges.select("pid_l", "pid_r", _edge_weights(edges)).iter_rows():
        if left in weak:
            partners.setdefault(left, []).append((weight, right))
        if right in weak:
            partners.setdefault(right, []).append((weight, left))
    for pid, found_partners in partners.items():
        # a partner the guards refuse the weak profile itself is no candidate for it
        refused = [(w, o) for w, o in found_partners if not clusters.may_join(pid, o)]
        out.dropped.update((min(pid, o), max(pid, o)) for _, o in refused)
        others = sorted(set(found_partners) - set(refused), key=lambda wo: (-wo[0], wo[1]))
        if not others:
            continue
        pids = [o for _, o in others]
        if all(clusters.may_join(x, y) for i, x in enumerate(pids) for y in pids[i + 1 :]):
            continue
        if margin is None:
            out.ambiguous.add(pid)
            continue
        best_weight, best = others[0]
        rivals = [(w, o) for w, o in others[1:] if not clusters.may_join(best, o)]
        if not rivals:
            # the best partner could be one person with every other (it is as weak as this
            # profile: a second copy of it); the others conflict among themselves
            beaten = _rivals_of_kept(clusters, others, margin)
            if beaten is None:
                out.ambiguous.add(pid)
                continue
        elif best_weight - max(w for w, _ in rivals) < margin:
            out.ambiguous.add(pid)
            continue
        else:
            beaten = rivals
        bridging = clusters.guards.weak_record_bridges_dob and not clusters.state[pid].dobs
        bridges = _bridges(clusters, pid, others, beaten, margin) if bridging else []
        out.bridged.update((min(pid, o), max(pid, o)) for o in bridges)
        out.dropped.update((min(pid, o), max(pid, o)) for _, o in beaten if o not in bridges)
    return out


def _bridges(
    clusters: _Clusters, weak: int, others: list[tuple[float, int]], beaten: list[tuple[float, int]], margin: float
) -> list[int]:
    """Of the partners (``beaten``, of ``others``: ``(weight, pid)``) a weak profile ``weak`` with no
    date of birth outweighed, those whose edges to it are kept as bridges: merged past the ``dob``
    guard (every other guard still applies when the clusters meet). Each partner a bridged one could
    not be one person with must outweigh it by ``margin`` bits and carry no opposite principal sex
    (:meth:`_Clusters.opposite_sexes`), and the weak profile's forename must be one name with both
    (:meth:`_Clusters.one_forename`); the bridged one must carry no identifier (one of its own: a
    father's NINO beside his namesake son's school records), and both be profiles of one record (a
    date of birth several records give is the person's, not a wrong one); the bridged partners must
    be able to be one person with each other (else none is bridged).

    A tax form with no date of birth whose SSN agrees with a Social Security record and whose
    name and address agree with a census record, those two giving dates of birth no typo
    explains (pseudopeople writes several wrong digits, or a household member's date of birth
    whose own record is missing): the form says they are one person. A mother and her namesake
    daughter at one address are not bridged: the mother's own census record, as strong a partner
    as the daughter's, does not outweigh it by the margin; nor a son and his mother (opposite
    sexes), nor Maria's form carrying her mother Martha's number.
    """
    pids = [o for _, o in beaten]
    if any(not clusters.may_join(x, y) for i, x in enumerate(pids) for y in pids[i + 1 :]):
        return []
    rest = [(w, o) for w, o in others if o not in pids]

    def bridgeable(weight: float, pid: int) -> bool:
        return all(
            clusters.may_join(pid, k)
            or (
                not clusters.state[pid].ids
                and clusters.records[pid] == 1
                and clusters.records[k] == 1
                and w - weight >= margin
                and not clusters.opposite_sexes(pid, k)
                and clusters.one_forename(weak, pid)
                and clusters.one_forename(weak, k)
            )
            for w, k in rest
        )

    return [o for w, o in beaten if bridgeable(w, o)]


def _rivals_of_kept(
    clusters: _Clusters, others: list[tuple[float, int]], margin: float
) -> list[tuple[float, int]] | None:
    """The partners (``(weight, pid)``, strongest first) to drop for a weak profile whose best
    partner could be one person with every other: the partners are kept strongest first while
    each could be one person with every partner kept before it; one that could not is a
    rival, dropped when the strongest kept partner it conflicts with outweighs it by ``margin``
    bits. ``None`` (the profile is ambiguous) when a rival comes that close.

    A tax record without a date of birth whose exact copy (another employer's form), the
    social security record sharing its number and the census record all agree, and a
    household member's census record with no forename and another date of birth reaches it
    at a few bits: that member is the rival, not a reason to link the record to nobody.
    """
    kept = [others[0]]
    rivals = []
    for weight, other in others[1:]:
        against = [w for w, k in kept if not clusters.may_join(k, other)]
        if not against:
            kept.append((weight, other))
            continue
        if max(against) - weight < margin:
            return None
        rivals.append((weight, other))
    return rivals


def cluster_profiles(
    profiles: pl.DataFrame,
    edges: pl.DataFrame,
    guards: Guards,
    cannot_link: Sequence[tuple[int, int]] = (),
    must_link: Sequence[tuple[int, int]] = (),
) -> pl.DataFrame:
    """``pid -> cluster`` (the cluster's smallest pid) after merging ``must_link`` pairs, then
    ``edges`` strongest first; ``cannot_link`` pairs of pids never end up in one cluster.

    An edge with ``override_ids`` true (optional column) may merge clusters holding
    different values of a ``conflicting_identifiers`` identifier (see the module docstring).
    """
    graph = pl.concat(
        [
            edges.select(pl.col("pid_l").cast(pl.Int64), pl.col("pid_r").cast(pl.Int64)),
            pl.DataFrame(list(must_link), schema={"pid_l": pl.Int64, "pid_r": pl.Int64}, orient="row"),
        ]
    )
    clusters = _Clusters(profiles, guards, sorted(cannot_link), component=components(profiles.height, graph))
    for left, right in sorted(must_link):
        clusters.union(left, right, force=True)
    weak = _ambiguous(clusters, edges)
    if weak.ambiguous:
        drop = pl.Series(sorted(weak.ambiguous), dtype=pl.Int64).implode()
        edges = edges.filter(~pl.col("pid_l").is_in(drop) & ~pl.col("pid_r").is_in(drop))
    if weak.dropped:
        both_ways = sorted(weak.dropped | {(b, a) for a, b in weak.dropped})
        pairs = pl.DataFrame(both_ways, schema={"pid_l": pl.Int64, "pid_r": pl.Int64}, orient="row")
        edges = edges.join(pairs, on=["pid_l", "pid_r"], how="anti", maintain_order="left")
    ordered = edges.sort(["probability", "rule_order", "pid_l", "pid_r"], descending=[True, False, False, False])
    override = pl.col("override_ids").fill_null(False) if "override_ids" in edges.columns else pl.lit(False)
    bridged = weak.bridged
    for left, right, override_ids in ordered.select("pid_l", "pid_r", override).iter_rows():
        bridge = bool(bridged) and (min(left, right), max(left, right)) in bridged
        clusters.union(left, right, override_ids=override_ids, override_dob=bridge)
    roots = [clusters.find(i) for i in range(profiles.height)]
    return pl.DataFrame(
        {"pid": list(range(profiles.height)), "cluster": roots}, schema={"pid": pl.Int64, "cluster": pl.Int64}
    )


SECOND_PASS_EDGES_SCHEMA: dict[str, pl.DataType] = {"pid_l": pl.Int64(), "pid_r": pl.Int64()}
"""The pairs :func:`second_pass` joined two persons on."""


def second_pass(
    profiles: pl.DataFrame,
    edges: pl.DataFrame,
    guards: Guards,
    clusters: pl.DataFrame,
    cannot_link: Sequence[tuple[int, int]] = (),
    bridge_addresses: bool = False,
    same_dob: bool = False,
    strong: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(clusters, joined)``: the persons of a first clustering (``clusters``: ``pid, cluster``, each
    cluster named by one of its pids) joined on ``edges`` (pairs of the uncertain band,
    :data:`EDGE_SCHEMA`, with optional ``override_ids``), and the pairs they were joined on
    (:data:`SECOND_PASS_EDGES_SCHEMA`).

    The edges are taken strongest first, as clustering takes its own. An edge joins its two persons
    when every guard accepts the two whole persons (what each holds after the first clustering:
    all its dates of birth, forenames, identifiers; twins at one address), as
    :func:`cluster_profiles` merges. Not when either person is ambiguous: the persons it
    has such an edge to, the guards accepting each, could not all be one person (a record with
    no date of birth, named as two brothers at two addresses). A pair of the uncertain band
    says little alone; a person whose every record is compatible with the other's, where a
    household member or a namesake would have failed a guard on some record, says the rest.

    With ``bridge_addresses``, an edge between records at two addresses that disagree (its
    ``gamma_address`` 0) or at two dwellings of one postcode (two matched UPRNs) is left out
    unless another person has records at both (:func:`unbridged_addresses`): namesakes in two
    households, where a guard has nothing to refuse.
    With ``same_dob``, two persons that both hold dates of birth must share one: the dob
    guard's tolerance (one digit, one year, day and month transposed) is for a typo between
    records the model links; between a band pair's persons it is most often a namesake's.
    ``strong``: the first clustering's edges (at or above the match threshold). A person of one weak
    profile (no full forename, or no date of birth) whose strong edges reach persons that could not
    all be one person, the guards accepting each, is ambiguous here too: the first clustering left it
    apart as a record between two people (:func:`_ambiguous`), and a band pair to one of them does not
    say which (an exclusion row with no forename and one twin's UPN, whose other twin has a census row
    carrying that UPN).
    """
    joined = pl.DataFrame(schema=SECOND_PASS_EDGES_SCHEMA)
    if edges.is_empty():
        return clusters, joined
    ends = (
        edges.join(clusters.rename({"pid": "pid_l", "cluster": "_cl"}), on="pid_l")
        .join(clusters.rename({"pid": "pid_r", "cluster": "_cr"}), on="pid_r")
        .filter(pl.col("_cl") != pl.col("_cr"))
    )
    if bridge_addresses:
        ends = ends.join(unbridged_addresses(profiles, ends, clusters), on=["pid_l", "pid_r"], how="anti")
    if ends.is_empty():
        return clusters, joined
    between = _weak_strong_partners(profiles, clusters, ends, strong)
    # only the persons the edges touch (and the strong partners of weak ones): their profiles, numbered
    # 0..n-1 in pid order
    reached = [person for others in between.values() for person in others]
    touched = pl.concat([ends["_cl"], ends["_cr"], pl.Series(reached, dtype=ends["_cl"].dtype)]).unique().implode()
    pids = clusters.filter(pl.col("cluster").is_in(touched)).sort("pid")["pid"]
    index = dict(zip(pids.to_list(), range(pids.len()), strict=True))
    local = pl.DataFrame({"pid": pids, "_local": pl.int_range(0, pids.len(), dtype=pl.Int64, eager=True)})
    subset = profiles.join(local, on="pid", maintain_order="left").sort("_local").drop("pid").rename({"_local": "pid"})
    bans = [(index[a], index[b]) for a, b in cannot_link if a in index and b in index]
    state = _Clusters(subset, guards, sorted(bans))
    for pid, cluster in clusters.filter(pl.col("pid").is_in(pids.implode())).iter_rows():
        state.union(index[pid], index[cluster], force=True)
    override = pl.col("override_ids").fill_null(False) if "override_ids" in ends.columns else pl.lit(False)
    ordered = [
        (index[left], index[right], flag)
        for left, right, flag in ends.sort(
            ["probability", "rule_order", "pid_l", "pid_r"], descending=[True, False, False, False]
        )
        .select("pid_l", "pid_r", override)
        .iter_rows()
    ]

    def accepts(x: int, y: int, flag: bool) -> bool:
        a, b = state.state[state.find(x)], state.state[state.find(y)]
        if state.banned(a, b):
            return False
        if same_dob and a.dobs and b.dobs and not a.dobs & b.dobs:
            return False
        return state.allowed(a, b, flag or state.same_identity(x, y), state.id_errors(x, y))

    partners: dict[int, set[int]] = {}
    for x, y, flag in ordered:
        if accepts(x, y, flag):
            rx, ry = state.find(x), state.find(y)
            partners.setdefault(rx, set()).add(ry)
            partners.setdefault(ry, set()).add(rx)

    def one_person(others: set[int]) -> bool:
        """Whether the persons ``others`` (first-pass roots) could all be one person."""
        people = [state.state[p] for p in sorted(others)]
        return all(state.allowed(a, b) for i, a in enumerate(people) for b in people[i + 1 :])

    ambiguous = {person for person, others in partners.items() if len(others) > 1 and not one_person(others)}
    for person, others in between.items():
        me = state.find(index[person])
        kept = {state.find(index[o]) for o in others}
        kept = {o for o in kept if o != me and state.allowed(state.state[me], state.state[o])}
        if len(kept) > 1 and not one_person(kept):
            ambiguous.add(me)
    first = [state.find(i) for i in range(pids.len())]
    merged: list[tuple[int, int]] = []
    back = pids.to_list()
    for x, y, flag in ordered:
        if first[x] in ambiguous or first[y] in ambiguous or state.find(x) == state.find(y):
            continue
        if not accepts(x, y, flag):
            continue
        if state.union(x, y, override_ids=flag):
            merged.append((back[x], back[y]))
    if not merged:
        return clusters, joined
    # each person named by its smallest pid, like a first clustering's root
    roots = pl.DataFrame({"pid": pids, "_root": pl.Series([state.find(i) for i in range(pids.len())], dtype=pl.Int64)})
    named = roots.with_columns(pl.col("pid").min().over("_root").alias("_cluster")).select("pid", "_cluster")
    clusters = (
        clusters.join(named, on="pid", how="left", maintain_order="left")
        .with_columns(pl.coalesce("_cluster", "cluster").alias("cluster"))
        .select("pid", "cluster")
    )
    return clusters, pl.DataFrame(merged, schema=SECOND_PASS_EDGES_SCHEMA, orient="row")


def _weak_strong_partners(
    profiles: pl.DataFrame, clusters: pl.DataFrame, ends: pl.DataFrame, strong: pl.DataFrame | None
) -> dict[int, set[int]]:
    """Person (its first-clustering id) -> the other persons its ``strong`` edges reach, for each person
    of ``ends`` (band pairs between two persons) that is one weak profile: no full forename (an initial
    or none) or no date of birth, as :func:`_ambiguous` reads a weak profile.
    """
    if strong is None or strong.is_empty():
        return {}
    sizes = clusters.group_by("cluster").len()
    singles = sizes.filter(pl.col("len") == 1)["cluster"]
    candidates = pl.concat([ends["_cl"], ends["_cr"]]).unique()
    weak = (
        profiles.filter(pl.col("pid").is_in(singles.implode()) & pl.col("pid").is_in(candidates.implode()))
        .filter(pl.col("date_of_birth").is_null() | (pl.col("forename_first").str.len_chars().fill_null(0) <= 1))
        .select("pid")
    )
    if weak.is_empty():
        return {}
    # a single profile's person is named by that profile's pid
    mine = weak["pid"].implode()
    near = strong.filter(pl.col("pid_l").is_in(mine) | pl.col("pid_r").is_in(mine))
    both = pl.concat(
        [
            near.select(pl.col("pid_l").alias("pid"), pl.col("pid_r").alias("other")),
            near.select(pl.col("pid_r").alias("pid"), pl.col("pid_l").alias("other")),
        ]
    ).join(weak, on="pid")
    reached = (
        both.join(clusters.rename({"pid": "other", "cluster": "person"}), on="other")
        .filter(pl.col("person") != pl.col("pid"))
        .group_by("pid")
        .agg(pl.col("person").unique())
        .filter(pl.col("person").list.len() > 1)
    )
    return {pid: set(persons) for pid, persons in reached.iter_rows()}


def unbridged_addresses(profiles: pl.DataFrame, edges: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """``pid_l, pid_r`` of the ``edges`` (with ``_cl``, ``_cr``: each end's person in ``clusters``;
    optional ``gamma_address``) whose profiles are at two addresses that disagree (the address
    comparison's else level, 0: another postcode and another address) or at two dwellings of
    one postcode (two different matched UPRNs), with no other person (a cluster but the two
    ends') holding records at both addresses (:func:`_place`).

    Collective evidence: a household that moved (or a dwelling the gazetteer matched twice)
    shows as a co-resident seen at both addresses; two namesakes in two households (a boy and
    a neighbour's father of the nickname of his name, two women of one name and date of birth
    across town) have none, and the guards have nothing to refuse between them.
    """
    out = pl.DataFrame(schema={"pid_l": pl.Int64, "pid_r": pl.Int64})
    if edges.is_empty():
        return out
    uprn = pl.col("uprn_matched") if "uprn_matched" in profiles.columns else pl.lit(None, dtype=pl.Int64)
    # the edges' own profiles only (a million profiles' address strings would be a hundred MiB)
    ends = pl.concat([edges["pid_l"], edges["pid_r"]]).unique().implode()
    where = profiles.filter(pl.col("pid").is_in(ends)).select(
        "pid", _place(profiles).alias("_at"), uprn.alias("_uprn"), "postcode_std"
    )
    disagree = pl.col("gamma_address") == 0 if "gamma_address" in edges.columns else pl.lit(False)
    pairs = (
        edges.select("pid_l", "pid_r", "_cl", "_cr", disagree.fill_null(False).alias("_disagree"))
        .join(where.rename({"pid": "pid_l", "_at": "_al", "_uprn": "_ul", "postcode_std": "_pl"}), on="pid_l")
        .join(where.rename({"pid": "pid_r", "_at": "_ar", "_uprn": "_ur", "postcode_std": "_pr"}), on="pid_r")
    )
    neighbours = (
        pl.col("_ul").is_not_null()
        & pl.col("_ur").is_not_null()
        & (pl.col("_ul") != pl.col("_ur"))
        & (pl.col("_pl") == pl.col("_pr"))
    )
    pairs = pairs.filter(pl.col("_disagree") | neighbours.fill_null(False))
    if pairs.is_empty():
        return out
    places = pl.concat([pairs["_al"], pairs["_ar"]]).drop_nulls().unique()
    # the profiles at those places, found by UPRN or address key before any place string is built
    key = pl.col("address_key") if "address_key" in profiles.columns else pl.lit(None, dtype=pl.String)
    uprns = places.filter(places.str.starts_with("U")).str.slice(1).cast(pl.Int64).implode()
    keys = places.filter(places.str.starts_with("A")).str.slice(1).implode()
    residents = (
        profiles.filter(uprn.is_in(uprns).fill_null(False) | key.is_in(keys).fill_null(False))
        .select("pid", _place(profiles).alias("_at"))
        .filter(pl.col("_at").is_in(places.implode()))
        .join(clusters, on="pid")
        .select(pl.col("cluster").alias("_x"), "_at")
        .unique()
    )
    bridged = (
        pairs.join(residents.rename({"_at": "_al"}), on="_al")
        .join(residents.rename({"_at": "_ar"}), on=["_ar", "_x"])
        .filter((pl.col("_x") != pl.col("_cl")) & (pl.col("_x") != pl.col("_cr")) & (pl.col("_al") != pl.col("_ar")))
        .select("pid_l", "pid_r")
        .unique()
    )
    return pairs.select("pid_l", "pid_r").join(bridged, on=["pid_l", "pid_r"], how="anti")
