"""A date of birth copied from a household member who is seen only as a person (issue 12,
pseudopeople: the member's census record is missing; their tax form at the address and their
Social Security record, which has no address, carry their date of birth):
``dob_copied_seen_on_person``. A father and his namesake son still stay apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.link.test_copied_dob import MOTHER_DOB, NOWHERE, SON_DOB, _record
from tfident.link import LinkageConfig, link_persons
from tfident.link.clustering import EDGE_SCHEMA, copied_dobs_by_person, mark_copied_dobs
from tfident.link.components import cluster_by_component, recluster_copied_dobs
from tfident.link.config import Guards
from tfident.link.profiles import build_profiles

Maker = Callable[..., pl.DataFrame]

FATHER_DOB = date(1975, 9, 9)


def _mother(**values: Any) -> list[dict[str, Any]]:
    """Sarah, Daniel's mother, without a census record: a tax form at the address (no date of birth)
    and her Social Security record (no address), one number on both.
    """
    common = {"forename": "Sarah", "sex": "F", "nino": "JK654321A", **values}
    return [
        _record("benefits", "SARAH_TAX", **{"date_of_birth": None, **common}),
        _record("employment", "SARAH_SSA", **{"date_of_birth": MOTHER_DOB, **NOWHERE, **common}),
    ]


def _daniel(census_dob: date) -> list[dict[str, Any]]:
    """Daniel's census record (``census_dob``), his tax form at the address (no date of birth) and his
    Social Security record (his own date of birth, no address), the number on the last two.
    """
    return [
        _record("school_census", "CENSUS", date_of_birth=census_dob),
        _record("benefits", "TAX", date_of_birth=None, nino="AB123456C"),
        _record("employment", "SSA", nino="AB123456C", **NOWHERE),
    ]


def _person_of(persons: pl.DataFrame, guards: Guards) -> dict[str, int]:
    """Record id -> cluster, clustering as a run does (every pair of profiles scored a match, the
    candidate sharing a number outweighing the others by 6 bits), then the person-level marks.
    """
    profiles, members = build_profiles(persons)
    ninos = dict(zip(profiles["pid"], profiles["nino"], strict=True))
    n = profiles.height
    rows = [
        (i, j, 0.99, "splink", 0, 16.0 if ninos[i] is not None and ninos[i] == ninos[j] else 10.0)
        for i in range(n)
        for j in range(i + 1, n)
    ]
    edges = pl.DataFrame(rows, schema={**EDGE_SCHEMA, "weight": pl.Float64}, orient="row")
    profiles = mark_copied_dobs(profiles, guards)
    clusters, cache, _ = cluster_by_component(profiles, edges, guards)
    _, clusters, _ = recluster_copied_dobs(profiles, edges, guards, clusters, cache)
    out = members.join(clusters, on="pid")
    return {key.split(":", 1)[1]: cluster for key, cluster in out.select("record_key", "cluster").iter_rows()}


@pytest.mark.parametrize(
    ("census_dob", "mother", "seen_on_person", "one_person"),
    [
        (MOTHER_DOB, {}, True, True),  # his census record carries his mother's date of birth
        (MOTHER_DOB, {}, False, False),  # the option off: the dob guard holds it apart, as before
        (MOTHER_DOB, {"address_line_1": "2 High Street"}, True, False),  # her tax form elsewhere
        (MOTHER_DOB, {"forename": "Danny", "sex": "M"}, True, False),  # a pet form of his: maybe himself
        (date(1980, 3, 2), {}, True, False),  # a day from hers: no exact copy
        (FATHER_DOB, {}, True, False),  # nobody's date of birth: a plain conflict
    ],
)
def test_a_date_of_birth_copied_from_a_member_seen_as_a_person(
    make_persons: Maker, census_dob: date, mother: dict[str, Any], seen_on_person: bool, one_person: bool
) -> None:
    persons = make_persons(_daniel(census_dob) + _mother(**mother))
    of = _person_of(persons, Guards(ambiguous_margin=4, dob_copied_seen_on_person=seen_on_person))
    assert (of["CENSUS"] == of["SSA"]) is one_person
    assert of["TAX"] == of["SSA"]  # the number joins them whatever the census record says
    if "forename" not in mother:  # Sarah, another person: never merged with him
        assert of["SARAH_TAX"] not in {of["CENSUS"], of["SSA"], of["TAX"]}


def test_a_father_and_his_namesake_son_stay_apart(make_persons: Maker) -> None:
    """The son's census record at the address carries his own date of birth, which no one else holds:
    not marked, so the father's person (tax form at the address, Social Security record) stays apart.
    """
    father = [
        _record("benefits", "TAX", date_of_birth=None, nino="AB123456C"),
        _record("employment", "SSA", date_of_birth=FATHER_DOB, nino="AB123456C", **NOWHERE),
    ]
    son = [_record("school_census", "CENSUS", date_of_birth=SON_DOB)]
    of = _person_of(make_persons(father + son + _mother()), Guards(ambiguous_margin=4))
    assert of["CENSUS"] != of["SSA"]
    assert of["TAX"] == of["SSA"]


def test_only_the_given_candidates_and_unmarked_profiles_are_marked(make_persons: Maker) -> None:
    persons = make_persons(_daniel(MOTHER_DOB) + _mother())
    profiles, members = build_profiles(persons)
    pid = dict(zip(members["record_key"], members["pid"], strict=True))
    sarah = {pid["benefits:SARAH_TAX"], pid["employment:SARAH_SSA"]}
    clusters = pl.DataFrame(
        {"pid": profiles["pid"], "cluster": [min(sarah) if p in sarah else p for p in profiles["pid"]]}
    )
    census = pid["school_census:CENSUS"]
    assert list(copied_dobs_by_person(profiles, clusters, profiles["pid"])) == [census]
    assert copied_dobs_by_person(profiles, clusters, pl.Series([pid["employment:SSA"]])) == {}
    # one cluster for mother and son: no other person holds the date
    together = clusters.with_columns(pl.lit(0, dtype=pl.Int64).alias("cluster"))
    assert copied_dobs_by_person(profiles, together, profiles["pid"]) == {}


def test_linkage_stores_the_copy_seen_on_a_person(make_persons: Maker, linkage: LinkageConfig) -> None:
    """End to end with the shipped model: the census record joins Daniel's person, and the stored
    link through it names the copied date of birth (``tfident explain`` prints it).
    """
    persons = make_persons(_daniel(MOTHER_DOB) + _mother())
    index, links = link_persons(persons, linkage)
    person = dict(zip(index["record_key"], index["person_id"], strict=True))
    assert person["school_census:CENSUS"] == person["employment:SSA"] == person["benefits:TAX"]
    assert person["benefits:SARAH_TAX"] != person["benefits:TAX"]
    link = links.filter(
        (pl.col("record_key_l") == "benefits:TAX") & (pl.col("record_key_r") == "school_census:CENSUS")
    ).row(0, named=True)
    assert json.loads(link["match_weights_json"]).get("dob_copied") == ["school_census:CENSUS"]
