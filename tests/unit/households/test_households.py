"""assign_households: one address per person at D, roles, household frames."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.households import assign_households, household_id_for

D = date(2026, 10, 31)


def records(rows: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A matched-persons frame (the columns households reads) and its person index."""
    frame = pl.DataFrame(
        {
            "record_key": [f"{r['source']}:{r['id']}" for r in rows],
            "source": [r["source"] for r in rows],
            "date_of_birth": [r.get("dob") for r in rows],
            "evidence_date": [r.get("evidence") for r in rows],
            "address": [r.get("address", f"{r.get('uprn')} Some Street") for r in rows],
            "postcode_std": [r.get("postcode", "TF1 1AA") for r in rows],
            "uprn_matched": [r.get("uprn") for r in rows],
            "address_match": ["exact" if r.get("uprn") else "unmatched" for r in rows],
        },
        schema_overrides={"date_of_birth": pl.Date, "evidence_date": pl.Date, "uprn_matched": pl.Int64},
    )
    index = pl.DataFrame(
        {"record_key": frame["record_key"], "person_id": [r["person"] for r in rows]},
    )
    return frame, index


def placed(rows: list[dict[str, Any]]) -> dict[str, int | None]:
    frame, index = records(rows)
    residents, _ = assign_households(frame, index, D)
    return dict(zip(residents["person_id"], residents["uprn"], strict=True))


def test_most_recent_evidence_wins() -> None:
    rows = [
        {"person": "P1", "source": "asb", "id": "1", "uprn": 10, "evidence": date(2025, 11, 1)},
        {"person": "P1", "source": "health", "id": "2", "uprn": 20, "evidence": date(2026, 9, 1)},
        {"person": "P1", "source": "domestic_abuse", "id": "3", "uprn": 10, "evidence": date(2025, 12, 1)},
    ]
    assert placed(rows) == {"P1": 20}


def test_old_address_in_one_agency_does_not_move_a_person() -> None:
    # the family moved in March; DWP never updated the claim's address (evidence: D)
    rows = [
        {"person": "P1", "source": "school_census", "id": "1", "uprn": 10, "evidence": date(2025, 10, 2)},
        {"person": "P1", "source": "attendance", "id": "2", "uprn": 10, "evidence": date(2025, 12, 19)},
        {"person": "P1", "source": "school_census", "id": "3", "uprn": 20, "evidence": date(2026, 5, 21)},
        {"person": "P1", "source": "school_census", "id": "4", "uprn": 20, "evidence": date(2026, 10, 1)},
        {"person": "P1", "source": "benefits", "id": "5", "uprn": 10, "evidence": D},
    ]
    assert placed(rows) == {"P1": 20}


def test_ties_go_to_the_more_reliable_source() -> None:
    rows = [
        {"person": "P1", "source": "asb", "id": "1", "uprn": 10, "evidence": date(2026, 10, 1)},
        {"person": "P1", "source": "school_census", "id": "2", "uprn": 20, "evidence": date(2026, 10, 1)},
    ]
    assert placed(rows) == {"P1": 20}


def test_unmatched_records_form_a_household_at_their_own_address() -> None:
    # an address with no UPRN no longer loses the person: a later one places them there
    rows = [
        {"person": "P1", "source": "asb", "id": "1", "uprn": None, "evidence": D, "address": "3 Mill Lane, Wrekinford"},
        {"person": "P1", "source": "health", "id": "2", "uprn": 10, "evidence": date(2025, 1, 1)},
        {"person": "P2", "source": "asb", "id": "3", "uprn": None, "evidence": D, "address": None},
    ]
    frame, index = records(rows)
    residents, households = assign_households(frame, index, D)
    by_person = {r["person_id"]: r for r in residents.iter_rows(named=True)}
    assert by_person["P1"]["uprn"] is None
    assert by_person["P1"]["household_id"] is not None
    assert by_person["P2"]["household_id"] is None  # no address text at all: nothing to place them by
    assert households.row(0, named=True)["address_status"] == "not_in_gazetteer"


@pytest.mark.parametrize(
    ("dob", "role"),
    [
        (date(2008, 10, 31), "adult"),  # 18th birthday on D
        (date(2008, 11, 1), "child"),  # 18 tomorrow
        (date(2008, 10, 30), "adult"),
        (date(2020, 2, 29), "child"),
        (date(1950, 1, 1), "adult"),
        (None, "unknown"),
    ],
)
def test_roles_by_age_at_d(dob: date | None, role: str) -> None:
    frame, index = records([{"person": "P1", "source": "asb", "id": "1", "uprn": 10, "evidence": D, "dob": dob}])
    residents, _ = assign_households(frame, index, D)
    assert residents["role"][0] == role


def test_resolved_dob_is_the_most_common_then_most_recent() -> None:
    rows = [
        {"person": "P1", "source": "asb", "id": "1", "uprn": 10, "evidence": date(2026, 1, 1), "dob": date(2010, 3, 4)},
        {"person": "P1", "source": "asb", "id": "2", "uprn": 10, "evidence": date(2026, 2, 1), "dob": date(2010, 3, 4)},
        {"person": "P1", "source": "asb", "id": "3", "uprn": 10, "evidence": date(2026, 9, 1), "dob": date(2010, 4, 3)},
        {"person": "P2", "source": "asb", "id": "4", "uprn": 10, "evidence": date(2026, 1, 1), "dob": date(1980, 1, 1)},
        {"person": "P2", "source": "asb", "id": "5", "uprn": 10, "evidence": date(2026, 9, 1), "dob": date(1981, 1, 1)},
        {"person": "P2", "source": "asb", "id": "6", "uprn": 10, "evidence": D, "dob": None},
    ]
    frame, index = records(rows)
    residents, _ = assign_households(frame, index, D)
    dobs = dict(zip(residents["person_id"], residents["date_of_birth"], strict=True))
    assert dobs == {"P1": date(2010, 3, 4), "P2": date(1981, 1, 1)}


def test_household_frames() -> None:
    rows = [
        {"person": "P1", "source": "benefits", "id": "1", "uprn": 10, "evidence": D, "dob": date(1980, 1, 1)},
        {"person": "P2", "source": "school_census", "id": "2", "uprn": 10, "evidence": D, "dob": date(2012, 1, 1)},
        {"person": "P3", "source": "asb", "id": "3", "uprn": 20, "evidence": D, "dob": date(1990, 1, 1)},
    ]
    frame, index = records(rows)
    residents, households = assign_households(frame, index, D)
    assert residents.columns == ["person_id", "household_id", "uprn", "role", "date_of_birth"]
    assert households.columns == [
        "household_id",
        "uprn",
        "address",
        "postcode",
        "n_members",
        "address_status",
        "review_reason",
    ]
    assert dict(zip(households["uprn"], households["n_members"], strict=True)) == {10: 2, 20: 1}
    assert set(households["household_id"]) == {household_id_for(10), household_id_for(20)}
    assert household_id_for(10).startswith("H")
    assert len(household_id_for(10)) == 13
    assert households.filter(pl.col("uprn") == 10)["address"][0] == "10 Some Street"


def test_gazetteer_gives_the_address_text() -> None:
    frame, index = records([{"person": "P1", "source": "asb", "id": "1", "uprn": 10, "evidence": D}])
    gazetteer = pl.DataFrame(
        {"uprn": [10], "address_line_1": ["10 High Street"], "town": ["Tenford"], "postcode": ["TF1 1AA"]}
    )
    _, households = assign_households(frame, index, D, gazetteer=gazetteer)
    assert households.row(0, named=True)["address"] == "10 High Street, Tenford"


def test_order_of_records_does_not_matter() -> None:
    rows = [
        {"person": f"P{i % 7}", "source": "asb", "id": str(i), "uprn": 10 + i % 3, "evidence": date(2026, 1 + i % 9, 1)}
        for i in range(40)
    ]
    frame, index = records(rows)
    first = assign_households(frame, index, D)
    second = assign_households(frame.reverse(), index.sample(fraction=1.0, shuffle=True, seed=3), D)
    assert first[0].equals(second[0])
    assert first[1].equals(second[1])
