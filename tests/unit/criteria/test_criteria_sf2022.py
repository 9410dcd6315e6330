"""The Supporting Families 2022-25 pack (sf2022): the gate, needs under ten headlines, the count.

Golden families: three needs under three headlines (eligible), a near miss (two needs), an
expectant parent without children (the gate met without a child), adults alone (the gate
not met); boundaries of the gate (17 and 18, expected date on and before D) and of the
count, needs against headlines as the pack parameter, and the Phase 2 two-of-six from the
new sources.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import pytest
import yaml
from criteria_scenario import Scenario, born
from hypothesis import given, settings
from hypothesis import strategies as st

from tfident.config import config_path
from tfident.criteria import RulePack, load_pack
from tfident.criteria.pack import GATE_ID, parse_pack
from tfident.errors import ConfigError

D = dt.date(2026, 10, 31)
DAY = dt.timedelta(days=1)

HEADLINES = [
    "education",
    "early_years",
    "health",
    "substance_use",
    "family_relationships",
    "children_safe",
    "crime",
    "domestic_abuse",
    "housing",
    "financial_stability",
]


@pytest.fixture(scope="module")
def sf2022() -> RulePack:
    """The shipped sf2022 pack."""
    return load_pack("sf2022")


def with_count(pack: RulePack, count: str, n: int = 3) -> RulePack:
    """The shipped pack with another count parameter."""
    data = yaml.safe_load(config_path("criteria/sf2022.yaml").read_text(encoding="utf-8"))
    data["eligibility"] = {"kind": "needs_at_least", "n": n, "count": count}
    return parse_pack(data, "sf2022 (test)")


def household(hc: pl.DataFrame, household_id: str) -> dict[str, object]:
    row = hc.filter(pl.col("household_id") == household_id)
    assert row.height == 1
    return row.row(0, named=True)


# --- need builders: one need of each headline, for one person --------------------------------------


def unemployed(s: Scenario, pid: str) -> None:
    s.benefit(pid, "ESA")


def abused(s: Scenario, pid: str) -> None:
    s.add("domestic_abuse", pid, role="VICTIM", incident_date=dt.date(2026, 5, 1), reported_by="POLICE")


def in_temporary_accommodation(s: Scenario, pid: str) -> None:
    s.add("housing", pid, event_type="TEMPORARY_ACCOMMODATION", start_date=dt.date(2026, 8, 1))


def mental_health(s: Scenario, pid: str) -> None:
    s.add("health", pid, indicator="MENTAL_HEALTH", recorded_date=dt.date(2026, 3, 1))


def physical_health(s: Scenario, pid: str) -> None:
    s.add("health", pid, indicator="OTHER", recorded_date=dt.date(2026, 4, 1))


def drinking(s: Scenario, pid: str) -> None:
    s.add("health", pid, indicator="ALCOHOL_MISUSE", recorded_date=dt.date(2026, 2, 1))


def parental_conflict(s: Scenario, pid: str) -> None:
    s.add("early_help", pid, factor="PARENTAL_CONFLICT", assessment_date=dt.date(2026, 6, 1))


def on_licence(s: Scenario, pid: str) -> None:
    s.add("probation", pid, event_type="LICENCE", start_date=dt.date(2026, 1, 10), end_date=dt.date(2027, 1, 10))


def child_missing(s: Scenario, pid: str) -> None:
    s.add("missing_exploitation", pid, event_type="MISSING_EPISODE", start_date=dt.date(2026, 9, 1))


def child_not_on_roll(s: Scenario, pid: str) -> None:
    s.census(pid, "NOT_ON_ROLL")


def review_below_expected(s: Scenario, pid: str) -> None:
    s.add("early_years", pid, indicator="TWO_YEAR_REVIEW_BELOW_EXPECTED", recorded_date=dt.date(2026, 7, 1))


ADULT_NEEDS: dict[str, Callable[[Scenario, str], None]] = {
    "financial_stability": unemployed,
    "domestic_abuse": abused,
    "housing": in_temporary_accommodation,
    "health": mental_health,
    "substance_use": drinking,
    "family_relationships": parental_conflict,
    "crime": on_licence,
}
CHILD_NEEDS: dict[str, Callable[[Scenario, str], None]] = {
    "children_safe": child_missing,
    "education": child_not_on_roll,
}


def child(s: Scenario, pid: str, household_id: str, age: int = 12) -> str:
    """A child known to the school census (every person the pipeline places comes from a record)."""
    s.child(pid, household_id, age=age)
    s.census(pid, "MAINSTREAM", on=dt.date(2026, 5, 1))
    return pid


def expectant(s: Scenario, pid: str, expected: dt.date | None, recorded: dt.date = dt.date(2026, 7, 1)) -> str:
    return s.add("early_years", pid, indicator="EXPECTANT_PARENT", recorded_date=recorded, expected_date=expected)


# --- golden families ----------------------------------------------------------------------------------


def test_a_family_with_three_needs_under_three_headlines_is_eligible(scenario: Scenario, sf2022: RulePack) -> None:
    """It makes a family with a child and three needs under three headlines must_include, naming each need's source."""
    scenario.adult("mum", "H1")
    child(scenario, "kid", "H1", age=9)
    unemployed(scenario, "mum")
    abused(scenario, "mum")
    in_temporary_accommodation(scenario, "mum")
    evidence, hc = scenario.run(sf2022)
    row = household(hc, "H1")
    assert row["eligibility"] == "must_include"
    assert row["eligible"]
    assert [h for h in HEADLINES if row[h]] == ["domestic_abuse", "housing", "financial_stability"]
    assert list(hc.columns) == ["household_id", *HEADLINES, "n_national", "eligible", "eligibility"]
    needs = evidence.filter(pl.col("criterion") != GATE_ID)
    assert sorted(needs.select("rule_id", "source").rows()) == [
        ("domestic_abuse.incident", "domestic_abuse"),
        ("financial_stability.out_of_work_benefit", "benefits"),
        ("housing.homeless_or_at_risk", "housing"),
    ]
    gate = evidence.filter(pl.col("criterion") == GATE_ID)
    assert gate.select("rule_id", "person_id").rows() == [("gate.dependent_child", "kid")]
    assert gate["value"].item() == "child aged 9"


def test_a_near_miss_with_two_needs_is_not_eligible(scenario: Scenario, sf2022: RulePack) -> None:
    """It leaves out a family with a child and needs under only two headlines."""
    scenario.adult("dad", "H1")
    child(scenario, "kid", "H1")
    unemployed(scenario, "dad")
    abused(scenario, "dad")
    _, hc = scenario.run(sf2022)
    row = household(hc, "H1")
    assert row["eligibility"] is None
    assert not row["eligible"]
    assert row["n_national"] == 2


def test_an_expectant_parent_without_children_meets_the_gate(scenario: Scenario, sf2022: RulePack) -> None:
    """It makes eligible a household of adults only when one is an expectant parent, and not otherwise."""
    for hid in ("H1", "H2"):
        scenario.adult(f"{hid}-a", hid, age=24)
        unemployed(scenario, f"{hid}-a")
        mental_health(scenario, f"{hid}-a")
        in_temporary_accommodation(scenario, f"{hid}-a")
    expectant(scenario, "H1-a", expected=dt.date(2027, 1, 15))
    evidence, hc = scenario.run(sf2022)
    assert household(hc, "H1")["eligibility"] == "must_include"
    assert household(hc, "H2")["eligibility"] is None  # three headlines, but no child and no expectant parent
    gate = evidence.filter(pl.col("criterion") == GATE_ID)
    assert gate.select("household_id", "rule_id", "source", "value").rows() == [
        ("H1", "gate.expectant_parent", "early_years", "EXPECTANT_PARENT")
    ]


@pytest.mark.parametrize(
    ("expected", "meets"),
    [(D + DAY, True), (D, True), (D - DAY, False), (None, False)],
    ids=["due tomorrow", "due on D", "due yesterday", "no expected date"],
)
def test_expectant_parent_boundary(scenario: Scenario, sf2022: RulePack, expected: dt.date | None, meets: bool) -> None:
    """It reads an expectant parent as one whose expected date of birth is on or after D (a blank date: no)."""
    scenario.adult("a", "H1")
    unemployed(scenario, "a")
    abused(scenario, "a")
    drinking(scenario, "a")
    expectant(scenario, "a", expected=expected)
    _, hc = scenario.run(sf2022)
    assert household(hc, "H1")["eligible"] is meets


def test_a_record_after_the_batch_date_shows_no_expectant_parent(scenario: Scenario, sf2022: RulePack) -> None:
    """It ignores an expectant-parent record made after D."""
    scenario.adult("a", "H1")
    for need in (unemployed, abused, drinking):
        need(scenario, "a")
    expectant(scenario, "a", expected=dt.date(2027, 3, 1), recorded=D + DAY)
    _, hc = scenario.run(sf2022)
    assert not household(hc, "H1")["eligible"]


@pytest.mark.parametrize(("age", "meets"), [(17, True), (18, False), (0, True)])
def test_dependent_child_boundary(scenario: Scenario, sf2022: RulePack, age: int, meets: bool) -> None:
    """It counts a member under 18 at D as a dependent child, and not one who has turned 18."""
    scenario.adult("a", "H1")
    scenario.person("young", "H1", born(age, D, days_after_birthday=0))  # birthday on D itself
    scenario.census("young", "MAINSTREAM", on=dt.date(2026, 9, 1))
    for need in (unemployed, abused, drinking):
        need(scenario, "a")
    _, hc = scenario.run(sf2022)
    assert household(hc, "H1")["eligible"] is meets


def test_a_member_without_a_date_of_birth_is_no_child(scenario: Scenario, sf2022: RulePack) -> None:
    """It does not take a member of unknown age for a dependent child."""
    scenario.adult("a", "H1")
    scenario.person("unknown", "H1", None)
    scenario.asb("unknown")
    for need in (unemployed, abused, drinking):
        need(scenario, "a")
    _, hc = scenario.run(sf2022)
    assert not household(hc, "H1")["eligible"]


def test_count_needs_or_headlines_is_a_pack_parameter(scenario: Scenario, sf2022: RulePack) -> None:
    """It counts three needs under two headlines as three with count: needs, two with count: headlines."""
    scenario.adult("a", "H1")
    child(scenario, "c", "H1")
    mental_health(scenario, "a")
    physical_health(scenario, "a")  # a second need under the health headline
    unemployed(scenario, "a")
    mental_health(scenario, "c")  # the same need in another member: still one need
    _, by_headlines = scenario.run(sf2022)
    _, by_needs = scenario.run(with_count(sf2022, "needs"))
    assert sf2022.eligibility.count == "headlines"  # type: ignore[union-attr]
    assert household(by_headlines, "H1")["eligibility"] is None
    assert household(by_needs, "H1")["eligibility"] == "must_include"
    _, four_needs = scenario.run(with_count(sf2022, "needs", n=4))
    assert household(four_needs, "H1")["eligibility"] is None


def test_windows_of_the_needs(scenario: Scenario, sf2022: RulePack) -> None:
    """It reads the 12-month window for events and 'open at some time in the window' for episodes."""
    scenario.adult("a", "H1")
    child(scenario, "c", "H1")
    year_ago = dt.date(2025, 10, 31)
    s = scenario
    s.add("domestic_abuse", "a", role="VICTIM", incident_date=year_ago)  # D - 1 year: outside
    s.add("housing", "a", event_type="RENT_ARREARS", start_date=dt.date(2024, 1, 1), end_date=year_ago)  # ended
    s.add("early_help", "a", factor="PARENTAL_CONFLICT", assessment_date=dt.date(2025, 1, 1), closure_date=year_ago)
    s.add("probation", "a", event_type="COMMUNITY_ORDER", start_date=dt.date(2025, 1, 1), end_date=year_ago + DAY)
    s.add("missing_exploitation", "c", event_type="CCE_RISK", start_date=year_ago + DAY)
    s.add("neet", "a", status="NEET", status_date=dt.date(2026, 1, 1))
    s.add("neet", "a", status="EET", status_date=dt.date(2026, 6, 1))  # the latest status is what counts
    fired = scenario.rules_fired("H1", sf2022)
    assert fired == {"gate.dependent_child", "crime.probation", "children_safe.missing_or_exploited"}


@pytest.mark.parametrize(("missed", "meets"), [((10, 10, 10), True), ((10, 10, 9), False)], ids=["10.0%", "9.7%"])
def test_persistent_absence_threshold(
    scenario: Scenario, sf2022: RulePack, missed: tuple[int, int, int], meets: bool
) -> None:
    """It meets persistent absence at exactly 10% of sessions over the last three complete terms (30 of 300)."""
    scenario.child("c", "H1")
    for term, n in zip(("2025/26-AUT", "2025/26-SPR", "2025/26-SUM"), missed, strict=True):
        scenario.attendance("c", term, 100, n)
    scenario.attendance("c", "2026/27-AUT", 40, 40)  # the term in progress does not count
    assert ("education.persistent_absence" in scenario.rules_fired("H1", sf2022)) is meets


def test_every_need_names_its_extract_and_the_text_it_follows(sf2022: RulePack) -> None:
    """It gives every descriptor a source extract and a [V]/[D] basis, and every headline both titles."""
    assert sf2022.criterion_ids == HEADLINES
    for criterion in sf2022.criteria:
        assert set(criterion.titles) == {"2022-04", "2022-10"}, criterion.id
        for rule in criterion.rules:
            assert rule.source, rule.id
            assert "[V]" in rule.basis or "[D]" in rule.basis, rule.id
    renamed = {c.id: c.titles["2022-10"] for c in sf2022.criteria if c.titles["2022-10"] != c.titles["2022-04"]}
    assert renamed == {  # the October 2022 wording
        "substance_use": "Promoting recovery and reducing substance abuse",
        "children_safe": "Protecting children from abuse and exploitation",
        "crime": "Preventing crime",
        "domestic_abuse": "Protecting families from domestic abuse",
    }


# --- properties -------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    needs=st.sets(st.sampled_from(sorted({**ADULT_NEEDS, **CHILD_NEEDS}))),
    gate=st.sampled_from(["child", "expectant", "none"]),
    n=st.integers(1, 5),
    count=st.sampled_from(["needs", "headlines"]),
)
def test_eligible_exactly_when_the_gate_holds_and_enough_headlines(
    needs: set[str], gate: str, n: int, count: str
) -> None:
    """It makes a family eligible exactly when it meets the gate and at least n headlines (one need each)."""
    pack = with_count(load_pack("sf2022"), count, n)
    s = Scenario()
    s.adult("a", "H1")
    s.adult("b", "H1", age=19)
    young = "c" if gate == "child" else "b"
    if gate == "child":
        child(s, "c", "H1")
    if gate == "expectant":
        expectant(s, "a", expected=D + 30 * DAY)
    for headline in sorted(needs):
        if headline in ADULT_NEEDS:
            ADULT_NEEDS[headline](s, "a")
        else:
            CHILD_NEEDS[headline](s, young)
    _, hc = s.run(pack)
    row = household(hc, "H1")
    # a child need of a member who is not a child (b is 19) does not count
    counted = {h for h in needs if h in ADULT_NEEDS or gate == "child"}
    assert {h for h in HEADLINES if row[h]} == counted
    assert row["eligible"] is (gate != "none" and len(counted) >= n)


# --- the pack's own checks ----------------------------------------------------------------------------------


def _shipped_data() -> dict[str, object]:
    data = yaml.safe_load(config_path("criteria/sf2022.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("gate"), "needs_at_least needs a gate"),
        (lambda d: d["criteria"][0]["rules"][0].pop("basis"), "missing for education.persistent_absence"),
        (lambda d: d["gate"]["rules"][0].update(id="child.present"), "must start with 'gate.'"),
        (lambda d: d["eligibility"].update(n=11), "needs 11 headlines but the pack has 10"),
        (lambda d: d["eligibility"].update(count="families"), "eligibility.needs_at_least.count"),
        (lambda d: d["gate"]["rules"][1].update(end="recorded_dat"), "'early_years' has no column 'recorded_dat'"),
    ],
    ids=["no gate", "no basis", "gate id", "n above headlines", "count", "gate column"],
)
def test_a_wrong_pack_is_one_config_error(change: Callable[[dict], object], message: str) -> None:
    """It refuses a wrong sf2022-style pack with one ConfigError naming the problem."""
    data = _shipped_data()
    change(data)
    with pytest.raises(ConfigError, match="invalid configuration") as caught:
        parse_pack(data, "sf.yaml")
    assert message in str(caught.value)


# --- Phase 2 from the new sources ---------------------------------------------------------------------------


def test_phase2_two_of_six_from_the_new_sources(scenario: Scenario) -> None:
    """It makes a Phase 2 household of a parent on licence and a NEET young person must_include (two of six)."""
    scenario.adult("dad", "H1")
    scenario.adult("son", "H1", age=18)
    on_licence(scenario, "dad")
    scenario.add("neet", "son", status="NEET", status_date=dt.date(2026, 9, 1))
    scenario.adult("mum", "H2")
    on_licence(scenario, "mum")  # one problem only
    scenario.adult("gran", "H3")
    scenario.add("probation", "gran", event_type="CUSTODY", start_date=dt.date(2024, 1, 1), release_date=D - DAY)
    scenario.add("housing", "gran", event_type="RENT_ARREARS", start_date=dt.date(2026, 2, 1), amount=850)
    evidence, hc = scenario.run("phase2")
    assert household(hc, "H1")["eligibility"] == "must_include"
    assert household(hc, "H2")["eligibility"] is None
    assert household(hc, "H3")["eligibility"] == "must_include"
    fired = set(evidence.filter(pl.col("household_id") == "H3")["rule_id"])
    assert fired == {"crime_asb.left_prison", "worklessness.rent_arrears"}
    arrears = evidence.filter(pl.col("rule_id") == "worklessness.rent_arrears")
    assert arrears["value"].item() == "RENT_ARREARS 850"


def test_phase2_without_the_new_sources_is_unchanged(scenario: Scenario) -> None:
    """It judges a version 1 batch (none of the new sources) as before: the new rules fire for nobody."""
    scenario.adult("a", "H1")
    unemployed(scenario, "a")
    mental_health(scenario, "a")
    evidence, hc = scenario.run("phase2")
    assert set(evidence["rule_id"]) == {"worklessness.out_of_work_benefit", "health.indicator"}
    assert household(hc, "H1")["eligibility"] == "must_include"
