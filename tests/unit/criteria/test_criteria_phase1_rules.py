"""Phase 1 rules at the boundaries of docs/domain.md, on small typed extracts."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from criteria_scenario import DAY, EDUCATION_START, TERMS, Scenario

from tfident.config import CONFIG_DIR
from tfident.criteria import pack_from_yaml
from tfident.criteria.engine import one_year_before

D = dt.date(2026, 10, 31)
YEAR_AGO = dt.date(2025, 10, 31)


# ----------------------------------------------------------------------- education: absence


@pytest.mark.parametrize(
    ("unauthorised", "met"),
    [(149, False), (150, True), (151, True)],
    ids=["14.9%", "15.0%", "15.1%"],
)
def test_unauthorised_absence_threshold_is_15_percent(scenario: Scenario, unauthorised: int, met: bool) -> None:
    scenario.child("c", "H1")
    # 1000 possible sessions over the three complete terms: 400 + 300 + 300
    scenario.attendance("c", "2025/26-AUT", 400, unauthorised)
    scenario.attendance("c", "2025/26-SPR", 300, 0)
    scenario.attendance("c", "2025/26-SUM", 300, 0)
    assert scenario.met("H1", "education") is met


def test_absence_rate_is_exact_not_float(scenario: Scenario) -> None:
    """57/380 is exactly 15%, although 57/380 in floating point is 0.15000000000000002 or so."""
    scenario.child("c", "H1")
    scenario.attendance("c", "2025/26-AUT", 380, 57)
    assert scenario.met("H1", "education")
    scenario.child("d", "H2")
    scenario.attendance("d", "2025/26-AUT", 380, 56)
    assert not scenario.met("H2", "education")


def test_absence_is_summed_over_the_three_terms_not_averaged(scenario: Scenario) -> None:
    scenario.child("c", "H1")
    scenario.attendance("c", "2025/26-AUT", 100, 40)  # 40%
    scenario.attendance("c", "2025/26-SPR", 10, 0)
    scenario.attendance("c", "2025/26-SUM", 200, 6)  # total 46/310 = 14.8%, mean of rates 14.3%
    assert not scenario.met("H1", "education")
    scenario.child("d", "H2")
    scenario.attendance("d", "2025/26-AUT", 100, 0)
    scenario.attendance("d", "2025/26-SPR", 10, 10)  # mean of rates 33%, total 10/110 = 9.1%
    scenario.attendance("d", "2025/26-SUM", 0, 0)
    assert not scenario.met("H2", "education")


def test_possible_sessions_summing_to_zero_gives_no_judgement(scenario: Scenario) -> None:
    scenario.child("c", "H1")
    scenario.attendance("c", "2025/26-AUT", 0, 0)
    scenario.attendance("c", "2025/26-SPR", 0, 0)
    scenario.attendance("c", "2025/26-SUM", 0, 0)
    scenario.child("d", "H2")
    scenario.attendance("d", "2025/26-AUT", 0, 5)  # inconsistent row: still no judgement
    evidence, household_criteria = scenario.run()
    assert evidence.height == 0
    assert not household_criteria["education"].any()


def test_term_in_progress_at_d_is_ignored(scenario: Scenario) -> None:
    scenario.child("c", "H1")
    scenario.attendance("c", "2025/26-AUT", 100, 0)
    scenario.attendance("c", "2025/26-SPR", 100, 0)
    scenario.attendance("c", "2025/26-SUM", 100, 0)
    scenario.attendance("c", "2026/27-AUT", 100, 100)  # term_end 2026-12-18 > D
    assert not scenario.met("H1", "education")


def test_the_three_most_recent_complete_terms_are_used(scenario: Scenario) -> None:
    """An older complete term falls out of the window; a term ending exactly on D is complete."""
    s = Scenario(as_of=dt.date(2026, 7, 22))  # the summer term ends on D
    s.child("c", "H1")
    s.add(
        "attendance",
        "c",
        term="2024/25-SUM",
        term_start=dt.date(2025, 4, 22),
        term_end=dt.date(2025, 7, 18),
        sessions_possible=100,
        sessions_authorised=0,
        sessions_unauthorised=100,
    )
    for term in ("2025/26-AUT", "2025/26-SPR", "2025/26-SUM"):
        s.attendance("c", term, 100, 10)
    assert not s.met("H1", "education")  # 30/300 = 10%; the 2024/25 summer term is not counted
    s2 = Scenario(as_of=dt.date(2026, 7, 21))  # now the summer term is in progress
    s2.child("c", "H1")
    s2.add(
        "attendance",
        "c",
        term="2024/25-SUM",
        term_start=dt.date(2025, 4, 22),
        term_end=dt.date(2025, 7, 18),
        sessions_possible=100,
        sessions_authorised=0,
        sessions_unauthorised=100,
    )
    for term in ("2025/26-AUT", "2025/26-SPR", "2025/26-SUM"):
        s2.attendance("c", term, 100, 10)
    assert s2.met("H1", "education")  # 2024/25-SUM, AUT, SPR: 120/300 = 40%


def test_terms_come_from_the_whole_extract_not_the_pupil(scenario: Scenario) -> None:
    """A pupil who only has an older term's row is judged on the extract's last three terms."""
    scenario.child("other", "H0")
    scenario.complete_terms("other")
    scenario.child("c", "H1")
    scenario.add(
        "attendance",
        "c",
        term="2024/25-SUM",
        term_start=dt.date(2025, 4, 22),
        term_end=dt.date(2025, 7, 18),
        sessions_possible=100,
        sessions_authorised=0,
        sessions_unauthorised=100,
    )
    assert not scenario.met("H1", "education")


def test_absence_evidence_lists_every_contributing_row_with_the_rate(scenario: Scenario) -> None:
    scenario.child("c", "H1")
    scenario.attendance("c", "2025/26-AUT", 200, 40)
    scenario.attendance("c", "2025/26-SPR", 200, 40)
    scenario.attendance("c", "2025/26-SUM", 200, 17)
    scenario.attendance("c", "2026/27-AUT", 50, 0)
    evidence, _ = scenario.run()
    rows = evidence.filter(pl.col("rule_id") == "education.unauthorised_absence")
    assert rows.height == 3
    assert set(rows["value"]) == {"16.2% unauthorised (97/600)"}
    assert sorted(rows["event_date"]) == sorted(end for term, (_, end) in TERMS.items() if end <= D)


def test_absence_of_an_adult_member_does_not_count(scenario: Scenario) -> None:
    scenario.adult("a", "H1", age=18)
    scenario.attendance("a", "2025/26-AUT", 100, 100)
    assert not scenario.met("H1", "education")


# ----------------------------------------------------------------------- education: exclusions


@pytest.mark.parametrize(("n", "met"), [(2, False), (3, True), (4, True)])
def test_three_fixed_exclusions_are_needed(scenario: Scenario, n: int, met: bool) -> None:
    scenario.child("c", "H1")
    scenario.complete_terms("c")
    for i in range(n):
        scenario.exclusion("c", "FIXED", dt.date(2026, 1, 10) + i * DAY)
    assert scenario.met("H1", "education") is met


def test_fixed_exclusions_are_counted_per_child_not_per_household(scenario: Scenario) -> None:
    scenario.child("c1", "H1")
    scenario.child("c2", "H1")
    scenario.complete_terms("c1")
    for day in (dt.date(2026, 1, 10), dt.date(2026, 2, 10)):
        scenario.exclusion("c1", "FIXED", day)
    scenario.exclusion("c2", "FIXED", dt.date(2026, 3, 1))
    assert not scenario.met("H1", "education")


def test_fixed_exclusion_before_the_education_window_is_not_counted(scenario: Scenario) -> None:
    scenario.child("c", "H1")
    scenario.complete_terms("c")
    scenario.exclusion("c", "FIXED", EDUCATION_START - DAY)
    scenario.exclusion("c", "FIXED", dt.date(2026, 1, 10))
    scenario.exclusion("c", "FIXED", dt.date(2026, 2, 10))
    assert not scenario.met("H1", "education")
    scenario.exclusion("c", "FIXED", EDUCATION_START)  # the window's first day counts
    evidence, household_criteria = scenario.run()
    assert household_criteria.filter(pl.col("household_id") == "H1")["education"].item()
    rows = evidence.filter(pl.col("rule_id") == "education.fixed_exclusions")
    assert rows.height == 3
    assert set(rows["value"]) == {"3 fixed exclusions"}
    assert EDUCATION_START - DAY not in rows["event_date"].to_list()


@pytest.mark.parametrize(
    ("start", "met"),
    [
        (EDUCATION_START - DAY, False),
        (EDUCATION_START, True),
        (dt.date(2026, 9, 20), True),  # in the term in progress, still in the window
        (D, True),
        (D + DAY, False),
    ],
    ids=["day-before-window", "window-start", "current-term", "D", "D+1"],
)
def test_permanent_exclusion_in_the_education_window(scenario: Scenario, start: dt.date, met: bool) -> None:
    scenario.child("c", "H1")
    scenario.complete_terms("c")
    scenario.exclusion("c", "PERMANENT", start)
    assert scenario.met("H1", "education") is met


def test_exclusion_of_a_member_now_adult_does_not_count(scenario: Scenario) -> None:
    scenario.adult("a", "H1", age=18)
    scenario.complete_terms("a")
    scenario.exclusion("a", "PERMANENT", dt.date(2026, 1, 10))
    assert not scenario.met("H1", "education")


def test_without_complete_terms_there_is_no_education_window(scenario: Scenario) -> None:
    scenario.child("c", "H1")
    scenario.attendance("c", "2026/27-AUT", 100, 50)  # only the term in progress
    scenario.exclusion("c", "PERMANENT", dt.date(2026, 10, 1))
    assert not scenario.met("H1", "education")


# ----------------------------------------------------------------------- education: census


def test_not_on_roll_and_excluded_to_pru_or_ap(scenario: Scenario) -> None:
    scenario.child("a", "H1")
    scenario.census("a", "NOT_ON_ROLL")
    scenario.child("b", "H2")
    scenario.census("b", "PRU", excluded_previously="Y")
    scenario.child("c", "H3")
    scenario.census("c", "AP", excluded_previously="Y")
    scenario.child("d", "H4")
    scenario.census("d", "PRU", excluded_previously="N")
    scenario.child("e", "H5")
    scenario.census("e", "MAINSTREAM")
    scenario.child("f", "H6")
    scenario.census("f", "SPECIAL", excluded_previously="Y")
    _, hc = scenario.run()
    flags = dict(zip(hc["household_id"], hc["education"], strict=True))
    assert flags == {"H1": True, "H2": True, "H3": True, "H4": False, "H5": False, "H6": False}


def test_census_uses_the_most_recent_row_on_or_before_d(scenario: Scenario) -> None:
    scenario.child("a", "H1")  # was not on roll, now back at school
    scenario.census("a", "NOT_ON_ROLL", on=dt.date(2026, 1, 15))
    scenario.census("a", "MAINSTREAM", on=dt.date(2026, 10, 1))
    scenario.child("b", "H2")  # a row dated after D is ignored
    scenario.census("b", "NOT_ON_ROLL", on=dt.date(2026, 10, 1))
    scenario.census("b", "MAINSTREAM", on=D + DAY)
    _, hc = scenario.run()
    assert dict(zip(hc["household_id"], hc["education"], strict=True)) == {"H1": False, "H2": True}


def test_census_of_an_adult_does_not_count(scenario: Scenario) -> None:
    scenario.adult("a", "H1", age=19)
    scenario.census("a", "NOT_ON_ROLL")
    assert not scenario.met("H1", "education")


# ----------------------------------------------------------------------- crime / ASB


def test_offence_the_day_before_the_18th_birthday_counts_but_not_on_it(scenario: Scenario) -> None:
    dob = dt.date(2007, 6, 15)
    scenario.person("p1", "H1", dob)
    scenario.offence("p1", offence=dt.date(2025, 6, 14), outcome=dt.date(2026, 1, 10))
    scenario.person("p2", "H2", dob)
    scenario.offence("p2", offence=dt.date(2025, 6, 15), outcome=dt.date(2026, 1, 10))
    _, hc = scenario.run()
    assert dict(zip(hc["household_id"], hc["crime_asb"], strict=True)) == {"H1": True, "H2": False}


def test_leap_day_birthday_turns_18_on_1_march(scenario: Scenario) -> None:
    scenario.person("p1", "H1", dt.date(2008, 2, 29))
    scenario.offence("p1", offence=dt.date(2026, 2, 28), outcome=dt.date(2026, 5, 1))  # still 17
    scenario.person("p2", "H2", dt.date(2008, 2, 29))
    scenario.offence("p2", offence=dt.date(2026, 3, 1), outcome=dt.date(2026, 5, 1))  # 18
    _, hc = scenario.run()
    assert dict(zip(hc["household_id"], hc["crime_asb"], strict=True)) == {"H1": True, "H2": False}


@pytest.mark.parametrize(
    ("outcome", "met"),
    [(YEAR_AGO, False), (YEAR_AGO + DAY, True), (D, True), (D + DAY, False), (None, False)],
    ids=["D-1y", "D-1y+1", "D", "D+1", "no-outcome"],
)
def test_outcome_date_in_the_12_month_window(scenario: Scenario, outcome: dt.date | None, met: bool) -> None:
    scenario.person("p", "H1", dt.date(2010, 1, 1))
    scenario.offence("p", offence=dt.date(2025, 6, 1), outcome=outcome)
    assert scenario.met("H1", "crime_asb") is met


def test_unproven_offence_is_ignored(scenario: Scenario) -> None:
    scenario.person("p", "H1", dt.date(2010, 1, 1))
    scenario.offence("p", offence=dt.date(2026, 1, 1), outcome=dt.date(2026, 2, 1), proven="N")
    assert not scenario.met("H1", "crime_asb")


def test_under_18_uses_the_resolved_dob_then_the_records_own(scenario: Scenario) -> None:
    # resolved dob says 17 at the offence, the record's own (wrong) dob says 30: resolved wins
    scenario.person("p1", "H1", dt.date(2009, 1, 1))
    scenario.add(
        "youth_offending",
        "p1",
        offence_date=dt.date(2026, 1, 1),
        outcome_date=dt.date(2026, 2, 1),
        proven="Y",
        date_of_birth=dt.date(1996, 1, 1),
    )
    # no resolved dob: the record's own dob decides
    scenario.person("p2", "H2", None)
    scenario.add(
        "youth_offending",
        "p2",
        offence_date=dt.date(2026, 1, 1),
        outcome_date=dt.date(2026, 2, 1),
        proven="Y",
        date_of_birth=dt.date(2010, 1, 1),
    )
    scenario.person("p3", "H3", None)
    scenario.add(
        "youth_offending",
        "p3",
        offence_date=dt.date(2026, 1, 1),
        outcome_date=dt.date(2026, 2, 1),
        proven="Y",
        date_of_birth=dt.date(1990, 1, 1),
    )
    # neither: under 18 cannot be shown
    scenario.person("p4", "H4", None)
    scenario.add(
        "youth_offending", "p4", offence_date=dt.date(2026, 1, 1), outcome_date=dt.date(2026, 2, 1), proven="Y"
    )
    _, hc = scenario.run()
    assert dict(zip(hc["household_id"], hc["crime_asb"], strict=True)) == {
        "H1": True,
        "H2": True,
        "H3": False,
        "H4": False,
    }


@pytest.mark.parametrize(
    ("kind", "met"),
    [("INCIDENT", False), ("ASBO", True), ("CBO", True), ("CPN", True), ("EVICTION_ASB", True)],
)
def test_asb_interventions_except_incidents(scenario: Scenario, kind: str, met: bool) -> None:
    scenario.adult("a", "H1", age=45)
    scenario.asb("a", kind, on=dt.date(2026, 5, 5))
    assert scenario.met("H1", "crime_asb") is met


@pytest.mark.parametrize(("day", "met"), [(YEAR_AGO, False), (YEAR_AGO + DAY, True), (D, True), (D + DAY, False)])
def test_asb_intervention_window(scenario: Scenario, day: dt.date, met: bool) -> None:
    scenario.adult("a", "H1")
    scenario.asb("a", "ASBO", on=day)
    assert scenario.met("H1", "crime_asb") is met


def test_twelve_month_window_on_29_february() -> None:
    as_of = dt.date(2028, 2, 29)
    assert one_year_before(as_of) == dt.date(2027, 2, 28)
    s = Scenario(as_of=as_of)
    s.adult("a", "H1")
    s.asb("a", "ASBO", on=dt.date(2027, 2, 28))
    s.adult("b", "H2")
    s.asb("b", "ASBO", on=dt.date(2027, 3, 1))
    _, hc = s.run()
    assert dict(zip(hc["household_id"], hc["crime_asb"], strict=True)) == {"H1": False, "H2": True}


# ----------------------------------------------------------------------- work


@pytest.mark.parametrize(
    ("start", "end", "met"),
    [
        (dt.date(2025, 1, 1), None, True),
        (dt.date(2025, 1, 1), D, True),
        (dt.date(2025, 1, 1), D - DAY, False),
        (D, None, True),
        (D + DAY, None, False),
    ],
    ids=["live", "ended-on-D", "ended-day-before", "started-on-D", "starts-after-D"],
)
def test_benefit_live_at_d(scenario: Scenario, start: dt.date, end: dt.date | None, met: bool) -> None:
    scenario.adult("a", "H1")
    scenario.benefit("a", "ESA", start=start, end=end)
    assert scenario.met("H1", "work") is met


@pytest.mark.parametrize(
    ("kind", "uc", "met"),
    [
        ("JSA", None, True),
        ("ESA", None, True),
        ("IS", None, True),
        ("IB", None, True),
        ("SDA", None, True),
        ("CA", None, True),
        ("HB", None, False),
        ("CTR", None, False),
        ("UC", "SEARCHING_FOR_WORK", True),
        ("UC", "PLANNING_FOR_WORK", True),
        ("UC", "PREPARING_FOR_WORK", True),
        ("UC", "NO_WORK_REQUIREMENTS", True),
        ("UC", "WORKING", False),
        ("UC", None, False),
    ],
)
def test_out_of_work_benefit_types(scenario: Scenario, kind: str, uc: str | None, met: bool) -> None:
    scenario.adult("a", "H1")
    scenario.benefit("a", kind, uc=uc)
    assert scenario.met("H1", "work") is met


def test_a_claimant_of_unknown_age_counts_only_where_the_rule_says(scenario: Scenario) -> None:
    scenario.person("z", "H1", None)
    scenario.benefit("z", "JSA")
    text = (CONFIG_DIR / "criteria" / "phase1.yaml").read_text(encoding="utf-8")
    assert text.count("        unknown_age: true\n") == 1
    off = pack_from_yaml(text.replace("        unknown_age: true\n", ""), "phase1 without unknown_age")
    assert scenario.met("H1", "work") is True
    assert scenario.met("H1", "work", off) is False


def test_benefit_of_a_child_member_does_not_count(scenario: Scenario) -> None:
    scenario.child("c", "H1", age=17)
    scenario.benefit("c", "JSA")
    scenario.person("x", "H2", dt.date(2008, 10, 31))  # 18 today: an adult
    scenario.benefit("x", "JSA")
    scenario.person("y", "H3", dt.date(2008, 11, 1))  # 18 tomorrow: a child
    scenario.benefit("y", "JSA")
    scenario.person("z", "H4", None)  # no date of birth: the claim is the evidence of age (unknown_age)
    scenario.benefit("z", "JSA")
    evidence, hc = scenario.run()
    assert dict(zip(hc["household_id"], hc["work"], strict=True)) == {
        "H1": False,
        "H2": True,
        "H3": False,
        "H4": True,
    }
    (detail,) = evidence.filter(pl.col("household_id") == "H4")["detail"].to_list()
    assert detail.endswith("; age unknown (no record gives a date of birth), counted as an adult")
    (detail,) = evidence.filter(pl.col("household_id") == "H2")["detail"].to_list()
    assert "age unknown" not in detail


def test_uc_evidence_value(scenario: Scenario) -> None:
    scenario.adult("a", "H1")
    scenario.benefit("a", "UC", uc="NO_WORK_REQUIREMENTS")
    evidence, _ = scenario.run()
    assert evidence["value"].to_list() == ["UC NO_WORK_REQUIREMENTS"]


# ----------------------------------------------------------------------- local discretion


@pytest.mark.parametrize(
    ("category", "start", "end", "met"),
    [
        ("CIN", dt.date(2026, 1, 1), None, True),
        ("CP", dt.date(2026, 1, 1), D, True),
        ("LAC", dt.date(2026, 1, 1), D - DAY, False),
        ("CIN", D + DAY, None, False),
        ("EARLY_HELP", dt.date(2026, 1, 1), None, False),
    ],
    ids=["open", "ends-on-D", "ended-day-before", "starts-after-D", "early-help"],
)
def test_social_care_open_at_d(
    scenario: Scenario, category: str, start: dt.date, end: dt.date | None, met: bool
) -> None:
    scenario.child("c", "H1")
    scenario.social_care("c", category, start, end)
    assert scenario.met("H1", "local_discretion") is met


def test_domestic_abuse_and_health_in_the_window(scenario: Scenario) -> None:
    scenario.adult("a", "H1")
    scenario.add("domestic_abuse", "a", role="VICTIM", incident_date=YEAR_AGO + DAY)
    scenario.adult("b", "H2")
    scenario.add("domestic_abuse", "b", role="VICTIM", incident_date=YEAR_AGO)
    scenario.adult("c", "H3")
    scenario.add("health", "c", indicator="MENTAL_HEALTH", recorded_date=D)
    scenario.adult("d", "H4")
    scenario.add("health", "d", indicator="MENTAL_HEALTH", recorded_date=D + DAY)
    _, hc = scenario.run()
    assert dict(zip(hc["household_id"], hc["local_discretion"], strict=True)) == {
        "H1": True,
        "H2": False,
        "H3": True,
        "H4": False,
    }


# ----------------------------------------------------------------------- eligibility


def _national(s: Scenario, household: str, crime: bool, education: bool, work: bool, local: bool) -> None:
    child, adult = f"{household}-c", f"{household}-a"
    s.child(child, household)
    s.adult(adult, household)
    s.complete_terms(child)
    if crime:
        s.asb(adult, "ASBO", on=dt.date(2026, 6, 1))
    if education:
        s.exclusion(child, "PERMANENT", dt.date(2026, 2, 2))
    if work:
        s.benefit(adult, "JSA")
    if local:
        s.social_care(child, "CP")


@pytest.mark.parametrize(
    ("flags", "eligibility"),
    [
        ((True, True, True, False), "must_include"),
        ((True, True, True, True), "must_include"),
        ((True, True, False, True), "may_include"),
        ((True, False, True, True), "may_include"),
        ((False, True, True, True), "may_include"),
        ((True, True, False, False), None),
        ((True, False, False, True), None),
        ((False, False, False, True), None),
        ((False, False, False, False), None),
    ],
)
def test_eligibility(scenario: Scenario, flags: tuple[bool, bool, bool, bool], eligibility: str | None) -> None:
    _national(scenario, "H1", *flags)
    _, hc = scenario.run()
    row = hc.row(0, named=True)
    assert row["n_national"] == sum(flags[:3])
    assert row["eligibility"] == eligibility
    assert row["eligible"] is (eligibility is not None)


def test_criteria_met_by_different_members_combine_in_the_household(scenario: Scenario) -> None:
    _national(scenario, "H1", True, True, True, False)
    evidence, hc = scenario.run()
    assert hc["eligibility"].to_list() == ["must_include"]
    assert set(evidence["person_id"]) == {"H1-c", "H1-a"}
    assert set(evidence["criterion"]) == {"crime_asb", "education", "work"}
