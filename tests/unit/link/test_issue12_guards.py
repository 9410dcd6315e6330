"""Issue 12's guard changes, each against the case it is for and the case it must not break:
a weak record that one candidate outweighs (``ambiguous_margin``), a mis-keyed identifier
(one keying error is no veto), placeholder names, shortened forenames.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.link.test_link_splink import NHS_A, groups, person
from tfident.link import LinkageConfig
from tfident.link.clustering import EDGE_SCHEMA, _ids_conflict, _shortened, cluster_profiles
from tfident.link.config import Guards
from tfident.link.profiles import build_profiles

Maker = Callable[..., pl.DataFrame]


@pytest.mark.parametrize(
    ("a", "b", "conflict"),
    [
        ({"399722317"}, {"399742317"}, False),  # one digit mistyped
        ({"399722317"}, {"397922317"}, False),  # two digits transposed
        ({"399722317"}, {"399742318"}, True),  # two keying errors: another number
        ({"399722317"}, {"399722317", "123456789"}, False),  # a value in common
        ({"U1"}, {"U2"}, True),  # a short code: one character is too much of it
        ({"39972231"}, {"399722317"}, True),  # lengths differ: not one keying error
    ],
)
def test_a_mis_keyed_identifier_is_no_conflict(a: set[str], b: set[str], conflict: bool) -> None:
    assert _ids_conflict(a, b) is conflict


@pytest.mark.parametrize(
    ("a", "b", "shortened"),
    [
        ("CAL", "CALLUM", True),
        ("BILAL", "BIL", True),
        ("ETH", "ETHAN", True),
        ("AL", "ALISTAIR", False),  # two letters say too little
        ("MASE", "MASON", False),  # not a truncation
        ("ANN", "ANN", False),  # the same name, not a shortened one
    ],
)
def test_a_shortened_forename_is_three_letters_or_more_and_the_start_of_the_other(
    a: str, b: str, shortened: bool
) -> None:
    assert _shortened(a, b) is shortened


def _weak_and_two_candidates(make_persons: Maker) -> pl.DataFrame:
    """A benefit record with no date of birth (weak) and two candidates that cannot be one
    person: a man born 1980 and his namesake son born 2009, at one address.
    """
    common = {"forename": "John", "surname": "Herzog", "sex": "M"}
    return make_persons(
        [
            person("benefits", "W", date_of_birth=None, **common),
            person("health", "FATHER", date_of_birth=date(1980, 7, 23), **common),
            person("school_census", "SON", date_of_birth=date(2009, 6, 25), **common),
        ]
    )


def _cluster(persons: pl.DataFrame, weights: dict[str, float], margin: float | None) -> set[frozenset[str]]:
    profiles, members = build_profiles(persons)
    pid = dict(members.select("record_key", "pid").iter_rows())
    w = pid["benefits:W"]
    rows = [
        (min(w, pid[key]), max(w, pid[key]), 0.99, "splink", 0, weight)
        for key, weight in (("health:FATHER", weights["FATHER"]), ("school_census:SON", weights["SON"]))
    ]
    edges = pl.DataFrame(rows, schema={**EDGE_SCHEMA, "weight": pl.Float64}, orient="row")
    guards = Guards(ambiguous_margin=margin)
    clusters = cluster_profiles(profiles, edges, guards).join(members, on="pid")
    keyed = clusters.group_by("cluster").agg(pl.col("record_key"))["record_key"].to_list()
    return {frozenset(k.split(":")[1] for k in keys) for keys in keyed}


def test_a_weak_record_joins_the_candidate_that_outweighs_the_other(make_persons: Maker) -> None:
    # the benefit claim carries the father's national insurance number: 17 bits against 12
    persons = _weak_and_two_candidates(make_persons)
    found = _cluster(persons, {"FATHER": 17.0, "SON": 12.0}, margin=4)
    assert frozenset({"W", "FATHER"}) in found
    assert frozenset({"SON"}) in found


@pytest.mark.parametrize(
    ("weights", "margin"), [({"FATHER": 14.0, "SON": 12.0}, 4), ({"FATHER": 17.0, "SON": 12.0}, None)]
)
def test_a_weak_record_between_close_candidates_links_to_neither(
    make_persons: Maker, weights: dict[str, float], margin: float | None
) -> None:
    persons = _weak_and_two_candidates(make_persons)
    assert _cluster(persons, weights, margin) == {frozenset({"W"}), frozenset({"FATHER"}), frozenset({"SON"})}


def test_a_newborn_recorded_as_baby_links_to_her_named_records(make_persons: Maker, linkage: LinkageConfig) -> None:
    # a maternity record writes "Baby Girl"; the health visitor's record, with the same NHS
    # number, birth date and address, writes Olivia: the placeholder is no forename at all
    born = {"surname": "Sutcliffe", "sex": "F", "date_of_birth": date(2026, 3, 1), "nhs_number": NHS_A}
    persons = make_persons(
        [
            person("health", "MATERNITY", forename="Baby Girl", **born),
            person("social_care", "NAMED", forename="Olivia", **born),
        ]
    )
    assert persons.filter(pl.col("record_id") == "MATERNITY")["forename_std"].to_list() == [None]
    assert frozenset({"MATERNITY", "NAMED"}) in groups(persons, linkage)


def test_two_unnamed_newborns_are_not_one_person(make_persons: Maker, linkage: LinkageConfig) -> None:
    # "Baby" is not a name two records can agree on: twins born on one day, at one address
    born: dict[str, Any] = {"surname": "Sutcliffe", "date_of_birth": date(2026, 3, 1)}
    persons = make_persons(
        [
            person("health", "TWIN1", forename="Baby", sex="F", **born),
            person("health", "TWIN2", forename="Baby", sex="M", **born),
        ]
    )
    assert frozenset({"TWIN1", "TWIN2"}) not in groups(persons, linkage)


def _cluster_with_copy(make_persons: Maker, weights: dict[str, float]) -> set[frozenset[str]]:
    """A weak record W (no date of birth), a second weak record COPY of the same person (another
    form, no sex recorded), the father and the son: W's best partner is COPY, which could be
    one person with either candidate.
    """
    common = {"forename": "John", "surname": "Herzog"}
    persons = make_persons(
        [
            person("benefits", "W", date_of_birth=None, sex="M", **common),
            person("benefits", "COPY", date_of_birth=None, sex=None, **common),
            person("health", "FATHER", date_of_birth=date(1980, 7, 23), sex="M", **common),
            person("school_census", "SON", date_of_birth=date(2009, 6, 25), sex="M", **common),
        ]
    )
    profiles, members = build_profiles(persons)
    pid = dict(members.select("record_key", "pid").iter_rows())
    rows = []
    for weak in ("benefits:W", "benefits:COPY"):
        for key, weight in (("health:FATHER", weights["FATHER"]), ("school_census:SON", weights["SON"])):
            rows.append((min(pid[weak], pid[key]), max(pid[weak], pid[key]), 0.99, "splink", 0, weight))
    w, copy = pid["benefits:W"], pid["benefits:COPY"]
    rows.append((min(w, copy), max(w, copy), 0.999, "splink", 0, 30.0))
    edges = pl.DataFrame(rows, schema={**EDGE_SCHEMA, "weight": pl.Float64}, orient="row")
    clusters = cluster_profiles(profiles, edges, Guards(ambiguous_margin=4)).join(members, on="pid")
    keyed = clusters.group_by("cluster").agg(pl.col("record_key"))["record_key"].to_list()
    return {frozenset(k.split(":")[1] for k in keys) for keys in keyed}


def test_a_weak_record_whose_best_partner_is_a_weak_copy_joins_the_candidate_that_outweighs_the_other(
    make_persons: Maker,
) -> None:
    # the copy agrees with both candidates, so it names no rival; the candidates are then
    # weighed against each other (17 bits against 12), not the record left with no one
    found = _cluster_with_copy(make_persons, {"FATHER": 17.0, "SON": 12.0})
    assert frozenset({"W", "COPY", "FATHER"}) in found
    assert frozenset({"SON"}) in found


def test_a_weak_record_and_its_copy_between_close_candidates_link_to_neither(make_persons: Maker) -> None:
    found = _cluster_with_copy(make_persons, {"FATHER": 14.0, "SON": 12.0})
    assert frozenset({"FATHER"}) in found
    assert frozenset({"SON"}) in found
