"""A weak record bridging two dates of birth of one person (issue 12, pseudopeople):
``weak_record_bridges_dob``. A tax form with no date of birth whose number agrees with a Social
Security record, and whose name and address agree with a census record giving a date of birth no
typo explains, links both; a namesake mother and daughter, a mother and son, similar but distinct
names, a form under another person's name or a conflict the dob guard is not alone in stay apart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.link.test_copied_dob import NOWHERE, _record
from tests.unit.link.test_link_splink import NHS_A
from tfident.link import LinkageConfig
from tfident.link.clustering import EDGE_SCHEMA, cluster_profiles
from tfident.link.config import Guards
from tfident.link.profiles import build_profiles

Maker = Callable[..., pl.DataFrame]

SSA_DOB = date(1973, 7, 9)
CENSUS_DOB = date(1975, 5, 9)  # two digits wrong: no typo the dob guard tolerates
OTHER_DOB = date(2001, 2, 14)


def _records(
    census: dict[str, Any], tax: dict[str, Any], extra: bool, ssa: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Joy's tax form (no date of birth, her number), her Social Security record (her number and a
    date of birth, no address) and a census record at the address (``census`` over Joy's name and
    ``CENSUS_DOB``); with ``extra``, a second census record of Joy's carrying ``SSA_DOB``.
    """
    joy = {"forename": "Joy", "surname": "Hossain", "sex": "F"}
    rows = [
        _record("benefits", "TAX", **{**joy, "date_of_birth": None, "nino": "AB123456C", "sex": None, **tax}),
        _record(
            "employment", "SSA", **{**joy, "date_of_birth": SSA_DOB, "nino": "AB123456C", **NOWHERE, **(ssa or {})}
        ),
        _record(
            census.get("source", "school_census"),
            "CENSUS",
            **{**joy, "date_of_birth": CENSUS_DOB, **{k: v for k, v in census.items() if k != "source"}},
        ),
    ]
    if extra:
        rows.append(_record("housing", "OWN", **{**joy, "date_of_birth": SSA_DOB}))
    return rows


def _clusters(persons: pl.DataFrame, weights: dict[str, float], bridges: bool) -> set[frozenset[str]]:
    """The clusters (record ids) from the tax form's edges (``weights`` by record id) and, for the
    extra census record, its edge to the Social Security record.
    """
    profiles, members = build_profiles(persons)
    pid = {key.split(":", 1)[1]: p for key, p in members.select("record_key", "pid").iter_rows()}
    rows = [(min(pid["TAX"], pid[k]), max(pid["TAX"], pid[k]), 0.99, "splink", 0, w) for k, w in weights.items()]
    if "OWN" in pid:
        rows.append((min(pid["SSA"], pid["OWN"]), max(pid["SSA"], pid["OWN"]), 0.99, "splink", 0, 14.0))
    edges = pl.DataFrame(rows, schema={**EDGE_SCHEMA, "weight": pl.Float64}, orient="row")
    guards = Guards(ambiguous_margin=4, weak_record_bridges_dob=bridges)
    out = cluster_profiles(profiles, edges, guards).join(members, on="pid")
    keyed = out.group_by("cluster").agg(pl.col("record_key"))["record_key"].to_list()
    return {frozenset(k.split(":", 1)[1] for k in keys) for keys in keyed}


@pytest.mark.parametrize(
    ("census", "tax", "weights", "bridges", "one_person"),
    [
        # the form's number names the Social Security record (27 bits), its name and address the
        # census record (8 bits): one person whose two dates of birth no typo explains
        ({}, {}, {"SSA": 27.0, "CENSUS": 8.0}, True, True),
        ({}, {}, {"SSA": 27.0, "CENSUS": 8.0}, False, False),  # the option off: dropped as a rival
        ({}, {}, {"SSA": 11.0, "CENSUS": 8.0}, True, False),  # within the margin: ambiguous, as before
        ({"sex": "M", "forename": "Joe"}, {}, {"SSA": 27.0, "CENSUS": 8.0}, True, False),  # opposite sexes
        ({"sex": "M"}, {}, {"SSA": 27.0, "CENSUS": 8.0}, True, True),  # one forename: a sex keyed wrong
        ({"forename": "Joya"}, {}, {"SSA": 27.0, "CENSUS": 8.0}, True, True),  # a keying error: one name
        # a daughter with a similar name, not one name (Angela and Angelina)
        ({"forename": "Angelina"}, {"forename": "Angela"}, {"SSA": 27.0, "CENSUS": 8.0}, True, False),
        # a form under Maria's name with her mother Martha's number: not one name with Martha
        ({"forename": "Mary"}, {"forename": "Maria"}, {"SSA": 27.0, "CENSUS": 8.0}, True, False),
        # the other record's number conflicts too
        ({"nino": "JK654321A", "source": "benefits"}, {}, {"SSA": 27.0, "CENSUS": 8.0}, True, False),
        # the other record carries an identifier of its own (a father's NHS number beside his
        # namesake son's school records): identified apart from the form, not bridged
        ({"nhs_number": NHS_A, "source": "health"}, {}, {"SSA": 27.0, "CENSUS": 8.0}, True, False),
        # a record with no full forename but a date of birth (one digit from each) is no bridge
        ({}, {"forename": "J", "date_of_birth": date(1973, 5, 9)}, {"SSA": 27.0, "CENSUS": 8.0}, True, False),
    ],
)
def test_a_tax_form_bridges_two_dates_of_birth_of_one_person(
    make_persons: Maker,
    census: dict[str, Any],
    tax: dict[str, Any],
    weights: dict[str, float],
    bridges: bool,
    one_person: bool,
) -> None:
    ssa = {"forename": {"Maria": "Martha", "Angela": "Angela"}.get(tax.get("forename", ""), "Joy")}
    persons = make_persons(_records(census, tax, extra=False, ssa=ssa))
    found = _clusters(persons, weights, bridges)
    assert (frozenset({"TAX", "SSA", "CENSUS"}) in found) is one_person
    assert not any({"SSA", "CENSUS"} <= group and "TAX" not in group for group in found)


def test_a_namesake_daughter_is_not_bridged_to_her_mother(make_persons: Maker) -> None:
    # the mother's own census record (OWN, her date of birth) is as strong a partner of the form as
    # the daughter's: nothing outweighs the daughter by the margin but the number
    persons = make_persons(_records({"date_of_birth": OTHER_DOB}, {}, extra=True))
    found = _clusters(persons, {"SSA": 27.0, "OWN": 8.5, "CENSUS": 8.0}, bridges=True)
    assert frozenset({"CENSUS"}) in found
    assert frozenset({"TAX", "SSA", "OWN"}) in found


def test_the_shipped_configuration_bridges(linkage: LinkageConfig) -> None:
    assert linkage.guards.weak_record_bridges_dob
    assert linkage.guards.ambiguous_margin is not None


@pytest.mark.parametrize(("copied", "one_person"), [(None, True), ("SSA", False), ("CENSUS", False)])
def test_a_date_of_birth_several_records_give_is_not_bridged(
    make_persons: Maker, copied: str | None, one_person: bool
) -> None:
    # a date of birth two records agree on (a school's census and attendance records of a
    # daughter) is the person's, not a wrong one: her namesake mother's record stays apart
    records = _records({}, {}, extra=False)
    records += [{**r, "record_id": f"{r['record_id']}2"} for r in records if r["record_id"] == copied]
    found = _clusters(make_persons(records), {"SSA": 27.0, "CENSUS": 8.0}, bridges=True)
    assert any({"TAX", "SSA", "CENSUS"} <= group for group in found) is one_person
