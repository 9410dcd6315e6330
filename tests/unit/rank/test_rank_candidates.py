"""Ranking eligible households: order, score, cost and configuration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfident.config import CONFIG_DIR
from tfident.criteria import EVIDENCE_SCHEMA
from tfident.errors import ConfigError
from tfident.rank import CANDIDATE_SCHEMA, RankingConfig, load_ranking_config, rank_candidates

CRITERIA = ("crime_asb", "education", "work", "local_discretion")


def criteria_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """household_criteria rows by hand: ``{"household_id": .., "met": "crime_asb;work", ...}``."""
    out = []
    for row in rows:
        met = set(row["met"].split(";")) if row["met"] else set()
        flags = {c: c in met for c in CRITERIA}
        n_national = sum(flags[c] for c in CRITERIA[:3])
        eligibility = (
            "must_include"
            if n_national == 3
            else "may_include"
            if n_national == 2 and flags["local_discretion"]
            else None
        )
        out.append(
            {
                "household_id": row["household_id"],
                **flags,
                "n_national": n_national,
                "eligible": eligibility is not None,
                "eligibility": eligibility,
            }
        )
    return pl.DataFrame(
        out,
        schema={
            "household_id": pl.String,
            **{c: pl.Boolean for c in CRITERIA},
            "n_national": pl.Int64,
            "eligible": pl.Boolean,
            "eligibility": pl.String,
        },
        orient="row",
    )


def evidence_frame(rows: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """(household_id, rule_id, person_id, record_id) -> evidence rows."""
    return pl.DataFrame(
        [
            {
                "household_id": h,
                "criterion": rule.split(".")[0],
                "rule_id": rule,
                "person_id": p,
                "source": "src",
                "record_id": r,
                "event_date": dt.date(2026, 1, 1),
                "value": "v",
                "detail": "d",
            }
            for h, rule, p, r in rows
        ],
        schema=EVIDENCE_SCHEMA,
        orient="row",
    )


def households_frame(ids: list[str], n_members: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "household_id": ids,
            "uprn": [None] * len(ids),
            "address": ["1 A St"] * len(ids),
            "postcode": ["AA1 1AA"] * len(ids),
            "n_members": [n_members] * len(ids),
        },
        schema_overrides={"uprn": pl.Int64, "n_members": pl.Int64},
    )


@pytest.fixture(scope="module")
def config() -> RankingConfig:
    return load_ranking_config(CONFIG_DIR / "ranking.yaml")


def test_shipped_config_loads(config: RankingConfig) -> None:
    assert config.version
    assert (
        config.severity.rule_weights["education.permanent_exclusion"]
        > config.severity.rule_weights["education.fixed_exclusions"]
    )
    full = sum(config.cost.per_criterion[c] for c in CRITERIA)
    assert full == 75_000  # DCLG: about £75,000 a family a year


def test_only_eligible_households_ranked_with_contract_columns(config: RankingConfig) -> None:
    hc = criteria_frame(
        [
            {"household_id": "H1", "met": "crime_asb;education;work"},
            {"household_id": "H2", "met": "crime_asb;education"},
            {"household_id": "H3", "met": "crime_asb;work;local_discretion"},
            {"household_id": "H4", "met": ""},
        ]
    )
    ev = evidence_frame(
        [
            ("H1", "crime_asb.asb_intervention", "a", "1"),
            ("H1", "education.not_on_roll", "c", "2"),
            ("H1", "work.out_of_work_benefit", "a", "3"),
            ("H2", "crime_asb.asb_intervention", "x", "4"),
            ("H2", "education.not_on_roll", "y", "5"),
            ("H3", "crime_asb.asb_intervention", "p", "6"),
            ("H3", "work.out_of_work_benefit", "p", "7"),
            ("H3", "local_discretion.health", "p", "8"),
        ]
    )
    out = rank_candidates(hc, ev, households_frame(["H1", "H2", "H3", "H4"]), config)
    assert out.schema == pl.Schema(CANDIDATE_SCHEMA)
    assert out["household_id"].to_list() == ["H1", "H3"]
    assert out["rank"].to_list() == [1, 2]
    assert out["criteria_met"].to_list() == ["crime_asb;education;work", "crime_asb;work;local_discretion"]
    assert out["eligibility"].to_list() == ["must_include", "may_include"]
    assert out["estimated_annual_cost"].to_list() == [60_000.0, 63_000.0]


def test_more_criteria_beat_a_higher_score(config: RankingConfig) -> None:
    hc = criteria_frame(
        [
            {"household_id": "H1", "met": "crime_asb;education;work;local_discretion"},
            {"household_id": "H2", "met": "crime_asb;education;work"},
        ]
    )
    heavy = [("H2", "education.permanent_exclusion", f"c{i}", f"r{i}") for i in range(10)]
    ev = evidence_frame(heavy + [("H1", "local_discretion.health", "a", "x")])
    out = rank_candidates(hc, ev, households_frame(["H1", "H2"]), config)
    assert out["household_id"].to_list() == ["H1", "H2"]
    assert out["score"][1] > out["score"][0]


def test_permanent_exclusion_outranks_fixed_exclusions(config: RankingConfig) -> None:
    hc = criteria_frame(
        [
            {"household_id": "H1", "met": "crime_asb;education;work"},
            {"household_id": "H2", "met": "crime_asb;education;work"},
        ]
    )
    common = [("crime_asb.asb_intervention", "a", "1"), ("work.out_of_work_benefit", "a", "2")]
    ev = evidence_frame(
        [("H1", r, p, f"H1{x}") for r, p, x in common]
        + [("H1", "education.fixed_exclusions", "c", f"f{i}") for i in range(3)]
        + [("H2", r, p, f"H2{x}") for r, p, x in common]
        + [("H2", "education.permanent_exclusion", "c", "p1")]
    )
    out = rank_candidates(hc, ev, households_frame(["H1", "H2"]), config)
    assert out["household_id"].to_list() == ["H2", "H1"]


def test_equal_households_tie_break_on_household_id(config: RankingConfig) -> None:
    ids = ["H9", "H10", "H2", "H1"]
    hc = criteria_frame([{"household_id": h, "met": "crime_asb;education;work"} for h in ids])
    ev = evidence_frame([(h, "work.out_of_work_benefit", "a", h) for h in ids])
    out = rank_candidates(hc, ev, households_frame(ids), config)
    assert out["household_id"].to_list() == ["H1", "H10", "H2", "H9"]
    assert len(set(out["score"])) == 1


def test_score_is_the_documented_weighted_sum() -> None:
    config = RankingConfig.model_validate(
        {
            "version": "t",
            "severity": {
                "criterion_weights": {"local_discretion": 0.5},
                "default_criterion_weight": 1.0,
                "rule_weights": {"education.permanent_exclusion": 4.0},
                "default_rule_weight": 1.0,
                "per_evidence_record": 0.1,
                "evidence_cap": 3,
                "must_include_bonus": 2.0,
                "per_member": 0.25,
            },
            "cost": {"base": 1000, "per_criterion": {"work": 500}, "default_per_criterion": 100, "per_member": 10},
        }
    )
    hc = criteria_frame([{"household_id": "H1", "met": "crime_asb;education;work;local_discretion"}])
    ev = evidence_frame(
        [
            ("H1", "education.permanent_exclusion", "c1", "1"),
            ("H1", "education.permanent_exclusion", "c2", "2"),
            ("H1", "crime_asb.asb_intervention", "a", "3"),
            ("H1", "crime_asb.asb_intervention", "a", "4"),
            ("H1", "work.out_of_work_benefit", "a", "5"),
        ]
    )
    out = rank_candidates(hc, ev, households_frame(["H1"], n_members=4), config)
    # criteria 3 x 1.0 + 0.5; rules: 2 persons x 4.0 + 1 x 1.0 + 1 x 1.0; records min(5, 3) x 0.1;
    # must_include 2.0; members 4 x 0.25
    assert out["score"].item() == pytest.approx(3.5 + 10.0 + 0.3 + 2.0 + 1.0)
    assert out["estimated_annual_cost"].item() == pytest.approx(1000 + 100 + 100 + 500 + 100 + 40)


def test_no_eligible_household_gives_an_empty_frame(config: RankingConfig) -> None:
    hc = criteria_frame([{"household_id": "H1", "met": "work"}])
    out = rank_candidates(hc, evidence_frame([]), households_frame(["H1"]), config)
    assert out.height == 0
    assert out.schema == pl.Schema(CANDIDATE_SCHEMA)


def test_bad_ranking_config_names_the_file_and_key(tmp_path: Path) -> None:
    text = (CONFIG_DIR / "ranking.yaml").read_text(encoding="utf-8")
    path = tmp_path / "ranking.yaml"
    path.write_text(text.replace("per_evidence_record:", "per_evidence_recrod:", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_ranking_config(path)
    assert str(path) in str(error.value)
    assert "severity.per_evidence_recrod" in str(error.value)
    path.write_text(text.replace('version: "2026.1"\n', "", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="version"):
        load_ranking_config(path)


@settings(max_examples=40, deadline=None)
@given(
    households=st.lists(
        st.tuples(st.sets(st.sampled_from(CRITERIA), min_size=2), st.integers(0, 6)), min_size=1, max_size=12
    ),
    seed=st.integers(0, 1000),
)
def test_ranking_is_a_deterministic_total_order(households: list[tuple[set[str], int]], seed: int) -> None:
    config = load_ranking_config(CONFIG_DIR / "ranking.yaml")
    ids = [f"H{i:02d}" for i in range(len(households))]
    hc = criteria_frame(
        [{"household_id": h, "met": ";".join(sorted(m))} for h, (m, _) in zip(ids, households, strict=True)]
    )
    ev = evidence_frame(
        [
            (h, f"{sorted(m)[0]}.x", f"p{k}", f"{h}-{k}")
            for h, (m, n) in zip(ids, households, strict=True)
            for k in range(n)
        ]
    )
    hh = households_frame(ids)
    out = rank_candidates(hc, ev, hh, config)
    shuffled = rank_candidates(
        hc.sample(fraction=1.0, shuffle=True, seed=seed), ev.sample(fraction=1.0, shuffle=True, seed=seed), hh, config
    )
    assert out.equals(shuffled)
    assert out["rank"].to_list() == list(range(1, out.height + 1))
    assert set(out["household_id"]) == set(hc.filter(pl.col("eligible"))["household_id"])
    n_met = out["criteria_met"].str.split(";").list.len().to_list()
    assert n_met == sorted(n_met, reverse=True)
    for a, b in zip(out.iter_rows(named=True), out.slice(1).iter_rows(named=True), strict=False):
        if a["criteria_met"].count(";") == b["criteria_met"].count(";"):
            assert (a["score"], b["household_id"]) >= (b["score"], a["household_id"])
