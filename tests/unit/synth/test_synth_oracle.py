"""The truth oracle on hand-built households at the edges of the Phase 1 rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from tfident.synth.identifiers import (
    make_pnc,
    make_upn,
    nhs_is_valid,
    nino_is_valid,
    pnc_is_valid,
    upn_check_letter,
    upn_is_valid,
)
from tfident.synth.truth import EVENT_SCHEMAS, judge_households

D = dt.date(2026, 10, 31)
CHILD_DOB = dt.date(2012, 5, 1)
ADULT_DOB = dt.date(1985, 3, 3)

AUT = ("2025/26-AUT", dt.date(2025, 9, 3), dt.date(2025, 12, 19))
SPR = ("2025/26-SPR", dt.date(2026, 1, 5), dt.date(2026, 4, 2))
SUM = ("2025/26-SUM", dt.date(2026, 4, 16), dt.date(2026, 7, 22))
NOW = ("2026/27-AUT", dt.date(2026, 9, 3), dt.date(2026, 12, 18))
OLD = ("2024/25-SUM", dt.date(2025, 4, 16), dt.date(2025, 7, 22))


def frame(source: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Events of ``source`` for person ``P1`` unless a row names another."""
    schema = {"true_person_id": pl.String, **EVENT_SCHEMAS[source]}
    full = [{"true_person_id": "P1", **{c: None for c in EVENT_SCHEMAS[source]}, **row} for row in rows]
    return pl.DataFrame(full, schema=schema)


def judge(events: dict[str, pl.DataFrame], dob: dt.date = CHILD_DOB, in_area: bool = True) -> dict[str, Any]:
    """Judge one household whose only member P1 was born on ``dob``."""
    people = pl.DataFrame({"true_person_id": ["P1"], "true_household_id": ["H1"], "date_of_birth": [dob]})
    households = pl.DataFrame({"true_household_id": ["H1"], "in_area": [in_area]})
    return judge_households(events, people, households, D).row(0, named=True)


def attendance(unauth: list[int], possible: list[int], terms: tuple[tuple[str, dt.date, dt.date], ...]) -> pl.DataFrame:
    """Attendance rows, one per term."""
    return frame(
        "attendance",
        [
            {
                "term": t[0],
                "term_start": t[1],
                "term_end": t[2],
                "sessions_possible": p,
                "sessions_unauthorised": u,
            }
            for t, u, p in zip(terms, unauth, possible, strict=True)
        ],
    )


def test_absence_of_149_per_mille_misses_and_150_meets() -> None:
    """It finds 14.9% unauthorised absence short of the 15% threshold and 15.0% meeting it."""
    terms = (AUT, SPR, SUM)
    assert judge({"attendance": attendance([50, 49, 50], [334, 333, 333], terms)})["education"] == "N"
    assert judge({"attendance": attendance([50, 50, 50], [334, 333, 333], terms)})["education"] == "Y"


def test_in_progress_term_is_ignored() -> None:
    """It ignores the term in progress at D and uses the three most recent complete terms."""
    terms = (OLD, AUT, SPR, SUM, NOW)
    # high absence only in the term in progress and in a term older than the last three
    rows = attendance([100, 0, 0, 0, 70], [140, 140, 120, 130, 70], terms)
    assert judge({"attendance": rows})["education"] == "N"
    rows = attendance([0, 21, 18, 20, 0], [140, 140, 120, 130, 70], terms)
    assert judge({"attendance": rows})["education"] == "Y"


def test_no_judgement_when_possible_sessions_are_zero() -> None:
    """It makes no absence judgement when the possible sessions sum to zero."""
    assert judge({"attendance": attendance([0, 0, 0], [0, 0, 0], (AUT, SPR, SUM))})["education"] == "N"


def test_two_fixed_exclusions_miss_and_three_meet() -> None:
    """It counts fixed exclusions in the education window: two miss, three meet, older ones do not count."""
    terms = attendance([0, 0, 0, 0], [140, 120, 130, 70], (AUT, SPR, SUM, NOW))
    in_window = [dt.date(2025, 9, 3), dt.date(2026, 2, 2), dt.date(2026, 10, 1)]
    before = dt.date(2025, 9, 2)

    def exclusions(days: list[dt.date], kind: str = "FIXED") -> pl.DataFrame:
        return frame("exclusions", [{"exclusion_type": kind, "start_date": d} for d in days])

    assert judge({"attendance": terms, "exclusions": exclusions(in_window[:2] + [before])})["education"] == "N"
    assert judge({"attendance": terms, "exclusions": exclusions(in_window)})["education"] == "Y"
    assert judge({"attendance": terms, "exclusions": exclusions([before], "PERMANENT")})["education"] == "N"
    assert judge({"attendance": terms, "exclusions": exclusions([D], "PERMANENT")})["education"] == "Y"


def test_census_provision() -> None:
    """It counts PRU or AP only after exclusion, and NOT_ON_ROLL, and only for a child."""
    census = [
        ({"provision": "PRU", "excluded_previously": "Y"}, "Y"),
        ({"provision": "AP", "excluded_previously": "N"}, "N"),
        ({"provision": "NOT_ON_ROLL"}, "Y"),
        ({"provision": "MAINSTREAM"}, "N"),
    ]
    for row, expected in census:
        assert judge({"school_census": frame("school_census", [row])})["education"] == expected
    adult_case = frame("school_census", [{"provision": "NOT_ON_ROLL"}])
    assert judge({"school_census": adult_case}, dob=dt.date(2008, 10, 31))["education"] == "N"


def test_offence_the_day_before_the_18th_birthday_counts_and_on_it_does_not() -> None:
    """It counts a proven offence committed the day before the 18th birthday, not one on the birthday."""
    dob = dt.date(2008, 3, 15)

    def offence(day: dt.date, proven: str = "Y", outcome: dt.date = dt.date(2026, 5, 1)) -> pl.DataFrame:
        return frame("youth_offending", [{"offence_date": day, "outcome_date": outcome, "proven": proven}])

    assert judge({"youth_offending": offence(dt.date(2026, 3, 14))}, dob=dob)["crime_asb"] == "Y"
    assert judge({"youth_offending": offence(dt.date(2026, 3, 15))}, dob=dob)["crime_asb"] == "N"
    assert judge({"youth_offending": offence(dt.date(2026, 3, 14), "N")}, dob=dob)["crime_asb"] == "N"
    year_ago = dt.date(2025, 10, 31)
    assert judge({"youth_offending": offence(dt.date(2025, 6, 1), outcome=year_ago)}, dob=dob)["crime_asb"] == "N"
    next_day = dt.date(2025, 11, 1)
    assert judge({"youth_offending": offence(dt.date(2025, 6, 1), outcome=next_day)}, dob=dob)["crime_asb"] == "Y"


def test_asb_incident_does_not_count() -> None:
    """It counts every ASB intervention in the window except an incident."""
    for kind, day, expected in (
        ("INCIDENT", dt.date(2026, 6, 1), "N"),
        ("ABC", dt.date(2026, 6, 1), "Y"),
        ("EVICTION_ASB", D, "Y"),
        ("CBO", dt.date(2025, 10, 31), "N"),
    ):
        asb = frame("asb", [{"intervention_type": kind, "intervention_date": day}])
        assert judge({"asb": asb}, dob=ADULT_DOB)["crime_asb"] == expected, kind


def test_claim_ending_on_the_batch_date_is_live() -> None:
    """It treats a claim ending on D as live, one ending the day before as over, UC WORKING and HB as in work."""

    def claim(
        kind: str, end: dt.date | None, cond: str | None = None, start: dt.date = dt.date(2024, 1, 1)
    ) -> pl.DataFrame:
        row = {"benefit_type": kind, "uc_conditionality": cond, "claim_start": start, "claim_end": end}
        return frame("benefits", [row])

    assert judge({"benefits": claim("ESA", D)}, dob=ADULT_DOB)["work"] == "Y"
    assert judge({"benefits": claim("ESA", D - dt.timedelta(days=1))}, dob=ADULT_DOB)["work"] == "N"
    assert judge({"benefits": claim("UC", None, "NO_WORK_REQUIREMENTS")}, dob=ADULT_DOB)["work"] == "Y"
    assert judge({"benefits": claim("UC", None, "WORKING")}, dob=ADULT_DOB)["work"] == "N"
    assert judge({"benefits": claim("HB", None)}, dob=ADULT_DOB)["work"] == "N"
    assert judge({"benefits": claim("JSA", None, start=D + dt.timedelta(days=1))}, dob=ADULT_DOB)["work"] == "N"
    assert judge({"benefits": claim("JSA", None)}, dob=dt.date(2009, 1, 1))["work"] == "N"  # a 17-year-old


def test_local_discretion_and_combination() -> None:
    """It needs all three national criteria, or exactly two and local discretion; never outside the area."""
    people = pl.DataFrame(
        {
            "true_person_id": ["A", "C"],
            "true_household_id": ["H1", "H1"],
            "date_of_birth": [ADULT_DOB, CHILD_DOB],
        }
    )
    households = pl.DataFrame({"true_household_id": ["H1"], "in_area": [True]})
    benefits = frame("benefits", [{"true_person_id": "A", "benefit_type": "IS", "claim_start": dt.date(2020, 1, 1)}])
    census = frame("school_census", [{"true_person_id": "C", "provision": "NOT_ON_ROLL"}])
    care_open = frame("social_care", [{"true_person_id": "C", "category": "CP", "start_date": dt.date(2026, 1, 1)}])
    early_help = frame(
        "social_care", [{"true_person_id": "C", "category": "EARLY_HELP", "start_date": dt.date(2026, 1, 1)}]
    )
    base = {"benefits": benefits, "school_census": census}
    row = judge_households({**base, "social_care": early_help}, people, households, D).row(0, named=True)
    assert (row["n_national"], row["local_discretion"], row["eligible_phase1"]) == (2, "N", "N")
    row = judge_households({**base, "social_care": care_open}, people, households, D).row(0, named=True)
    assert (row["local_discretion"], row["eligible_phase1"], row["eligibility"]) == ("Y", "Y", "may_include")
    outside = households.with_columns(in_area=pl.lit(False))
    row = judge_households({**base, "social_care": care_open}, people, outside, D).row(0, named=True)
    assert (row["eligible_phase1"], row["in_area"]) == ("N", "N")
    health = frame("health", [{"true_person_id": "A", "recorded_date": dt.date(2025, 11, 1)}])
    domestic = frame("domestic_abuse", [{"true_person_id": "A", "incident_date": dt.date(2025, 10, 31)}])
    assert judge_households({"health": health}, people, households, D)["local_discretion"][0] == "Y"
    assert judge_households({"domestic_abuse": domestic}, people, households, D)["local_discretion"][0] == "N"


def test_identifier_check_characters() -> None:
    """It computes check characters that match the published test vectors."""
    assert upn_is_valid("B801200005001")
    assert not upn_is_valid("A801200005001")
    assert upn_check_letter("930200015001") == "U"
    assert upn_is_valid(make_upn("997201518027"))
    assert nhs_is_valid("9434765919")
    assert not nhs_is_valid("9434765918")
    assert nhs_is_valid("4582701086")
    assert nhs_is_valid("6541003238")
    assert pnc_is_valid("1999/1234567B")
    assert pnc_is_valid(make_pnc(2026, 345313))
    assert nino_is_valid("AB123456C")
    assert not nino_is_valid("BG123456A")
    assert not nino_is_valid("QQ123456C")
