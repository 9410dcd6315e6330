"""Outcome observations on frames: one family per test, at the boundaries of each rule."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.outcomes import AttachedFamily, EntryNeed, Member, claim_route, evaluate_outcomes, load_outcomes_config

CHILD, PARENT = "P1", "P2"
MEMBERS = (Member(CHILD, "child", date(2014, 3, 1)), Member(PARENT, "adult", date(1985, 1, 1)))
CONFIG = load_outcomes_config()  # the shipped config/outcomes.yaml (its Family Outcomes Plan)


def family(ruleset: str, needs: dict[str, str], closed_on: date | None = None) -> AttachedFamily:
    """An attached family of ``ruleset`` with ``needs`` (need -> source), attached on 2026-01-31."""
    return AttachedFamily(
        1,
        ruleset,
        date(2026, 1, 31),
        closed_on,
        MEMBERS,
        tuple(EntryNeed(n, f"{n}.rule", CHILD, s, "R0") for n, s in needs.items()),
    )


def observe(fam: AttachedFamily, as_of: date, **sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Observations of ``fam`` from ``sources`` (each row names its ``person_id``)."""
    extracts, index = {}, []
    for source, rows in sources.items():
        extracts[source] = pl.DataFrame([{k: v for k, v in r.items() if k != "person_id"} for r in rows])
        index += [{"source": source, "record_id": r["record_id"], "person_id": r["person_id"]} for r in rows]
    return evaluate_outcomes(extracts, pl.DataFrame(index), [fam], CONFIG, as_of).to_dicts()


def terms(unauthorised_last: int, possible: int = 1000) -> list[dict[str, Any]]:
    """Three complete terms of the child, the last with ``unauthorised_last`` of ``possible`` sessions missed."""
    spans = [
        (date(2025, 9, 1), date(2025, 12, 19)),
        (date(2026, 1, 5), date(2026, 3, 27)),
        (date(2026, 4, 13), date(2026, 7, 22)),
    ]
    return [
        {
            "record_id": f"A{i}",
            "person_id": CHILD,
            "term": f"T{i}",
            "term_start": start,
            "term_end": end,
            "sessions_possible": possible if i == 2 else 0,
            "sessions_authorised": 0,
            "sessions_unauthorised": unauthorised_last if i == 2 else 0,
        }
        for i, (start, end) in enumerate(spans)
    ]


def test_tf1_education_at_14_9_and_15_0_percent() -> None:
    """It meets the education result at 14.9 % unauthorised absence over three terms, not at 15.0 %."""
    fam = family("phase1", {"education": "attendance"})
    (met,) = [o for o in observe(fam, date(2026, 7, 31), attendance=terms(149)) if o["need"] == "education"]
    (missed,) = [o for o in observe(fam, date(2026, 7, 31), attendance=terms(150)) if o["need"] == "education"]
    assert (met["met"], met["reason"]) == (True, "achieved")
    assert (missed["met"], missed["reason"]) == (False, "not_achieved")
    assert json.loads(met["evidence"])["terms"] == ["T0", "T1", "T2"]


def test_tf1_offending_down_exactly_33_percent() -> None:
    """It meets the offending result when offences by minors fall from 3 to 2 (33.3 %), not 3 to 3."""
    fam = family("phase1", {"crime_asb": "youth_offending"})

    def offences(after: int) -> list[dict[str, Any]]:
        dates = [date(2025, 9, 1), date(2025, 10, 1), date(2025, 11, 1)] + [
            date(2026, 6, d) for d in range(1, after + 1)
        ]
        return [
            {"record_id": f"Y{i}", "person_id": CHILD, "offence_date": d, "proven": "Y", "date_of_birth": None}
            for i, d in enumerate(dates)
        ]

    def offending(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return next(
            o for o in observe(fam, date(2026, 7, 31), youth_offending=rows) if o["measure"] == "tf1_offending_minors"
        )

    assert offending(offences(2))["met"] is True
    assert offending(offences(3))["met"] is False
    assert offending(offences(2))["value"] == "3->2"


def test_sf_outcome_six_months_to_the_day_after_closure() -> None:
    """It observes an SF need only once six months after closure have passed, to the day, then claims it."""
    fam = family("sf2022", {"crime": "asb"}, closed_on=date(2026, 2, 15))
    asb = [{"record_id": "X1", "person_id": PARENT, "intervention_date": date(2025, 12, 1)}]
    (early,) = observe(fam, date(2026, 8, 14), asb=asb)
    (due,) = observe(fam, date(2026, 8, 15), asb=asb)
    assert (early["met"], early["reason"]) == (None, "not_yet_sustained")
    assert (due["met"], due["reason"], due["period_end"]) == (True, "achieved", date(2026, 8, 15))
    assert claim_route("sf2022", [early]) is None
    assert claim_route("sf2022", [due]) == "sf_outcome"


def test_sf_outcome_not_sustained_by_an_event_on_the_last_day() -> None:
    """It fails a need with a new record on the window's last day (closure + six months)."""
    fam = family("sf2022", {"crime": "asb"}, closed_on=date(2026, 2, 15))
    asb = [{"record_id": "X2", "person_id": PARENT, "intervention_date": date(2026, 8, 15)}]
    (obs,) = observe(fam, date(2026, 9, 30), asb=asb)
    assert (obs["met"], json.loads(obs["evidence"])["records"]) == (False, [["asb", "X2", "2026-08-15"]])


def test_phase2_family_outcomes_plan_attendance_90_percent() -> None:
    """It meets the plan's 90 % attendance at 900 of 1000 sessions attended, not at 899."""
    fam = family("phase2", {"education": "attendance"})
    rows = terms(100)
    (met,) = [o for o in observe(fam, date(2026, 7, 31), attendance=rows) if o["need"] == "education"]
    (missed,) = [o for o in observe(fam, date(2026, 7, 31), attendance=terms(101)) if o["need"] == "education"]
    assert met["met"] is True
    assert missed["met"] is False
    assert claim_route("phase2", [met]) == "tf2_ssp"
    assert claim_route("phase2", [missed]) is None


def claim(record_id: str, kind: str, start: date, end: date | None, regime: str | None = None) -> dict[str, Any]:
    """A benefit claim of the parent."""
    return {
        "record_id": record_id,
        "person_id": PARENT,
        "benefit_type": kind,
        "uc_conditionality": regime,
        "claim_start": start,
        "claim_end": end,
    }


def test_continuous_employment_is_the_alternative_route() -> None:
    """It offers TF1 continuous employment when results are not met but an adult came off ESA and worked 13 weeks."""
    fam = family("phase1", {"crime_asb": "asb"})
    obs = observe(
        fam,
        date(2026, 7, 31),
        benefits=[claim("B1", "ESA", date(2025, 6, 1), date(2026, 2, 28))],
        employment=[{"record_id": "E1", "person_id": PARENT, "start_date": date(2026, 3, 1), "end_date": None}],
        asb=[{"record_id": "X1", "person_id": PARENT, "intervention_date": date(2026, 7, 1)}],
    )
    assert claim_route("phase1", obs) == "tf1_ce"


JOB = date(2026, 3, 1)
DAY_91, DAY_182 = date(2026, 5, 30), date(2026, 8, 29)


@pytest.mark.parametrize(
    ("claims", "as_of", "met", "weeks"),
    [
        ([claim("B1", "ESA", date(2025, 6, 1), date(2026, 2, 28))], DAY_91, True, 13),
        ([claim("B1", "ESA", date(2025, 6, 1), date(2026, 2, 28))], date(2026, 5, 29), False, None),
        ([claim("B1", "JSA", date(2025, 6, 1), date(2026, 2, 28))], DAY_91, False, None),
        ([claim("B1", "JSA", date(2025, 6, 1), date(2026, 2, 28))], date(2026, 8, 28), False, None),
        ([claim("B1", "JSA", date(2025, 6, 1), date(2026, 2, 28))], DAY_182, True, 26),
        # a claim ending on the attachment day was live then (claim_end >= D)
        ([claim("B1", "ESA", date(2025, 6, 1), date(2026, 1, 31))], DAY_91, True, 13),
        # not on an out-of-work benefit at attachment: nobody moved off one
        ([claim("B1", "ESA", date(2025, 6, 1), date(2026, 1, 30))], DAY_91, False, None),
        ([claim("B1", "HB", date(2025, 6, 1), None)], DAY_91, False, None),
        ([], DAY_91, False, None),
        # Universal Credit: out of work only under an out-of-work regime; in-work UC does not break continuity
        (
            [
                claim("B1", "UC", date(2025, 6, 1), date(2026, 2, 28), "SEARCHING_FOR_WORK"),
                claim("B2", "UC", date(2026, 3, 1), None, "WORKING_ENOUGH"),
            ],
            DAY_91,
            True,
            13,
        ),
        ([claim("B1", "UC", date(2025, 6, 1), None, "WORKING_ENOUGH")], DAY_91, False, None),
        # an out-of-work claim overlapping the weeks breaks continuity
        ([claim("B1", "ESA", date(2025, 6, 1), date(2026, 3, 5))], DAY_91, False, None),
    ],
)
def test_continuous_employment_by_the_benefit_the_adult_came_off(
    claims: list[dict[str, Any]], as_of: date, met: bool, weeks: int | None
) -> None:
    """13 weeks after most out-of-work benefits, 26 after JSA (``tf1.employment_weeks_by_benefit``), counted
    only for an adult on an out-of-work benefit at attachment.
    """
    fam = family("phase1", {"work": "benefits"})
    job = [{"record_id": "E1", "person_id": PARENT, "start_date": JOB, "end_date": None}]
    sources: dict[str, list[dict[str, Any]]] = {"employment": job}
    if claims:
        sources["benefits"] = claims
    (found,) = [o for o in observe(fam, as_of, **sources) if o["measure"] == "continuous_employment"]
    assert found["met"] is met
    spells = json.loads(found["evidence"])["spells"]
    assert [s["weeks"] for s in spells] == ([weeks] if met else [])


@pytest.mark.parametrize(("as_of", "met"), [(DAY_91, False), (DAY_182, True)])
def test_continuous_employment_counts_a_claim_with_the_adults_nino_in_another_person(as_of: date, met: bool) -> None:
    """A JSA claim the linkage left in a second person of the family (her middle name as forename, a
    surname typo) but with the adult's NINO is hers: she needs 26 weeks, not the 13 of her ESA claim.
    """
    split = Member("P2b", "adult", date(1985, 1, 1))
    fam = AttachedFamily(1, "phase1", date(2026, 1, 31), None, (*MEMBERS, split), ())
    nino = "AB123456C"
    obs = observe(
        fam,
        as_of,
        benefits=[
            {**claim("B1", "ESA", date(2025, 6, 1), date(2026, 2, 28)), "nino": nino},
            {**claim("B2", "JSA", date(2025, 6, 1), date(2026, 2, 28)), "person_id": "P2b", "nino": "ab 12 34 56 c"},
        ],
        employment=[{"record_id": "E1", "person_id": PARENT, "start_date": JOB, "end_date": None, "nino": nino}],
    )
    (found,) = [o for o in obs if o["measure"] == "continuous_employment"]
    assert found["met"] is met
    assert [s["weeks"] for s in json.loads(found["evidence"])["spells"]] == ([26] if met else [])


def test_tf1_asb_counts_a_member_who_was_not_frozen_at_attachment() -> None:
    """ASB of a person the run places in the family's household now counts across the family; without
    household ids, or when that person lives elsewhere, only the frozen members' records count.
    """
    fam = family("phase1", {"crime_asb": "asb"})
    asb = [
        {"record_id": "B1", "person_id": PARENT, "intervention_date": date(2025, 12, 1)},
        {"record_id": "B2", "person_id": "P3", "intervention_date": date(2026, 6, 1)},
    ]
    extracts = {"asb": pl.DataFrame([{k: v for k, v in r.items() if k != "person_id"} for r in asb])}

    def asb_result(index: list[dict[str, Any]]) -> dict[str, Any]:
        rows = evaluate_outcomes(extracts, pl.DataFrame(index), [fam], CONFIG, date(2026, 7, 31)).to_dicts()
        (found,) = [o for o in rows if o["measure"] == "tf1_asb"]
        return found

    plain = [{"source": "asb", "record_id": r["record_id"], "person_id": r["person_id"]} for r in asb]
    assert asb_result(plain)["met"] is True
    home = [{**r, "household_id": "H1"} for r in plain] + [
        {"source": "benefits", "record_id": "D1", "person_id": CHILD, "household_id": "H1"}
    ]
    joined = asb_result(home)
    assert (joined["met"], joined["value"]) == (False, "1->1")
    assert json.loads(joined["evidence"])["recent"] == ["B2"]
    elsewhere = [{**r, "household_id": "H9" if r["person_id"] == "P3" else "H1"} for r in home]
    assert asb_result(elsewhere)["met"] is True
