"""The oracle: judges every true household by the Phase 1 rules of ``docs/domain.md``.

It is written independently of ``tfident.criteria`` on purpose, and works on the
error-free events with each person's true household on the batch date D (after any
move), so it says what a perfect linkage would conclude.

* **crime_asb**: a member with ``proven = Y``, ``outcome_date`` in the 12-month window
  (``D - 1 year < d <= D``) and under 18 on ``offence_date``; or a member with an ASB
  intervention other than ``INCIDENT`` in the window.
* **education**: a child member (under 18 at D) with a ``PERMANENT`` exclusion, or three
  or more ``FIXED`` ones, starting in the education window; a census record of ``PRU`` or
  ``AP`` with ``excluded_previously = Y``, or of ``NOT_ON_ROLL``; or unauthorised absence
  of 15% or more of possible sessions over the last 3 complete terms (the three most
  recent terms present in the extract with ``term_end <= D``; no judgement when the
  possible sessions sum to 0). The education window runs from the ``term_start`` of the
  earliest of those terms to D inclusive.
* **work**: an adult member (18 or over at D) with a claim live at D (``claim_start <= D``
  and ``claim_end`` blank or ``>= D``) of JSA, ESA, IS, IB, SDA, CA, or UC with a
  conditionality other than ``WORKING``.
* **local_discretion**: a member with a CIN, CP or LAC episode open at D, a domestic
  abuse incident in the window, or a health indicator recorded in the window.

A household is eligible when it meets all three national criteria (must include) or
exactly two and local discretion (may include). **Households outside the council's
area are never eligible**: their criteria are judged as for anyone else, but
``eligible_phase1`` is ``N`` and ``in_area`` is ``N``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from tfident.households.roles import age_expr
from tfident.synth.dates import one_year_before

CRITERIA = ("crime_asb", "education", "work", "local_discretion")
OUT_OF_WORK = ("JSA", "ESA", "IS", "IB", "SDA", "CA")
UC_OUT_OF_WORK = ("SEARCHING_FOR_WORK", "PLANNING_FOR_WORK", "PREPARING_FOR_WORK", "NO_WORK_REQUIREMENTS")

TRUTH_HOUSEHOLD_COLUMNS = (
    "true_household_id",
    "eligible_phase1",
    "crime_asb",
    "education",
    "work",
    "local_discretion",
    "in_area",
    "eligibility",
    "n_national",
    "n_members",
)
"""Columns of ``truth/households.csv``: the contract's, then ``in_area``, ``eligibility``
(``must_include``, ``may_include`` or blank), ``n_national`` and ``n_members``."""


def last_complete_terms(attendance: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The (up to) three most recent terms in ``attendance`` with ``term_end <= as_of``."""
    return (
        attendance.select("term", "term_start", "term_end")
        .unique()
        .filter(pl.col("term_end") <= as_of)
        .sort(["term_end", "term_start", "term"], descending=True)
        .head(3)
    )


def _households_with(frame: pl.DataFrame, people: pl.DataFrame, condition: pl.Expr) -> pl.Series:
    """Households of the people in ``frame`` with a row meeting ``condition``."""
    if frame.height == 0:
        return pl.Series("true_household_id", [], dtype=pl.String)
    joined = frame.join(people, on="true_person_id", how="inner")
    return joined.filter(condition)["true_household_id"].unique()


def _empty(columns: dict[str, type[pl.DataType]]) -> pl.DataFrame:
    return pl.DataFrame(schema={"true_person_id": pl.String, **columns})


EVENT_SCHEMAS: dict[str, dict[str, type[pl.DataType]]] = {
    "youth_offending": {"offence_date": pl.Date, "outcome_date": pl.Date, "proven": pl.String},
    "asb": {"intervention_type": pl.String, "intervention_date": pl.Date},
    "exclusions": {"exclusion_type": pl.String, "start_date": pl.Date},
    "school_census": {"provision": pl.String, "excluded_previously": pl.String},
    "attendance": {
        "term": pl.String,
        "term_start": pl.Date,
        "term_end": pl.Date,
        "sessions_possible": pl.Int64,
        "sessions_unauthorised": pl.Int64,
    },
    "benefits": {
        "benefit_type": pl.String,
        "uc_conditionality": pl.String,
        "claim_start": pl.Date,
        "claim_end": pl.Date,
    },
    "social_care": {"category": pl.String, "start_date": pl.Date, "end_date": pl.Date},
    "domestic_abuse": {"incident_date": pl.Date},
    "health": {"recorded_date": pl.Date},
}
"""The columns the oracle reads from each source (besides ``true_person_id``)."""


def judge_households(
    events: Mapping[str, pl.DataFrame],
    people: pl.DataFrame,
    households: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """Judge every household; returns the columns of :data:`TRUTH_HOUSEHOLD_COLUMNS`.

    ``events[source]`` holds the true events of a person source with a
    ``true_person_id`` column (a missing source counts as empty); ``people`` has
    ``true_person_id, true_household_id, date_of_birth`` (everyone's true household on
    ``as_of``); ``households`` has ``true_household_id`` and ``in_area`` (Boolean).
    """
    D = pl.lit(as_of, dtype=pl.Date)
    year_ago = one_year_before(as_of)

    def ev(source: str) -> pl.DataFrame:
        return events.get(source, _empty(EVENT_SCHEMAS[source]))

    def in_window(col: str) -> pl.Expr:
        return (pl.col(col) > year_ago) & (pl.col(col) <= as_of)

    people = people.select("true_person_id", "true_household_id", "date_of_birth").with_columns(
        age_expr(pl.col("date_of_birth"), D).alias("age_at_D")
    )
    child = pl.col("age_at_D") < 18
    adult = pl.col("age_at_D") >= 18

    crime = pl.concat(
        [
            _households_with(
                ev("youth_offending"),
                people,
                (pl.col("proven") == "Y")
                & in_window("outcome_date")
                & (age_expr(pl.col("date_of_birth"), pl.col("offence_date")) < 18),
            ),
            _households_with(
                ev("asb"), people, (pl.col("intervention_type") != "INCIDENT") & in_window("intervention_date")
            ),
        ]
    )

    attendance = ev("attendance")
    terms = last_complete_terms(attendance, as_of)
    education_parts = [
        _households_with(
            ev("school_census"),
            people,
            child
            & (
                (pl.col("provision").is_in(["PRU", "AP"]) & (pl.col("excluded_previously") == "Y"))
                | (pl.col("provision") == "NOT_ON_ROLL")
            ),
        )
    ]
    if terms.height:
        window_start = terms["term_start"].min()
        exclusions = ev("exclusions").filter((pl.col("start_date") >= window_start) & (pl.col("start_date") <= as_of))
        counts = exclusions.group_by("true_person_id").agg(
            (pl.col("exclusion_type") == "PERMANENT").sum().alias("permanent"),
            (pl.col("exclusion_type") == "FIXED").sum().alias("fixed"),
        )
        education_parts.append(
            _households_with(counts, people, child & ((pl.col("permanent") >= 1) | (pl.col("fixed") >= 3)))
        )
        absence = (
            attendance.filter(pl.col("term").is_in(terms["term"].implode()))
            .group_by("true_person_id")
            .agg(pl.col("sessions_possible").sum(), pl.col("sessions_unauthorised").sum())
        )
        education_parts.append(
            _households_with(
                absence,
                people,
                child
                & (pl.col("sessions_possible") > 0)
                & (pl.col("sessions_unauthorised") * 100 >= pl.col("sessions_possible") * 15),
            )
        )
    education = pl.concat(education_parts)

    work = _households_with(
        ev("benefits"),
        people,
        adult
        & (pl.col("claim_start") <= as_of)
        & (pl.col("claim_end").is_null() | (pl.col("claim_end") >= as_of))
        & (
            pl.col("benefit_type").is_in(OUT_OF_WORK)
            | ((pl.col("benefit_type") == "UC") & pl.col("uc_conditionality").is_in(UC_OUT_OF_WORK))
        ),
    )

    local = pl.concat(
        [
            _households_with(
                ev("social_care"),
                people,
                pl.col("category").is_in(["CIN", "CP", "LAC"])
                & (pl.col("start_date") <= as_of)
                & (pl.col("end_date").is_null() | (pl.col("end_date") >= as_of)),
            ),
            _households_with(ev("domestic_abuse"), people, in_window("incident_date")),
            _households_with(ev("health"), people, in_window("recorded_date")),
        ]
    )

    members = people.group_by("true_household_id").len("n_members")
    hid = pl.col("true_household_id")
    judged = (
        households.select("true_household_id", "in_area")
        .join(members, on="true_household_id", how="left", maintain_order="left")
        .with_columns(
            hid.is_in(crime.implode()).alias("crime_asb"),
            hid.is_in(education.implode()).alias("education"),
            hid.is_in(work.implode()).alias("work"),
            hid.is_in(local.implode()).alias("local_discretion"),
            pl.col("n_members").fill_null(0).cast(pl.Int64),
        )
        .with_columns(
            (
                pl.col("crime_asb").cast(pl.Int64) + pl.col("education").cast(pl.Int64) + pl.col("work").cast(pl.Int64)
            ).alias("n_national")
        )
        .with_columns(
            pl.when(~pl.col("in_area"))
            .then(pl.lit(None, dtype=pl.String))
            .when(pl.col("n_national") == 3)
            .then(pl.lit("must_include"))
            .when((pl.col("n_national") == 2) & pl.col("local_discretion"))
            .then(pl.lit("may_include"))
            .otherwise(pl.lit(None, dtype=pl.String))
            .alias("eligibility")
        )
    )

    def yn(col: str) -> pl.Expr:
        return pl.when(pl.col(col)).then(pl.lit("Y")).otherwise(pl.lit("N")).alias(col)

    return (
        judged.with_columns(pl.col("eligibility").is_not_null().alias("eligible_phase1"))
        .with_columns(yn("eligible_phase1"), *(yn(c) for c in CRITERIA), yn("in_area"))
        .select(TRUTH_HOUSEHOLD_COLUMNS)
        .sort("true_household_id")
    )
