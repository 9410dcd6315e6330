"""The first-version Phase 2 pack: six headline problems, at least two."""

from __future__ import annotations

import datetime as dt

import polars as pl
from criteria_scenario import Scenario

D = dt.date(2026, 10, 31)


def test_two_headline_problems_make_a_household_eligible(scenario: Scenario) -> None:
    scenario.adult("a", "H1")
    scenario.benefit("a", "JSA")
    scenario.add("health", "a", indicator="MENTAL_HEALTH", recorded_date=dt.date(2026, 6, 1))
    scenario.adult("b", "H2")
    scenario.benefit("b", "JSA")
    scenario.add("health", "b", indicator="MENTAL_HEALTH", recorded_date=dt.date(2026, 6, 1))
    scenario.add("health", "b", indicator="SUBSTANCE_MISUSE", recorded_date=dt.date(2026, 6, 2))
    scenario.adult("c", "H3")
    scenario.add("health", "c", indicator="MENTAL_HEALTH", recorded_date=dt.date(2026, 6, 1))
    scenario.add("health", "c", indicator="SUBSTANCE_MISUSE", recorded_date=dt.date(2026, 6, 2))
    _, hc = scenario.run("phase2")
    got = {r["household_id"]: r["eligibility"] for r in hc.iter_rows(named=True)}
    # two indicators of one problem are still one problem
    assert got == {"H1": "must_include", "H2": "must_include", "H3": None}


def test_phase2_reads_wider_indicators(scenario: Scenario) -> None:
    scenario.child("c", "H1")
    scenario.complete_terms("c")
    scenario.add(
        "attendance",
        "c",
        term="2025/26-AUT",
        term_start=dt.date(2025, 9, 3),
        term_end=dt.date(2025, 12, 19),
        sessions_possible=200,
        sessions_authorised=25,
        sessions_unauthorised=5,
    )  # 30 + 0 over 500 = 6%: under 10%, and under 15% unauthorised in phase 1
    scenario.social_care("c", "EARLY_HELP", start=dt.date(2025, 1, 1), end=dt.date(2025, 11, 30))
    scenario.adult("a", "H1")
    scenario.add(
        "youth_offending", "a", offence_date=dt.date(2026, 1, 1), outcome_date=dt.date(2026, 2, 1), proven="Y"
    )  # an adult's offence: phase 2 only
    evidence, hc = scenario.run("phase2")
    row = hc.row(0, named=True)
    assert row["crime_asb"]
    assert row["children_need_help"]
    assert not row["education"]
    assert row["eligibility"] == "must_include"
    assert hc.columns == [
        "household_id",
        "crime_asb",
        "education",
        "children_need_help",
        "worklessness",
        "domestic_abuse",
        "health",
        "n_national",
        "eligible",
        "eligibility",
    ]
    _, hc1 = scenario.run("phase1")
    assert not hc1.filter(pl.col("household_id") == "H1")["crime_asb"].item()
    assert "children_need_help.social_care" in set(evidence["rule_id"])


def test_phase2_persistent_absence_counts_authorised_sessions(scenario: Scenario) -> None:
    scenario.child("c", "H1")
    for term, (start, end) in {
        "2025/26-AUT": (dt.date(2025, 9, 3), dt.date(2025, 12, 19)),
        "2025/26-SPR": (dt.date(2026, 1, 5), dt.date(2026, 3, 27)),
        "2025/26-SUM": (dt.date(2026, 4, 13), dt.date(2026, 7, 22)),
    }.items():
        scenario.add(
            "attendance",
            "c",
            term=term,
            term_start=start,
            term_end=end,
            sessions_possible=100,
            sessions_authorised=8,
            sessions_unauthorised=2,
        )
    evidence, hc = scenario.run("phase2")
    assert hc["education"].to_list() == [True]
    assert set(evidence["value"]) == {"10.0% absent (30/300)"}
