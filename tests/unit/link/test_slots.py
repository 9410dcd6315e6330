"""Slots (``tfident.link.slots``, guard ``one_record_per_slot``): two records of one slot of a source
(one attendance row per pupil, school and term; one census row per pupil, school and census day) are
two people. The two held-out twin merges of issue 12 (seeds 111 and 114), as records.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.link.conftest import AS_OF, GAZETTEER, build_persons, extract
from tfident.ingest.sources import SourcesFile
from tfident.link import LinkageConfig, link_persons, link_persons_cached, record_slots
from tfident.link.clustering import EDGE_SCHEMA, cluster_profiles
from tfident.link.config import Guards
from tfident.link.profiles import build_profiles
from tfident.link.slots import SLOT_COLUMN, contested_slots
from tfident.standardise import match_addresses, standardise_persons

HOME: dict[str, Any] = {"address_line_1": "1 High Street", "town": "Tenford", "postcode": "TF1 1AA"}
HILL = {"surname": "Hill", "date_of_birth": date(2018, 6, 8), **HOME}
ISLA_UPN, OLIVIA_UPN = "L997200322029", "A997200322032"
TERMS = ("2024/25-SUM", "2025/26-AUT", "2025/26-SPR")


def _attendance(record_id: str, forename: str, upn: str | None, term: str, **values: Any) -> dict[str, Any]:
    return {
        "source": "attendance",
        "record_id": record_id,
        "forename": forename,
        "upn": upn,
        "school_urn": "132666",
        "term": term,
        "term_start": date(2025, 1, 6),
        "term_end": date(2025, 3, 28),
        "sessions_possible": 120,
        "sessions_authorised": 2,
        "sessions_unauthorised": 0,
        **HILL,
        **values,
    }


def _census(record_id: str, forename: str, upn: str, census_date: date, **values: Any) -> dict[str, Any]:
    return {
        "source": "school_census",
        "record_id": record_id,
        "forename": forename,
        "upn": upn,
        "school_urn": "132666",
        "provision": "MAINSTREAM",
        "census_date": census_date,
        **HILL,
        **values,
    }


def _hill_twins() -> list[dict[str, Any]]:
    """Held-out lagged seed 114: Olivia Isla Hill, whose middle name is her twin Isla's forename,
    with one census record carrying Isla's UPN. The twins guard's "middle name used as forename"
    made them one person; each has her own attendance row for every term and census day.
    """
    isla = [_attendance(f"ISLA-{t}", "Isla", ISLA_UPN, t) for t in TERMS]
    isla.append(_census("ISLA-C1", "Isla", ISLA_UPN, date(2026, 5, 21)))
    isla.append(_census("ISLA-C2", "Isla", ISLA_UPN, date(2026, 10, 1)))
    olivia = [_attendance(f"OLIVIA-{t}", "Olivia", OLIVIA_UPN, t) for t in TERMS[1:]]
    olivia.append(_attendance(f"OLIVIA-{TERMS[0]}", "Olivia", OLIVIA_UPN, TERMS[0], middle_names="Isla"))
    olivia.append(_census("OLIVIA-C1", "Olivia", ISLA_UPN, date(2026, 5, 21)))  # her twin's UPN
    olivia.append(_census("OLIVIA-C2", "Olivia", OLIVIA_UPN, date(2026, 10, 1), middle_names="Isla"))
    return isla + olivia


def _okonkwo_twins() -> list[dict[str, Any]]:
    """Held-out messy seed 111: one attendance row of Blessing Grace Okonkwo carries her twin Grace's
    UPN and a mistyped day of birth (13 for 23). Grace's row for that school and term is her own.
    """
    base = {"surname": "Okonkwo", "date_of_birth": date(2013, 11, 23), **HOME}
    blessing, grace = "Q997200118099", "H997200118100"

    def row(record_id: str, forename: str, upn: str, term: str, **values: Any) -> dict[str, Any]:
        return _attendance(record_id, forename, upn, term, **{**base, **values})

    return [
        row("BLESSING-1", "Blessing", blessing, TERMS[0], middle_names="Grace"),
        row("BLESSING-2", "Blessing", blessing, TERMS[1], middle_names="Grace"),
        row("STRAY", "Blessing", grace, TERMS[2], middle_names="Grace", date_of_birth=date(2013, 11, 13)),
        row("GRACE-1", "Grace", grace, TERMS[0]),
        row("GRACE-2", "Grace", grace, TERMS[1]),
        row("GRACE-3", "Grace", grace, TERMS[2]),
    ]


def _extracts(rows: list[dict[str, Any]]) -> dict[str, pl.DataFrame]:
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    return {source: extract(source, source_rows) for source, source_rows in by_source.items()}


def _people(index: pl.DataFrame) -> set[frozenset[str]]:
    return {frozenset(g) for g in index.group_by("person_id").agg(pl.col("record_id"))["record_id"].to_list()}


def _mixed(people: set[frozenset[str]], a: str, b: str) -> bool:
    return any(any(k.startswith(a) for k in p) and any(k.startswith(b) for k in p) for p in people)


@pytest.mark.parametrize(
    ("rows", "a", "b"),
    [(_hill_twins(), "ISLA", "OLIVIA"), (_okonkwo_twins(), "GRACE", "STRAY")],
    ids=["middle-name-twin-114", "twins-upn-111"],
)
def test_the_held_out_twins_stay_apart_only_with_slots(
    rows: list[dict[str, Any]], a: str, b: str, linkage: LinkageConfig
) -> None:
    extracts = _extracts(rows)
    persons = match_addresses(standardise_persons(extracts, AS_OF), GAZETTEER)
    without, _ = link_persons(persons, linkage)
    assert _mixed(_people(without), a, b), "the case no longer merges without slots: it tests nothing"
    with_slots, _ = link_persons(persons, linkage, extracts=extracts)
    people = _people(with_slots)
    assert not _mixed(people, a, b), people
    off = linkage.model_copy(update={"guards": linkage.guards.model_copy(update={"one_record_per_slot": False})})
    assert _mixed(_people(link_persons(persons, off, extracts=extracts)[0]), a, b)


def test_each_twin_keeps_her_own_records(linkage: LinkageConfig) -> None:
    extracts = _extracts(_hill_twins())
    persons = match_addresses(standardise_persons(extracts, AS_OF), GAZETTEER)
    people = _people(link_persons(persons, linkage, extracts=extracts)[0])
    assert any({f"ISLA-{t}" for t in TERMS} | {"ISLA-C1", "ISLA-C2"} <= p for p in people), people
    assert any({f"OLIVIA-{t}" for t in TERMS} <= p for p in people), people


def test_the_incremental_run_keeps_them_apart_too(linkage: LinkageConfig) -> None:
    extracts = _extracts(_hill_twins())
    persons = match_addresses(standardise_persons(extracts, AS_OF), GAZETTEER)
    full, _, cache = link_persons_cached(persons, linkage, extracts=extracts)
    again, _, _ = link_persons_cached(persons, linkage, previous=cache, extracts=extracts)
    assert _people(again) == _people(full)
    assert not _mixed(_people(again), "ISLA", "OLIVIA")


# ---------------------------------------------------------------- record_slots


@pytest.mark.parametrize(
    ("source", "row", "slot"),
    [
        ("attendance", {"school_urn": "132666", "term": "2025/26-AUT"}, "attendance|132666|2025/26-AUT"),
        ("attendance", {"school_urn": " 132666 ", "term": "2025/26-AUT"}, "attendance|132666|2025/26-AUT"),
        ("attendance", {"school_urn": None, "term": "2025/26-AUT"}, None),
        ("attendance", {"school_urn": "", "term": "2025/26-AUT"}, None),
        (
            "school_census",
            {"school_urn": "132666", "census_date": date(2026, 10, 1)},
            "school_census|132666|2026-10-01",
        ),
        ("school_census", {"school_urn": "132666", "census_date": None}, None),
        ("exclusions", {"school_urn": "132666", "start_date": date(2026, 10, 1)}, None),  # no person_slot
        ("health", {}, None),
    ],
)
def test_record_slots(source: str, row: dict[str, Any], slot: str | None) -> None:
    frame = extract(source, [{"record_id": "R1", "forename": "Isla", **row}])
    found = record_slots({source: frame})
    assert found.to_dicts() == ([] if slot is None else [{"record_key": f"{source}:R1", "slot": slot}])


def test_an_extract_without_a_slot_column_has_no_slots() -> None:
    frame = extract("attendance", [{"record_id": "R1", "school_urn": "1", "term": "T"}]).drop("term")
    assert record_slots({"attendance": frame}).is_empty()
    assert record_slots({}).is_empty()


# ---------------------------------------------------------------- contested_slots


def _frames(n: int, held: dict[int, list[str]]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    profiles = pl.DataFrame({"pid": list(range(n))}, schema={"pid": pl.Int64})
    members = pl.DataFrame({"record_key": [f"r{i}" for i in range(n)], "pid": list(range(n))})
    slots = pl.DataFrame(
        [(f"r{pid}", slot) for pid, values in held.items() for slot in values],
        schema={"record_key": pl.String, "slot": pl.String},
        orient="row",
    )
    return profiles, members, slots


@pytest.mark.parametrize(
    ("pairs", "held", "expected"),
    [
        # two profiles of one component sharing a slot get it; the slot only one holds is left out
        ([(0, 1)], {0: ["s", "t"], 1: ["s", "u"]}, [["s"], ["s"], []]),
        # the same slot in another component says nothing (every pupil of a school shares its terms)
        ([(0, 1)], {0: ["s"], 2: ["s"]}, [[], [], []]),
        # a component through a third profile holding no slot
        ([(0, 2), (2, 1)], {0: ["s"], 1: ["s"]}, [["s"], ["s"], []]),
        # no pairs: every profile alone
        ([], {0: ["s"], 1: ["s"]}, [[], [], []]),
    ],
)
def test_contested_slots(pairs: list[tuple[int, int]], held: dict[int, list[str]], expected: list[list[str]]) -> None:
    profiles, members, slots = _frames(3, held)
    edges = pl.DataFrame(pairs, schema={"pid_l": pl.Int64, "pid_r": pl.Int64}, orient="row")
    assert contested_slots(profiles, members, slots, edges)[SLOT_COLUMN].to_list() == expected


def test_no_slots_gives_empty_lists() -> None:
    profiles, members, _ = _frames(2, {})
    edges = pl.DataFrame([(0, 1)], schema={"pid_l": pl.Int64, "pid_r": pl.Int64}, orient="row")
    assert contested_slots(profiles, members, None, edges)[SLOT_COLUMN].to_list() == [[], []]


# ---------------------------------------------------------------- the guard in clustering


CHAIN = ((0, 1), (1, 2))
STAR = ((0, 1), (0, 2))


def _clusters(
    slots: list[list[str]], guards: Guards, must: list[tuple[int, int]] | None = None, pairs: Any = CHAIN
) -> list[int]:
    """Three records of one girl (same name and date of birth, three houses of one street), their
    ``pairs`` scored 0.99 then 0.98, with ``slots`` per profile: the clusters.
    """
    rows = [
        {"source": "health", "record_id": f"R{i}", "forename": "Isla", **HILL, "address_line_1": f"{i + 1} High Street"}
        for i in range(3)
    ]
    profiles, _ = build_profiles(build_persons(rows))
    assert profiles.height == 3
    profiles = profiles.with_columns(pl.Series(SLOT_COLUMN, slots, dtype=pl.List(pl.String)))
    (a, b), (c, d) = pairs
    edges = pl.DataFrame([(a, b, 0.99, "splink", 0), (c, d, 0.98, "splink", 0)], schema=EDGE_SCHEMA, orient="row")
    clusters = cluster_profiles(profiles, edges, guards, must_link=must or [])
    return clusters.sort("pid")["cluster"].to_list()


@pytest.mark.parametrize(
    ("slots", "guards", "must", "pairs", "clusters"),
    [
        ([[], [], []], Guards(), None, CHAIN, [0, 0, 0]),
        # 0 and 1 share a slot: never one person; 2 joins 1 (its only edge)
        ([["s"], ["s"], []], Guards(), None, CHAIN, [0, 1, 1]),
        # 0 and 2 share a slot: 0-1 merge first, then 1-2 would put the slot twice in one person
        ([["s"], [], ["s"]], Guards(), None, CHAIN, [0, 0, 2]),
        # the slot came into 0's cluster with 1: 2 cannot join it
        ([[], ["s"], ["s"]], Guards(), None, STAR, [0, 0, 2]),
        # the guard off
        ([["s"], ["s"], []], Guards(one_record_per_slot=False), None, CHAIN, [0, 0, 0]),
        # a reviewer's must_link bypasses it, as every guard but cannot_link
        ([["s"], ["s"], []], Guards(), [(0, 1)], CHAIN, [0, 0, 0]),
    ],
    ids=["no-slots", "shared-on-the-edge", "shared-across-the-cluster", "carried-by-a-merge", "guard-off", "must-link"],
)
def test_the_guard_in_clustering(
    slots: list[list[str]], guards: Guards, must: list[tuple[int, int]] | None, pairs: Any, clusters: list[int]
) -> None:
    assert _clusters(slots, guards, must, pairs) == clusters


# ---------------------------------------------------------------- the contract's description


def _sources(**attendance: Any) -> dict[str, Any]:
    return {
        "person_columns": [{"name": "record_id", "type": "text"}],
        "sources": {
            "attendance": {
                "agency": "schools",
                "required": True,
                "person": True,
                "evidence_date": "term_end",
                "residence_priority": 3,
                "columns": [{"name": "term", "type": "text"}, {"name": "term_end", "type": "date"}],
                **attendance,
            },
            "gazetteer": {"agency": "council", "required": True, "person": False, "columns": [], **{}},
        },
    }


def test_a_slot_names_columns_of_its_source() -> None:
    assert SourcesFile.model_validate(_sources(person_slot=["term"])).sources["attendance"].person_slot == ("term",)
    with pytest.raises(ValueError, match="person_slot: attendance has no column 'school_urn'"):
        SourcesFile.model_validate(_sources(person_slot=["school_urn", "term"]))


def test_a_slot_is_for_person_sources() -> None:
    data = _sources()
    data["sources"]["gazetteer"] = {**data["sources"]["gazetteer"], "person_slot": ["uprn"]}
    with pytest.raises(ValueError, match="person_slot is for person sources"):
        SourcesFile.model_validate(data)


def test_a_pair_held_apart_by_a_slot_says_which(linkage: LinkageConfig) -> None:
    from tfident.link.explanation import from_stored

    extracts = _extracts(_hill_twins())
    persons = match_addresses(standardise_persons(extracts, AS_OF), GAZETTEER)
    _, links = link_persons(persons, linkage, extracts=extracts)
    held = [row for row in links.iter_rows(named=True) if '"one_slot"' in (row["match_weights_json"] or "")]
    assert held, links.filter(pl.col("match_rule") == "held_apart")
    assert {row["match_rule"] for row in held} == {"held_apart"}
    explained = from_stored(held[0], linkage)
    assert explained is not None
    assert explained.one_slot
    assert all(slot.startswith(("attendance|132666|", "school_census|132666|")) for slot in explained.one_slot)
    assert explained.as_dict()["one_slot"] == list(explained.one_slot)
    # what tfident explain prints for it
    source, school, *_ = explained.one_slot[0].split("|")
    assert any(
        note.startswith(f"held apart: both persons hold a record of {source} for {school} ")
        for note in explained.notes()
    ), explained.notes()
    # without slots no pair carries one
    _, plain = link_persons(persons, linkage)
    assert not plain["match_weights_json"].str.contains('"one_slot"').fill_null(False).any()


# ---------------------------------------------------------------- the quality report


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # one pupil's three terms: no slot repeated
        ([("U1", "1", "AUT"), ("U1", "1", "SPR"), ("U1", "1", "SUM")], 0),
        # twins at one school: two slots each, two numbers
        ([("U1", "1", "AUT"), ("U2", "1", "AUT")], 0),
        # one pupil sent twice for a term, or a record carrying the other's number
        ([("U1", "1", "AUT"), ("U1", "1", "AUT"), ("U1", "1", "AUT")], 2),
        # another school, or no number: not counted
        ([("U1", "1", "AUT"), ("U1", "2", "AUT"), (None, "1", "AUT"), (None, "1", "AUT")], 0),
    ],
)
def test_the_quality_report_counts_repeated_slots(rows: list[tuple[Any, ...]], expected: int) -> None:
    from tfident.ingest.quality import repeated_slots
    from tfident.ingest.sources import SOURCES

    frame = extract(
        "attendance", [{"record_id": str(i), "upn": u, "school_urn": s, "term": t} for i, (u, s, t) in enumerate(rows)]
    )
    assert repeated_slots(frame, SOURCES["attendance"]) == expected
    assert repeated_slots(frame, SOURCES["health"]) is None  # no slot
    assert repeated_slots(frame.drop("upn"), SOURCES["attendance"]) is None  # no identifier


def test_the_link_stage_reads_the_slots_from_the_batch(linkage: LinkageConfig) -> None:
    """``tfident.pipeline.link_stage`` gives linkage the batch's extracts: a monthly run keeps the twins apart."""
    from types import SimpleNamespace

    from tfident.pipeline import link_stage

    extracts = _extracts(_hill_twins())
    persons = match_addresses(standardise_persons(extracts, AS_OF), GAZETTEER)
    batch: Any = SimpleNamespace(extracts=extracts)
    index = link_stage(persons, linkage, batch=batch)[0]
    assert not _mixed(_people(index), "ISLA", "OLIVIA")
    assert _mixed(_people(link_stage(persons, linkage)[0]), "ISLA", "OLIVIA")
