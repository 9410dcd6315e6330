"""The claims oracle (truth/claims.csv) at the boundaries of the Phase 1 results rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tfident.synth.claims_truth import (
    Attached,
    absence_ok,
    crime_results,
    education_result,
    employment_result,
    judge_claims,
    months_before,
    reduced,
)

ATTACHED = dt.date(2026, 2, 28)
CLAIM = dt.date(2026, 8, 31)
KID, ADULT = "TP1", "TP2"
FAMILY = Attached(
    "TH1", ATTACHED, frozenset({"education", "crime_asb"}), ((KID, dt.date(2012, 5, 1)), (ADULT, dt.date(1985, 1, 1)))
)
TERMS = (
    ("2025/26-AUT", dt.date(2025, 9, 3), dt.date(2025, 12, 19)),
    ("2025/26-SPR", dt.date(2026, 1, 5), dt.date(2026, 4, 2)),
    ("2025/26-SUM", dt.date(2026, 4, 16), dt.date(2026, 7, 22)),
)


def attendance(unauthorised: tuple[int, int, int], possible: int = 100, person: str = KID) -> pl.DataFrame:
    """Three complete terms of ``possible`` sessions each for ``person``; an older term with full absence."""
    rows = [(person, "2024/25-SUM", dt.date(2025, 4, 22), dt.date(2025, 7, 22), possible, possible)]
    rows += [(person, t, s, e, possible, u) for (t, s, e), u in zip(TERMS, unauthorised, strict=True)]
    return pl.DataFrame(
        rows,
        schema=["true_person_id", "term", "term_start", "term_end", "sessions_possible", "sessions_unauthorised"],
        orient="row",
    )


def exclusions(days: list[dt.date], person: str = KID) -> pl.DataFrame:
    """Fixed exclusions of ``person`` starting on ``days``."""
    return pl.DataFrame(
        {"true_person_id": [person] * len(days), "exclusion_type": ["FIXED"] * len(days), "start_date": days},
        schema={"true_person_id": pl.String, "exclusion_type": pl.String, "start_date": pl.Date},
    )


def offences(days: list[dt.date], person: str = KID) -> pl.DataFrame:
    """Proven offences of ``person`` on ``days``."""
    return pl.DataFrame(
        {"true_person_id": [person] * len(days), "offence_date": days, "proven": ["Y"] * len(days)},
        schema={"true_person_id": pl.String, "offence_date": pl.Date, "proven": pl.String},
    )


def asb(days: list[dt.date], person: str = ADULT) -> pl.DataFrame:
    """ASB records of ``person`` on ``days``."""
    return pl.DataFrame(
        {"true_person_id": [person] * len(days), "intervention_date": days},
        schema={"true_person_id": pl.String, "intervention_date": pl.Date},
    )


@pytest.mark.parametrize(
    ("unauthorised", "possible", "expected"),
    [(150, 1000, False), (149, 1000, True), (15, 100, False), (14, 100, True), (0, 0, None)],
)
def test_absence_is_met_under_15_percent_only(unauthorised: int, possible: int, expected: bool | None) -> None:
    """15.0 % fails, 14.9 % passes, no sessions is no judgement."""
    assert absence_ok(unauthorised, possible) is expected


@pytest.mark.parametrize(
    ("before", "after", "percent", "expected"),
    [
        (100, 67, 33, True),  # exactly 33 %
        (100, 68, 33, False),  # 32 %
        (3, 2, 33, True),  # 33.3 %
        (5, 2, 60, True),  # exactly 60 %
        (5, 3, 60, False),  # 40 %
        (0, 0, 60, None),  # no baseline
    ],
)
def test_reductions_count_the_exact_percentage(before: int, after: int, percent: int, expected: bool | None) -> None:
    """A reduction of exactly the required percentage is met; one event more is not."""
    assert reduced(before, after, percent) is expected


def test_six_months_are_calendar_months_clamped() -> None:
    """31 August less six months is 28 February; 31 March less one is 28 February."""
    assert months_before(dt.date(2026, 8, 31), 6) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2026, 3, 31), 1) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2028, 8, 31), 6) == dt.date(2028, 2, 29)


@pytest.mark.parametrize(("unauthorised", "expected"), [((15, 15, 15), False), ((15, 15, 14), True)])
def test_education_judges_the_last_three_complete_terms(unauthorised: tuple[int, int, int], expected: bool) -> None:
    """45 of 300 sessions (15.0 %) fails, 44 passes; the older term with full absence is not looked at."""
    assert education_result(FAMILY, attendance(unauthorised), exclusions([]), CLAIM) is expected


def test_a_term_ending_after_the_claim_date_is_not_complete() -> None:
    """On 21 July the summer term is in progress: the three terms before it are judged."""
    frame = attendance((0, 0, 0))
    assert education_result(FAMILY, frame, exclusions([]), dt.date(2026, 7, 21)) is False  # 2024/25-SUM counts


def test_three_fixed_exclusions_in_the_window_fail() -> None:
    """Two fixed exclusions pass, three fail; one the day before the window does not count."""
    two = [dt.date(2025, 9, 3), dt.date(2026, 5, 1)]
    assert education_result(FAMILY, attendance((0, 0, 0)), exclusions(two), CLAIM) is True
    three = [*two, dt.date(2026, 8, 31)]
    assert education_result(FAMILY, attendance((0, 0, 0)), exclusions(three), CLAIM) is False
    outside = [*two, dt.date(2025, 9, 2)]
    assert education_result(FAMILY, attendance((0, 0, 0)), exclusions(outside), CLAIM) is True


def test_a_child_without_sessions_or_an_adult_is_not_judged() -> None:
    """No sessions for the child, or sessions only for a member 18 on attachment: no judgement."""
    assert education_result(FAMILY, attendance((0, 0, 0)).head(0), exclusions([]), CLAIM) is None
    assert education_result(FAMILY, attendance((90, 90, 90), person=ADULT), exclusions([]), CLAIM) is None


def test_six_months_to_the_day_bound_both_windows() -> None:
    """Windows are (day - 6 months, day]: 28 February is in the baseline to 28 February, not in the recent
    window to 31 August; 28 August 2025 (28 February less six months) is in neither, the 29th is.
    """
    d = dt.date
    offending_ok, _ = crime_results(
        FAMILY, offences([d(2025, 9, 1), d(2025, 10, 1), d(2026, 2, 28), d(2026, 3, 1), d(2026, 8, 31)]), asb([]), CLAIM
    )
    assert offending_ok is True  # 3 -> 2, down 33.3 %; counting 28 February as recent would make it 3 -> 3
    baseline = [d(2025, 8, 28), d(2025, 8, 29), d(2025, 11, 1), d(2026, 1, 1), d(2026, 2, 28)]
    _, asb_ok = crime_results(FAMILY, offences([]), asb([*baseline, d(2026, 3, 1), d(2026, 8, 31)]), CLAIM)
    assert asb_ok is False  # 4 -> 2 is down 50 %; counting 28 August 2025 would make it 5 -> 2, down 60 %


def test_an_offence_at_18_is_not_a_minor_s() -> None:
    """Offences by a member aged 18 on the offence date are not counted: no baseline, no measure."""
    offending_ok, asb_ok = crime_results(FAMILY, offences([dt.date(2026, 1, 1)], person=ADULT), asb([]), CLAIM)
    assert (offending_ok, asb_ok) == (None, None)


def test_a_family_is_claimable_when_every_measure_that_applies_is_met() -> None:
    """Education met and ASB down 60 %: claimable; ASB down 40 %: not, with the reason; no measure: not."""
    events = {
        "attendance": attendance((10, 10, 10)),
        "exclusions": exclusions([]),
        "youth_offending": offences([]),
        "asb": asb([dt.date(2025, 12, 1)] * 5 + [dt.date(2026, 8, 1)] * 2),
        "benefits": benefits([]),
    }
    later = Attached("TH2", dt.date(2026, 9, 30), FAMILY.needs, FAMILY.members)
    bare = Attached("TH3", ATTACHED, frozenset({"work"}), FAMILY.members)
    truth = judge_claims(events, [FAMILY, later, bare], CLAIM)
    assert truth["true_household_id"].to_list() == ["TH1", "TH3"]  # TH2 is attached after the claim date
    assert truth.row(0, named=True) | {"attached_on": None} == {
        "true_household_id": "TH1",
        "period": "TF1",
        "attached_on": None,
        "needs": "crime_asb;education",
        "route": "tf1_results",
        "claimable": "Y",
        "reason": "achieved",
        "education": "Y",
        "offending": "",
        "asb": "Y",
        "employment": "",
    }
    assert truth.row(1, named=True)["reason"] == "no_measure_applies"
    events["asb"] = asb([dt.date(2025, 12, 1)] * 5 + [dt.date(2026, 8, 1)] * 3)
    again = judge_claims(events, [FAMILY], CLAIM).row(0, named=True)
    assert (again["claimable"], again["route"], again["reason"]) == ("N", "", "not_met:asb")


def benefits(claims: list[tuple[str, dt.date, dt.date | None]], person: str = ADULT) -> pl.DataFrame:
    """Benefit claims of ``person``: ``(benefit_type, claim_start, claim_end)``."""
    return pl.DataFrame(
        [(person, kind, None, start, end) for kind, start, end in claims],
        schema={
            "true_person_id": pl.String,
            "benefit_type": pl.String,
            "uc_conditionality": pl.String,
            "claim_start": pl.Date,
            "claim_end": pl.Date,
        },
        orient="row",
    )


def spells(rows: list[tuple[dt.date, dt.date | None]], person: str = ADULT) -> pl.DataFrame:
    """Employment spells of ``person``."""
    return pl.DataFrame(
        [(person, start, end) for start, end in rows],
        schema={"true_person_id": pl.String, "start_date": pl.Date, "end_date": pl.Date},
        orient="row",
    )


JOB = dt.date(2026, 3, 2)
"""A job started after attachment (28 February); its 91st day is 31 May, its 182nd 30 August."""
ESA = ("ESA", (dt.date(2024, 1, 1), dt.date(2026, 3, 1)))


@pytest.mark.parametrize(
    ("end", "as_of", "expected"),
    [
        (None, dt.date(2026, 5, 31), True),  # the 91st day is the judging day: 13 weeks
        (None, dt.date(2026, 5, 30), False),  # one day short on the judging day
        (dt.date(2026, 5, 31), CLAIM, True),  # ended on its 91st day
        (dt.date(2026, 5, 30), CLAIM, False),  # ended on its 90th day: one day short
        (dt.date(2026, 5, 24), CLAIM, False),  # one week short
    ],
)
def test_continuous_employment_needs_exactly_13_weeks(end: dt.date | None, as_of: dt.date, expected: bool) -> None:
    """Thirteen weeks are 91 days counting the first: the 91st day reached (and worked) is met, the 90th not."""
    assert employment_result([ESA], [(JOB, end)], ATTACHED, as_of) is expected


@pytest.mark.parametrize(
    ("end", "expected"), [(dt.date(2026, 8, 30), True), (dt.date(2026, 8, 29), False), (None, True)]
)
def test_a_jsa_claimant_needs_26_weeks(end: dt.date | None, expected: bool) -> None:
    """Off JSA the weeks are 26 (182 days): 13 weeks are not enough, the 182nd day is."""
    jsa = ("JSA", (dt.date(2025, 6, 1), dt.date(2026, 3, 1)))
    assert employment_result([jsa], [(JOB, dt.date(2026, 6, 30))], ATTACHED, CLAIM) is False
    assert employment_result([jsa], [(JOB, end)], ATTACHED, CLAIM) is expected


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        (("ESA", (dt.date(2024, 1, 1), JOB)), False),  # the claim runs on to the job's first day
        (("ESA", (dt.date(2024, 1, 1), dt.date(2026, 3, 1))), True),  # ends the day before
        (("JSA", (dt.date(2026, 5, 31), dt.date(2026, 6, 10))), False),  # a claim on the 91st day
        (("JSA", (dt.date(2026, 6, 1), dt.date(2026, 6, 10))), True),  # after the 13 weeks
    ],
)
def test_an_out_of_work_claim_in_the_weeks_breaks_continuity(
    claim: tuple[str, tuple[dt.date, dt.date]], expected: bool
) -> None:
    """Any out-of-work claim live on a day of the 13 weeks fails them; one the day before or after does not."""
    claims = [claim] if claim[0] == "ESA" else [ESA, claim]
    assert employment_result(claims, [(JOB, None)], ATTACHED, CLAIM) is expected


def test_employment_applies_only_to_an_adult_on_out_of_work_benefit_at_attachment() -> None:
    """No claim live on the attachment day: nothing to move off (None); a job begun on that day does not count."""
    ended = ("ESA", (dt.date(2024, 1, 1), dt.date(2026, 2, 27)))
    assert employment_result([ended], [(JOB, None)], ATTACHED, CLAIM) is None
    assert employment_result([ESA], [(ATTACHED, None)], ATTACHED, CLAIM) is False


def test_results_come_before_continuous_employment() -> None:
    """A family meeting both claims by results; by employment alone ``tf1_ce`` (a housing benefit claim in the
    weeks does not break it, not being out of work); a job one day short, neither.
    """
    events = {
        "attendance": attendance((10, 10, 10)),
        "exclusions": exclusions([]),
        "youth_offending": offences([]),
        "asb": asb([]),
        "benefits": benefits([("ESA", dt.date(2024, 1, 1), dt.date(2026, 3, 1)), ("HB", dt.date(2026, 4, 1), None)]),
        "employment": spells([(JOB, None)]),
    }
    work_only = Attached("TH4", ATTACHED, frozenset({"work"}), FAMILY.members)
    short = Attached("TH5", ATTACHED, frozenset({"work"}), ((KID, dt.date(2012, 5, 1)), ("TP3", dt.date(1980, 1, 1))))
    events["benefits"] = pl.concat(
        [events["benefits"], benefits([("IS", dt.date(2024, 1, 1), dt.date(2026, 3, 1))], "TP3")]
    )
    events["employment"] = pl.concat([events["employment"], spells([(JOB, dt.date(2026, 5, 30))], "TP3")])
    truth = judge_claims(events, [FAMILY, work_only, short], CLAIM)
    rows = {r["true_household_id"]: r for r in truth.iter_rows(named=True)}
    assert (rows["TH1"]["route"], rows["TH1"]["reason"], rows["TH1"]["employment"]) == ("tf1_results", "achieved", "Y")
    assert (rows["TH4"]["route"], rows["TH4"]["claimable"], rows["TH4"]["reason"]) == (
        "tf1_ce",
        "Y",
        "continuous_employment",
    )
    assert (rows["TH5"]["route"], rows["TH5"]["claimable"], rows["TH5"]["employment"]) == ("", "N", "N")


@pytest.mark.parametrize("module", ["tfident.synth.claims_truth", "tfident.synth.followup"])
def test_the_oracle_does_not_use_tfident_outcomes(module: str) -> None:
    """The truth is computed independently of the code it scores: no import of tfident.outcomes or store."""
    import ast
    import importlib

    source = Path(importlib.import_module(module).__file__ or "").read_text(encoding="utf-8")
    imported = {node.module or "" for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import) for alias in node.names
    }
    assert not {m for m in imported if m.startswith(("tfident.outcomes", "tfident.store"))}
