"""The engine's frames, its handling of absent data, and rule packs as configuration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from criteria_scenario import Scenario

from tfident.criteria import EVIDENCE_SCHEMA, RulePack, evaluate_criteria, load_pack, pack_from_yaml
from tfident.criteria.pack import RateAtLeast
from tfident.errors import ConfigError

D = dt.date(2026, 10, 31)


def test_frames_have_the_contract_columns_and_types(scenario: Scenario, phase1: RulePack) -> None:
    scenario.child("c", "H1")
    scenario.complete_terms("c")
    scenario.exclusion("c", "PERMANENT", dt.date(2026, 2, 2))
    scenario.adult("a", "H2")
    evidence, hc = scenario.run(phase1)
    assert evidence.schema == pl.Schema(EVIDENCE_SCHEMA)
    assert hc.columns == ["household_id", *phase1.criterion_ids, "n_national", "eligible", "eligibility"]
    assert hc.schema["n_national"] == pl.Int64
    assert all(hc.schema[c] == pl.Boolean for c in [*phase1.criterion_ids, "eligible"])
    assert hc.schema["eligibility"] == pl.String
    row = evidence.row(0, named=True)
    assert row == {
        "household_id": "H1",
        "criterion": "education",
        "rule_id": "education.permanent_exclusion",
        "person_id": "c",
        "source": "exclusions",
        "record_id": row["record_id"],
        "event_date": dt.date(2026, 2, 2),
        "value": "PERMANENT",
        "detail": row["detail"],
    }
    assert "education window 2025-09-03 <= d <= 2026-10-31" in row["detail"]


def test_every_household_of_people_gets_a_row(scenario: Scenario) -> None:
    scenario.adult("a", "H2")
    scenario.adult("b", "H1")
    scenario.person("nowhere", None, dt.date(1990, 1, 1))
    evidence, hc = scenario.run()
    assert evidence.height == 0
    assert hc["household_id"].to_list() == ["H1", "H2"]
    assert not hc["eligible"].any()


def test_records_of_unplaced_people_cannot_meet_anything(scenario: Scenario) -> None:
    scenario.person("a", None, dt.date(1980, 1, 1))
    scenario.benefit("a", "JSA")
    scenario.asb("a", "ASBO")
    scenario.adult("b", "H1")
    scenario.add("benefits", "b", household_id=None, benefit_type="JSA", claim_start=dt.date(2025, 1, 1))
    evidence, hc = scenario.run()
    assert evidence.height == 0
    assert hc["household_id"].to_list() == ["H1"]


def test_records_missing_from_the_index_are_ignored(scenario: Scenario, phase1: RulePack) -> None:
    scenario.adult("a", "H1")
    scenario.benefit("a", "JSA")
    index, people = scenario.frames()
    evidence, hc = evaluate_criteria(scenario.extracts(), index.clear(), people, phase1, D)
    assert evidence.height == 0
    assert hc["household_id"].to_list() == ["H1"]


def test_optional_sources_may_be_absent(scenario: Scenario) -> None:
    _, hc = scenario.run()  # no extract at all
    assert hc.height == 0
    scenario.adult("a", "H1")
    scenario.benefit("a", "JSA")
    extracts = scenario.extracts()
    assert set(extracts) == {"benefits"}
    _, hc = scenario.run()
    assert hc["work"].to_list() == [True]
    assert hc["local_discretion"].to_list() == [False]


def test_row_order_and_extra_columns_do_not_matter(scenario: Scenario, phase1: RulePack) -> None:
    for i in range(6):
        scenario.child(f"c{i}", f"H{i % 3}")
        scenario.complete_terms(f"c{i}", 100, 5 * i)
        scenario.exclusion(f"c{i}", "FIXED", dt.date(2026, 1, 5 + i))
    index, people = scenario.frames()
    extracts = scenario.extracts()
    evidence, hc = evaluate_criteria(extracts, index, people, phase1, D)
    shuffled = {
        name: frame.sample(fraction=1.0, shuffle=True, seed=3).with_columns(pl.lit("x").alias("line_extra"))
        for name, frame in extracts.items()
    }
    evidence2, hc2 = evaluate_criteria(
        shuffled, index.sample(fraction=1.0, shuffle=True, seed=4), people.reverse(), phase1, D
    )
    assert evidence.equals(evidence2)
    assert hc.equals(hc2)


def test_missing_canonical_columns_are_read_as_blank(phase1: RulePack) -> None:
    extracts = {
        "benefits": pl.DataFrame(
            {"record_id": ["B1"], "benefit_type": ["JSA"], "claim_start": [dt.date(2025, 1, 1)]},
        ).with_columns(pl.col("claim_start").cast(pl.Date))
    }
    index = pl.DataFrame({"source": ["benefits"], "record_id": ["B1"], "person_id": ["p"], "household_id": ["H"]})
    people = pl.DataFrame({"person_id": ["p"], "household_id": ["H"], "date_of_birth": [dt.date(1980, 1, 1)]})
    _, hc = evaluate_criteria(extracts, index, people, phase1, D)
    assert hc["work"].to_list() == [True]


def test_evidence_is_only_for_criteria_met(scenario: Scenario) -> None:
    scenario.child("c", "H1")
    scenario.complete_terms("c")
    scenario.exclusion("c", "FIXED", dt.date(2026, 1, 5))
    scenario.exclusion("c", "FIXED", dt.date(2026, 1, 6))
    evidence, _ = scenario.run()
    assert evidence.height == 0


def test_fifty_thousand_households_get_one_row_each(phase1: RulePack) -> None:
    n = 50_000
    hh = [f"H{i:06d}" for i in range(n)]
    people = pl.DataFrame(
        {
            "person_id": [f"P{i:06d}" for i in range(2 * n)],
            "household_id": hh + hh,
            "date_of_birth": [dt.date(1980, 1, 1)] * n + [dt.date(2012, 5, 5)] * n,
        }
    )
    kids = people.slice(n, n)["person_id"]
    terms = [
        ("2025/26-AUT", dt.date(2025, 9, 3), dt.date(2025, 12, 19)),
        ("2025/26-SPR", dt.date(2026, 1, 5), dt.date(2026, 3, 27)),
        ("2025/26-SUM", dt.date(2026, 4, 13), dt.date(2026, 7, 22)),
        ("2026/27-AUT", dt.date(2026, 9, 2), dt.date(2026, 12, 18)),
    ]
    attendance = pl.DataFrame(
        {
            "record_id": [f"A{i}" for i in range(4 * n)],
            "person": [k for k in kids for _ in terms],
            "term": [t[0] for _ in kids for t in terms],
            "term_start": [t[1] for _ in kids for t in terms],
            "term_end": [t[2] for _ in kids for t in terms],
            "sessions_possible": [100] * (4 * n),
            "sessions_authorised": [0] * (4 * n),
            "sessions_unauthorised": [i % 30 for i in range(4 * n)],
        }
    )
    benefits = pl.DataFrame(
        {
            "record_id": [f"B{i}" for i in range(n)],
            "person": people.head(n)["person_id"],
            "benefit_type": ["JSA", "UC", "HB", "ESA"] * (n // 4),
            "uc_conditionality": [None, "WORKING", None, None] * (n // 4),
            "claim_start": [dt.date(2025, 1, 1)] * n,
            "claim_end": [None] * n,
        },
        schema_overrides={"claim_end": pl.Date, "uc_conditionality": pl.String},
    )
    extracts = {"attendance": attendance.drop("person"), "benefits": benefits.drop("person")}
    index = pl.concat(
        [
            frame.select(pl.lit(name).alias("source"), "record_id", pl.col("person").alias("person_id"))
            for name, frame in (("attendance", attendance), ("benefits", benefits))
        ]
    ).join(people.select("person_id", "household_id"), on="person_id")
    assert index.height == 5 * n
    # speed is measured by `make bench` (benchmarks/run.py), not asserted here
    evidence, hc = evaluate_criteria(extracts, index, people, phase1, D)
    assert hc.height == n
    assert hc["household_id"].n_unique() == n
    assert evidence.height > 0


# ----------------------------------------------------------------------- packs


def test_shipped_packs_load() -> None:
    p1 = load_pack("phase1")
    assert (p1.ruleset, p1.version) == ("phase1", "TF1_2012")
    assert p1.criterion_ids == ["crime_asb", "education", "work", "local_discretion"]
    assert [c.national for c in p1.criteria] == [True, True, True, False]
    rate = next(r for c in p1.criteria for r in c.rules if isinstance(r, RateAtLeast))
    assert (rate.threshold_fraction().numerator, rate.threshold_fraction().denominator) == (3, 20)
    p2 = load_pack("phase2")
    assert (p2.ruleset, p2.version) == ("phase2", "TF2_2015")
    assert len(p2.criteria) == 6


def _phase1_text() -> str:
    from tfident.config import CONFIG_DIR

    return (CONFIG_DIR / "criteria" / "phase1.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "window: 12_months\n        value: intervention_type",
            "window: 13_months\n        value: intervention_type",
            "criteria.0.rules.1.event_in_window.window",
        ),
        ("where_not: {intervention_type: [INCIDENT]}", "where_not: {intervention_type: [INCIDENTS]}", "INCIDENTS"),
        ("date: outcome_date", "date: outcome_dt", "outcome_dt"),
        ("date: outcome_date", "date: proven", "type 'code'"),
        ("kind: count_at_least", "kind: count_atleast", "count_atleast"),
        ("        n: 3\n", "        n: 3\n        mimimum: 4\n", "mimimum"),
        ("id: work.out_of_work_benefit", "id: jobs.out_of_work_benefit", "must start with the criterion id"),
        ("version: TF1_2012\n", "", "version"),
        ("        member: any\n", "        member: any\n        unknown_age: true\n", "unknown_age needs member"),
    ],
)
def test_a_bad_pack_is_one_config_error_naming_the_file_and_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    text = _phase1_text()
    assert old in text
    path = tmp_path / "local.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_pack(path)
    message = str(error.value)
    assert str(path) in message
    assert expected in message


def test_unknown_pack_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="phase1"):
        load_pack("phase9")


def test_rate_rule_must_read_the_terms_source() -> None:
    text = _phase1_text()
    old = "terms:\n  source: attendance\n  term: term\n  start: term_start\n  end: term_end"
    assert old in text
    bad = text.replace(old, "terms:\n  source: exclusions\n  term: reason\n  start: start_date\n  end: start_date")
    with pytest.raises(ConfigError, match="must read the terms source 'exclusions'"):
        pack_from_yaml(bad, "bad.yaml")


def test_pack_is_frozen_and_serialisable(phase1: RulePack) -> None:
    dumped = phase1.model_dump(mode="json")
    assert RulePack.model_validate(dumped) == phase1
    with pytest.raises(Exception, match="frozen"):  # pydantic's frozen-instance error
        phase1.version = "x"  # type: ignore[misc]
