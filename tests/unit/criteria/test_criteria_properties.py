"""Property tests of the rules: exact rates, windows, and monotone eligibility."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import polars as pl
from criteria_scenario import Scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from tfident.config import CONFIG_DIR
from tfident.criteria import pack_from_yaml

D = dt.date(2026, 10, 31)
COMPLETE = ("2025/26-AUT", "2025/26-SPR", "2025/26-SUM")
PHASE1_TEXT = (CONFIG_DIR / "criteria" / "phase1.yaml").read_text(encoding="utf-8")

term_rows = st.tuples(st.integers(0, 400), st.integers(0, 400)).map(lambda t: (t[0], min(t[0], t[1])))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(COMPLETE), term_rows), max_size=5),
    current=term_rows,
    percent=st.integers(1, 100),
)
def test_rate_rule_is_the_exact_fraction_compare(
    rows: list[tuple[str, tuple[int, int]]], current: tuple[int, int], percent: int
) -> None:
    assert "threshold: 0.15 " in PHASE1_TEXT
    pack = pack_from_yaml(PHASE1_TEXT.replace("threshold: 0.15 ", f"threshold: {percent / 100} ", 1))
    s = Scenario()
    s.child("c", "H1")
    s.child("other", "H0")
    s.complete_terms("other")  # the terms of the extract
    for term, (possible, unauthorised) in rows:
        s.attendance("c", term, possible, unauthorised)
    s.attendance("c", "2026/27-AUT", *current)  # in progress: never counted
    possible = sum(p for _, (p, _) in rows)
    unauthorised = sum(u for _, (_, u) in rows)
    expected = possible > 0 and Fraction(unauthorised, possible) >= Fraction(percent, 100)
    assert s.met("H1", "education", pack) is expected


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


@settings(max_examples=60, deadline=None)
@given(
    as_of=st.dates(dt.date(2020, 1, 1), dt.date(2032, 12, 31)) | st.sampled_from([dt.date(2028, 2, 29)]),
    offsets=st.lists(st.integers(-800, 60), min_size=1, max_size=6),
)
def test_twelve_month_window_is_d_minus_one_year_exclusive_to_d_inclusive(as_of: dt.date, offsets: list[int]) -> None:
    s = Scenario(as_of=as_of)
    days = [as_of + dt.timedelta(days=o) for o in offsets]
    for i, day in enumerate(days):
        s.adult(f"a{i}", f"H{i}")
        s.add("health", f"a{i}", indicator="OTHER", recorded_date=day)
    _, hc = s.run()
    got = dict(zip(hc["household_id"], hc["local_discretion"], strict=True))
    lower = _year_before(as_of)
    assert got == {f"H{i}": lower < day <= as_of for i, day in enumerate(days)}


FEATURES = (
    "asb",
    "offence",
    "permanent",
    "fixed3",
    "absence",
    "not_on_roll",
    "benefit",
    "uc_benefit",
    "social_care",
    "domestic_abuse",
    "health",
    "asb_incident",
    "hb",
)


def _household(features: frozenset[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    s = Scenario()
    s.child("c", "H1")
    s.adult("a", "H1")
    s.child("other", "H0")
    s.complete_terms("other")
    add = {
        "asb": lambda: s.asb("a", "CBO", dt.date(2026, 3, 3)),
        "asb_incident": lambda: s.asb("a", "INCIDENT", dt.date(2026, 3, 3)),
        "offence": lambda: s.offence("c", dt.date(2026, 1, 1), dt.date(2026, 3, 1)),
        "permanent": lambda: s.exclusion("c", "PERMANENT", dt.date(2026, 5, 5)),
        "fixed3": lambda: [s.exclusion("c", "FIXED", dt.date(2026, 5, d)) for d in (5, 6, 7)],
        "absence": lambda: s.attendance("c", "2025/26-SPR", 100, 50),
        "not_on_roll": lambda: s.census("c", "NOT_ON_ROLL"),
        "benefit": lambda: s.benefit("a", "ESA"),
        "uc_benefit": lambda: s.benefit("a", "UC", uc="SEARCHING_FOR_WORK"),
        "hb": lambda: s.benefit("a", "HB"),
        "social_care": lambda: s.social_care("c", "CP"),
        "domestic_abuse": lambda: s.add("domestic_abuse", "a", role="VICTIM", incident_date=dt.date(2026, 7, 7)),
        "health": lambda: s.add("health", "a", indicator="MENTAL_HEALTH", recorded_date=dt.date(2026, 7, 7)),
    }
    for feature in sorted(features):
        add[feature]()
    return s.run()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_adding_evidence_never_removes_a_criterion_or_eligibility(data: st.DataObject) -> None:
    more = frozenset(data.draw(st.sets(st.sampled_from(FEATURES))))
    fewer = frozenset(data.draw(st.sets(st.sampled_from(sorted(more))))) if more else frozenset()
    _, small = _household(fewer)
    evidence, large = _household(more)
    small_row = small.filter(pl.col("household_id") == "H1").row(0, named=True)
    large_row = large.filter(pl.col("household_id") == "H1").row(0, named=True)
    for criterion in ("crime_asb", "education", "work", "local_discretion"):
        assert large_row[criterion] >= small_row[criterion]
    assert large_row["eligible"] >= small_row["eligible"]
    if small_row["eligibility"] == "must_include":
        assert large_row["eligibility"] == "must_include"
    # evidence is exactly the records behind the criteria met
    met = {c for c in ("crime_asb", "education", "work", "local_discretion") if large_row[c]}
    assert set(evidence.filter(pl.col("household_id") == "H1")["criterion"]) == met
