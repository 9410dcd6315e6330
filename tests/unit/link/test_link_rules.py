"""Deterministic linkage: each rule, the guards, stable person ids."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tfident.errors import ConfigError
from tfident.link import LinkageConfig, link_persons, load_linkage_config, person_id_for
from tfident.synth.identifiers import make_upn, nhs_check_digit

UPN_A = make_upn("997200123001")
UPN_B = make_upn("997200123002")
NHS_A = next(f"{s}{d}" for s in range(943476591, 943476700) if (d := nhs_check_digit(str(s))) is not None)

Maker = Callable[..., pl.DataFrame]


def person(source: str, record_id: str, **values: Any) -> dict[str, Any]:
    """One record: 14 High Street-style defaults, overridden by ``values``."""
    row: dict[str, Any] = {
        "source": source,
        "record_id": record_id,
        "forename": "Robert",
        "surname": "Smith",
        "date_of_birth": date(2010, 5, 20),
        "sex": "M",
        "address_line_1": "1 High Street",
        "town": "Tenford",
        "postcode": "TF1 1AA",
    }
    row.update(values)
    return row


def groups(persons: pl.DataFrame, config: LinkageConfig) -> set[frozenset[str]]:
    """The person clusters as sets of record ids."""
    index, _ = link_persons(persons, config)
    clusters = index.group_by("person_id").agg(pl.col("record_id"))
    return {frozenset(ids) for ids in clusters["record_id"].to_list()}


def linked(persons: pl.DataFrame, config: LinkageConfig, a: str, b: str) -> bool:
    return any(a in g and b in g for g in groups(persons, config))


def rule_of(persons: pl.DataFrame, config: LinkageConfig) -> set[str]:
    _, links = link_persons(persons, config)
    return set(links["match_rule"].to_list())


def test_config_loads_and_is_versioned(linkage: LinkageConfig) -> None:
    assert linkage.version
    assert linkage.rules[0].name == "upn"
    assert all(0 < r.probability <= 1 for r in linkage.rules)


def test_config_rejects_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "linkage.yaml"
    path.write_text('version: "1"\nrules:\n  - {name: bad, block_on: [shoe_size], probability: 0.9}\n')
    with pytest.raises(ConfigError, match="shoe_size"):
        load_linkage_config(path)


def test_config_rejects_extra_field(tmp_path: Path) -> None:
    path = tmp_path / "linkage.yaml"
    path.write_text('version: "1"\ncolour: red\nrules:\n  - {name: a, block_on: [upn], probability: 0.9}\n')
    with pytest.raises(ConfigError, match="colour"):
        load_linkage_config(path)


@pytest.mark.parametrize(
    ("left", "right", "rule"),
    [
        # same UPN, forename misspelt and surname changed
        (
            person("school_census", "A", upn=UPN_A),
            person("attendance", "B", upn=UPN_A, forename="Robret", surname="Jones"),
            "upn",
        ),
        (
            person("social_care", "A", nhs_number=NHS_A),
            person("health", "B", nhs_number=NHS_A, surname="Brown", address_line_1="9 Low Road"),
            "nhs_number",
        ),
        (
            person("benefits", "A", nino="AB123456C", surname="Smith-Jones"),
            person("benefits", "B", nino="AB123456C", surname="Taylor", address_line_1="9 Low Road"),
            "nino",
        ),
        (
            person("youth_offending", "A", pnc_id="2020/0000009N"),
            person("youth_offending", "B", pnc_id="2020/0000009N", surname="Smyth-Brown"),
            "pnc_id",
        ),
        (
            person("asb", "A", forename="ROBERT", surname="SMITH"),
            person("health", "B", address_line_1="9 Low Road"),
            "name_dob",
        ),
        (person("asb", "A", forename="Bob"), person("health", "B", address_line_1="9 Low Road"), "canonical_name_dob"),
        (
            person("asb", "A", date_of_birth=date(2010, 5, 7)),
            person("health", "B", date_of_birth=date(2010, 7, 5), address_line_1="9 Low Road"),
            "name_dob_transposed",
        ),
        (
            person("asb", "A", surname="Smith-Jones"),
            person("health", "B", surname="Jones", address_line_1="9 Low Road"),
            "surname_part_dob",
        ),
        (
            person("asb", "A", surname="Smith"),
            person("health", "B", surname="Smyth", address_line_1="9 Low Road", postcode="TF2 2BB"),
            "metaphone_name_dob",
        ),
        (
            person("asb", "A", surname="Smith", sex="F", forename="Sarah"),
            person("health", "B", surname="Walker", sex="F", forename="Sarah"),
            "surname_change_address",
        ),
        (person("asb", "A", forename="R"), person("health", "B"), "forename_variant_address"),
        (person("asb", "A", forename=None), person("health", "B"), "forename_missing_address"),
        (
            person("asb", "A", date_of_birth=date(2011, 5, 20)),
            person("health", "B"),
            "dob_typo_address",
        ),
        (person("asb", "A", date_of_birth=None), person("health", "B"), "dob_missing_address"),
    ],
)
def test_each_rule_links(
    make_persons: Maker, linkage: LinkageConfig, left: dict[str, Any], right: dict[str, Any], rule: str
) -> None:
    persons = make_persons([left, right])
    assert linked(persons, linkage, "A", "B")
    assert rule in rule_of(persons, linkage)


def test_different_people_stay_apart(make_persons: Maker, linkage: LinkageConfig) -> None:
    persons = make_persons(
        [
            person("asb", "A"),
            person("health", "B", forename="David", date_of_birth=date(1980, 1, 2), address_line_1="2 High Street"),
            person("benefits", "C", forename="Robert", date_of_birth=date(1999, 9, 29), address_line_1="9 Low Road"),
        ]
    )
    assert groups(persons, linkage) == {frozenset({"A"}), frozenset({"B"}), frozenset({"C"})}


def test_twins_not_merged(make_persons: Maker, linkage: LinkageConfig) -> None:
    twins = dict(surname="Smith", date_of_birth=date(2014, 3, 3))
    persons = make_persons(
        [
            person("school_census", "OLIVER1", forename="Oliver", **twins),
            person("attendance", "OLIVER2", forename="Oliver", **twins),
            person("school_census", "OLIVIA1", forename="Olivia", sex="F", **twins),
            person("attendance", "OLIVIA2", forename="Olivia", sex="F", **twins),
            # an initial at the twins' address, sex unknown: could be either, so neither
            person("asb", "INITIAL", forename="O", sex=None, **twins),
            # no forename at all: could be either
            person("health", "BLANK", forename=None, sex=None, **twins),
        ]
    )
    found = groups(persons, linkage)
    assert frozenset({"OLIVER1", "OLIVER2"}) in found
    assert frozenset({"OLIVIA1", "OLIVIA2"}) in found
    assert frozenset({"INITIAL"}) in found
    assert frozenset({"BLANK"}) in found


def test_twins_with_same_initial_and_sex_not_merged(make_persons: Maker, linkage: LinkageConfig) -> None:
    twins = dict(surname="Khan", date_of_birth=date(2015, 8, 8), sex="M")
    persons = make_persons(
        [
            person("school_census", "A1", forename="Adam", **twins),
            person("school_census", "A2", forename="Ali", **twins),
            person("asb", "A3", forename="A", **twins),
        ]
    )
    found = groups(persons, linkage)
    assert all(len(g) == 1 for g in found)


def test_father_and_son_not_merged(make_persons: Maker, linkage: LinkageConfig) -> None:
    persons = make_persons(
        [
            person("benefits", "DAD1", forename="Gary", date_of_birth=date(1975, 2, 11)),
            person("asb", "DAD2", forename="Gary", date_of_birth=date(1975, 2, 11)),
            person("youth_offending", "SON1", forename="Gary", date_of_birth=date(2009, 6, 1)),
            person("school_census", "SON2", forename="Gary", date_of_birth=date(2009, 6, 1)),
            person("asb", "NODOB", forename="Gary", date_of_birth=None),
        ]
    )
    found = groups(persons, linkage)
    assert frozenset({"DAD1", "DAD2"}) in found
    assert frozenset({"SON1", "SON2"}) in found
    assert frozenset({"NODOB"}) in found


def test_father_and_son_not_merged_through_a_shared_nino(make_persons: Maker, linkage: LinkageConfig) -> None:
    persons = make_persons(
        [
            person("benefits", "DAD", forename="Gary", date_of_birth=date(1975, 2, 11), nino="AB123456C"),
            person("benefits", "SON", forename="Gary", date_of_birth=date(2008, 6, 1), nino="AB123456C"),
        ]
    )
    assert not linked(persons, linkage, "DAD", "SON")


def test_conflicting_upns_never_merge(make_persons: Maker, linkage: LinkageConfig) -> None:
    persons = make_persons(
        [
            person("school_census", "A", upn=UPN_A),
            person("school_census", "B", upn=UPN_B),
            person("asb", "C"),  # no UPN: may join one of them, never both
        ]
    )
    found = groups(persons, linkage)
    assert not any({"A", "B"} <= g for g in found)


def test_someone_elses_identifier_does_not_link(make_persons: Maker, linkage: LinkageConfig) -> None:
    # a sibling's UPN keyed on the record: different forename and date of birth
    persons = make_persons(
        [
            person("school_census", "A", upn=UPN_A),
            person("attendance", "B", upn=UPN_A, forename="Emily", sex="F", date_of_birth=date(2012, 1, 30)),
        ]
    )
    assert not linked(persons, linkage, "A", "B")


def test_person_ids_do_not_depend_on_row_order(make_persons: Maker, linkage: LinkageConfig) -> None:
    rows = [
        person("school_census", "S1", upn=UPN_A),
        person("attendance", "S2", upn=UPN_A, forename="Bob"),
        person("asb", "S3", forename="R"),
        person("benefits", "D1", forename="Gary", date_of_birth=date(1975, 2, 11), nino="AB123456C"),
        person("asb", "D2", forename="Gazza", date_of_birth=date(1975, 2, 11)),
        person("health", "X", forename="Emily", sex="F", date_of_birth=date(2001, 1, 1)),
    ]
    first, _ = link_persons(make_persons(rows), linkage)
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    second, _ = link_persons(make_persons(shuffled), linkage)
    ids_first = dict(zip(first["record_key"], first["person_id"], strict=True))
    ids_second = dict(zip(second["record_key"], second["person_id"], strict=True))
    assert ids_first == ids_second
    assert ids_first["school_census:S1"] == person_id_for("asb:S3")  # the smallest key of the three
    assert ids_first["benefits:D1"] == ids_first["asb:D2"]


def test_frames_have_the_contract_columns(make_persons: Maker, linkage: LinkageConfig) -> None:
    persons = make_persons([person("asb", "A"), person("health", "B"), person("health", "C", forename="Zed")])
    index, links = link_persons(persons, linkage)
    assert index.columns == ["record_key", "source", "record_id", "person_id"]
    assert index["record_key"].to_list() == persons["record_key"].to_list()
    assert links.schema == pl.Schema(
        {
            "record_key_l": pl.String,
            "record_key_r": pl.String,
            "match_probability": pl.Float64,
            "match_rule": pl.String,
        }
    )
    assert (links["record_key_l"] < links["record_key_r"]).all()
    assert index["person_id"].str.contains(r"^P[0-9a-f]{12}$").all()


def test_identical_records_link_through_their_profile(make_persons: Maker, linkage: LinkageConfig) -> None:
    persons = make_persons([person("attendance", f"T{i}") for i in range(5)])
    index, links = link_persons(persons, linkage)
    assert index["person_id"].n_unique() == 1
    assert set(links["match_rule"]) == {"identical"}
    assert links.height == 4


def test_empty_persons(make_persons: Maker, linkage: LinkageConfig) -> None:
    persons = make_persons([person("asb", "A")]).clear()
    index, links = link_persons(persons, linkage)
    assert index.is_empty() and links.is_empty()
