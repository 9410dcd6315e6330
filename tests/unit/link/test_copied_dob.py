"""A date of birth copied from a household member (issue 12, pseudopeople): a record carrying
exactly the date of birth of another person at its address does not hold its person apart
through the dob guard, while a father and his namesake son stay apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.link import LinkageConfig, link_persons
from tfident.link.clustering import EDGE_SCHEMA, cluster_profiles, copied_dobs
from tfident.link.components import cluster_by_component
from tfident.link.config import Guards
from tfident.link.explanation import explain_pair, persons_from_stored
from tfident.link.profiles import build_profiles

Maker = Callable[..., pl.DataFrame]

MOTHER_DOB = date(1980, 3, 1)
SON_DOB = date(2005, 6, 7)


def _record(source: str, record_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source": source,
        "record_id": record_id,
        "forename": "Daniel",
        "surname": "Jones",
        "date_of_birth": SON_DOB,
        "sex": "M",
        "address_line_1": "1 High Street",
        "town": "Tenford",
        "postcode": "TF1 1AA",
    }
    row.update(values)
    return row


NOWHERE: dict[str, Any] = {"address_line_1": None, "town": None, "postcode": None}
"""A record with no address (pseudopeople's Social Security records have none)."""


def _clusters(persons: pl.DataFrame, guards: Guards) -> set[frozenset[str]]:
    """Cluster with every two profiles scored a match."""
    profiles, members = build_profiles(persons)
    n = profiles.height
    rows = [(i, j, 0.99, "splink", 0, 10.0) for i in range(n) for j in range(i + 1, n)]
    edges = pl.DataFrame(rows, schema={**EDGE_SCHEMA, "weight": pl.Float64}, orient="row")
    out = members.join(cluster_profiles(profiles, edges, guards), on="pid")
    return {frozenset(k.split(":", 1)[1] for k in g) for g in out.group_by("cluster").agg("record_key")["record_key"]}


def _household(copied: dict[str, Any], own: dict[str, Any], member: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Daniel's census record (``copied`` over the household member's date of birth), his record
    elsewhere with his own date of birth (``own``) and the household member (``member`` over his
    mother Sarah's census record), if any.
    """
    rows = [
        _record("school_census", "CENSUS", **{"date_of_birth": MOTHER_DOB, **copied}),
        _record("health", "OWN", **{**NOWHERE, **own}),
    ]
    if member is not None:
        rows.append(
            _record(
                "school_census", "MEMBER", **{"forename": "Sarah", "sex": "F", "date_of_birth": MOTHER_DOB, **member}
            )
        )
    return rows


@pytest.mark.parametrize(
    ("copied", "own", "member", "guard_on", "one_person"),
    [
        # the census copies his mother's date of birth onto his record
        ({}, {}, {}, True, True),
        ({}, {}, {}, False, False),  # the option off: the dob guard refuses, as before
        ({}, {}, None, True, False),  # nobody at the address carries that date: a plain conflict
        ({}, {}, {"date_of_birth": date(1980, 3, 2)}, True, False),  # hers a day apart: no exact copy
        ({}, {}, {"address_line_1": "2 High Street"}, True, False),  # she lives elsewhere
        ({}, {}, {"forename": "Danny", "sex": "M"}, True, False),  # a pet form of his: maybe himself
        ({}, {}, {"forename": "Jones", "surname": "Daniel", "sex": "M"}, True, False),  # his names swapped
        # his own date of birth is recorded at that address too: a father and his namesake son
        ({}, {"address_line_1": "1 High Street", "town": "Tenford", "postcode": "TF1 1AA"}, {}, True, False),
        # his own date of birth recorded at another address does not hold him apart
        ({}, {"address_line_1": "3 High Street", "town": "Tenford", "postcode": "TF1 1AA"}, {}, True, True),
    ],
)
def test_a_date_of_birth_copied_from_a_household_member(
    make_persons: Maker,
    copied: dict[str, Any],
    own: dict[str, Any],
    member: dict[str, Any] | None,
    guard_on: bool,
    one_person: bool,
) -> None:
    found = _clusters(make_persons(_household(copied, own, member)), Guards(dob_copied_from_household=guard_on))
    assert (frozenset({"CENSUS", "OWN"}) in found) is one_person, found
    if member is not None and "forename" not in member:  # Sarah, another person: never merged with him
        assert not any("MEMBER" in group and len(group) > 1 for group in found), found


def test_a_father_and_his_namesake_son_with_a_twin_stay_apart(make_persons: Maker) -> None:
    """The son's date of birth is his twin sister's (so it is marked as a possible copy), but
    the father's own is recorded at their address: the dob guard still refuses the merge.
    """
    rows = [
        _record("school_census", "FATHER", forename="John", surname="Smith", date_of_birth=date(1970, 1, 2)),
        _record("health", "FATHER_GP", forename="John", surname="Smith", date_of_birth=date(1970, 1, 2)),
        _record("school_census", "SON", forename="John", surname="Smith", date_of_birth=date(2000, 5, 5)),
        _record("health", "SON_GP", forename="John", surname="Smith", date_of_birth=date(2000, 5, 5)),
        _record("school_census", "TWIN", forename="Emma", surname="Smith", sex="F", date_of_birth=date(2000, 5, 5)),
    ]
    found = _clusters(make_persons(rows), Guards())
    assert found == {frozenset({"FATHER", "FATHER_GP"}), frozenset({"SON", "SON_GP"}), frozenset({"TWIN"})}


@pytest.mark.parametrize(
    ("names", "marked"),
    [
        # (forename, surname, date of birth index) of records at one address
        ([("Daniel", "Jones", 0), ("Sarah", "Jones", 0)], [True, True]),  # one date, two people
        ([("Daniel", "Jones", 0), ("Sarah", "Jones", 1)], [False, False]),  # two dates
        ([("Daniel", "Jones", 0), ("Danny", "Jones", 0)], [False, False]),  # a pet form: one person
        ([("Daniel", "Jones", 0), ("Danial", "Jones", 0)], [False, False]),  # a keying error
        ([("Daniel", "Jones", 0), ("Jones", "Daniel", 0)], [False, False]),  # names swapped
        ([("Daniel", "Jones", 0), ("Sarah", "Jones", 0), ("Lily", "Jones", 1)], [True, True, False]),
    ],
)
def test_copied_dobs_marks_a_date_of_birth_another_person_carries_at_the_address(
    make_persons: Maker, names: list[tuple[str, str, int]], marked: list[bool]
) -> None:
    dobs = (MOTHER_DOB, SON_DOB)
    rows = [
        _record("school_census", f"R{i}", forename=f, surname=s, date_of_birth=dobs[d])
        for i, (f, s, d) in enumerate(names)
    ]
    profiles, members = build_profiles(make_persons(rows))
    places = copied_dobs(profiles)
    by_record = dict(
        zip(members.sort("pid")["record_key"], [places[p] for p in members.sort("pid")["pid"]], strict=True)
    )
    assert [by_record[f"school_census:R{i}"] is not None for i in range(len(names))] == marked


def test_the_household_member_need_not_be_in_the_component(make_persons: Maker) -> None:
    """Clustering by component marks the copies over every profile: the mother, whom no edge
    joins to her son, still explains the date of birth on his census record.
    """
    persons = make_persons(_household({}, {}, {}))
    profiles, members = build_profiles(persons)
    pid = dict(zip(members["record_key"], members["pid"], strict=True))
    a, b = sorted((pid["school_census:CENSUS"], pid["health:OWN"]))
    edges = pl.DataFrame([(a, b, 0.99, "splink", 0, 10.0)], schema={**EDGE_SCHEMA, "weight": pl.Float64}, orient="row")
    clusters, _, _ = cluster_by_component(profiles, edges, Guards())
    out = dict(zip(clusters["pid"], clusters["cluster"], strict=True))
    assert out[a] == out[b]
    assert out[pid["school_census:MEMBER"]] != out[a]
    off, _, _ = cluster_by_component(profiles, edges, Guards(dob_copied_from_household=False))
    assert (
        dict(zip(off["pid"], off["cluster"], strict=True))[a] != dict(zip(off["pid"], off["cluster"], strict=True))[b]
    )


@pytest.mark.parametrize("guard_on", [True, False])
def test_linkage_stores_and_explains_the_copied_date_of_birth(
    make_persons: Maker, linkage: LinkageConfig, guard_on: bool
) -> None:
    """The pseudopeople pattern end to end with the shipped model: the census record (his mother's
    date of birth), a benefits record without one at his address, and an employment record with
    his own date of birth and the benefits record's NINO but no address. The link stored between
    the census and benefits records names the copied date of birth, and ``tfident explain``
    (``explain_pair`` on the stored link) shows it.
    """
    rows = [
        _record("school_census", "CENSUS", date_of_birth=MOTHER_DOB),
        _record("benefits", "BRIDGE", date_of_birth=None, nino="AB123456C"),
        _record("employment", "OWN", nino="AB123456C", **NOWHERE),
        _record("school_census", "MEMBER", forename="Sarah", sex="F", date_of_birth=MOTHER_DOB),
    ]
    persons = make_persons(rows)
    config = linkage.model_copy(
        update={"guards": linkage.guards.model_copy(update={"dob_copied_from_household": guard_on})}
    )
    index, links = link_persons(persons, config)
    person = dict(zip(index["record_key"], index["person_id"], strict=True))
    daniel = {person["school_census:CENSUS"], person["benefits:BRIDGE"], person["employment:OWN"]}
    assert (len(daniel) == 1) is guard_on
    assert person["school_census:MEMBER"] not in daniel
    link = links.filter(
        (pl.col("record_key_l") == "benefits:BRIDGE") & (pl.col("record_key_r") == "school_census:CENSUS")
    ).row(0, named=True)
    stored = json.loads(link["match_weights_json"])
    assert stored.get("dob_copied") == (["school_census:CENSUS"] if guard_on else None)
    records = persons.with_columns(pl.lit(None, dtype=pl.String).alias("address_match"))
    explanation = explain_pair(persons_from_stored(records), "benefits:BRIDGE", "school_census:CENSUS", config, link)
    assert explanation.dob_copied == (("school_census:CENSUS",) if guard_on else ())
    assert any(n.startswith("the date of birth of school_census:CENSUS is") for n in explanation.notes()) == guard_on
    assert explanation.as_dict() == stored
