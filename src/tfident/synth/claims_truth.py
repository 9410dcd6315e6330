"""The claims oracle: which attached synthetic families have a valid Phase 1 payment-by-results claim.

Written from ``domain.md`` (Phase 1 results) and ``supporting-families.md`` 4.3, and
deliberately independent of :mod:`tfident.outcomes` (it is what that code is scored
against). For a family attached on ``A`` and judged at the batch date ``C``:

* **education** (when the family had the education need at entry): the last three
  complete terms are the three latest terms of the attendance events with ``term_end <=
  C``; the window runs from the first day of the earliest of them up to ``C``. Each child
  of the family (under 18 on ``A``) with sessions in those terms must have fewer than 3
  ``FIXED`` exclusions starting in the window and unauthorised absence under 15 %
  (``unauthorised / possible``: 15.0 % fails, 14.9 % passes). A child with no sessions is
  not judged; with no child judged the measure does not apply.
* **offending** (crime/ASB need at entry): proven offences by members aged under 18 on
  the offence date, counted by offence date, in the six months up to ``C`` against the six
  months up to ``A`` (both windows open at the start, closed at the end): down by at
  least 33 % (exactly 33 % passes); no baseline offences, the measure does not apply.
* **ASB** (crime/ASB need): every ASB record of a member (incidents and interventions) by
  date, down by at least 60 % on the same windows.
* **results** (route ``tf1_results``) when at least one measure applies and every
  measure that applies is met. Six months are calendar months to the day (31 August
  minus six months is 28 February or the 29th in a leap year, clamped).
* **continuous employment** (route ``tf1_ce``, whatever the needs at entry): an adult of
  the family (18 or over on ``A``) who was on an out-of-work benefit on ``A`` (a claim of
  JSA, ESA, IS, IB, SDA or CA, or UC under an out-of-work conditionality regime, begun on
  or before ``A`` and not ended before it) "has moved off out-of-work benefits into
  continuous employment": an employment spell begun after ``A`` has lasted, by ``C``, 13
  weeks (91 days, its first day counted), or 26 weeks (182 days) when a claim live on
  ``A`` was JSA (``domain-research.md`` 3.1: "13 weeks for most benefits; 26 weeks
  depending on the benefit they came off (JSA)"), with no out-of-work claim live on any
  of those days. An adult on no out-of-work benefit on ``A`` is not judged; no adult
  judged: the measure does not apply.
* **route**: ``tf1_results`` when the results are met, else ``tf1_ce`` when continuous
  employment is (the domain text is an "or" and gives no order; tfident's
  ``claim_route`` takes the results first, and so does this); ``claimable`` when either.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

PERIOD = "TF1"
"""The programme whose results rules the truth follows (``claims.csv`` column ``period``)."""

ROUTE = "tf1_results"
CLAIMS_TRUTH_COLUMNS = (
    "true_household_id",
    "period",
    "attached_on",
    "needs",
    "route",
    "claimable",
    "reason",
    "education",
    "offending",
    "asb",
    "employment",
)
"""Columns of ``truth/claims.csv``."""


OUT_OF_WORK = ("JSA", "ESA", "IS", "IB", "SDA", "CA")
"""Out-of-work benefits (``domain-research.md`` 3.1 and the benefit list of section 5); Universal Credit
counts under an out-of-work conditionality regime."""
UC_OUT_OF_WORK = ("SEARCHING_FOR_WORK", "PLANNING_FOR_WORK", "PREPARING_FOR_WORK", "NO_WORK_REQUIREMENTS")
CE_ROUTE = "tf1_ce"
CE_WEEKS = 13
"""Continuous employment of most out-of-work claimants: 13 weeks (3 months)."""
CE_WEEKS_JSA = 26
"""Continuous employment of a Jobseeker's Allowance claimant: 26 weeks (6 months)."""


def out_of_work(benefit_type: str | None, conditionality: str | None) -> bool:
    """Whether a claim is an out-of-work benefit (UC only under an out-of-work regime)."""
    return benefit_type in OUT_OF_WORK or (benefit_type == "UC" and conditionality in UC_OUT_OF_WORK)


Spell = tuple[dt.date, dt.date | None]
"""``(start, end)``; ``end`` None while it goes on."""


def _open_on(spell: Spell, day: dt.date) -> bool:
    return spell[0] <= day and (spell[1] is None or spell[1] >= day)


def employment_result(
    claims: Sequence[tuple[str, Spell]], spells: Sequence[Spell], attached_on: dt.date, as_of: dt.date
) -> bool | None:
    """One adult's continuous-employment result at ``as_of``; None when they were on no out-of-work benefit
    on ``attached_on`` (nothing to move off).

    ``claims``: the adult's out-of-work claims as ``(benefit_type, (start, end))``. The adult must
    have a claim live on ``attached_on``; the weeks required are 26 when one of those was JSA,
    else 13. Met when some employment spell starting after ``attached_on`` has lasted the
    required weeks by ``as_of`` (its first day to its ``7 * weeks``-th day, both worked, on or
    before its end) and no out-of-work claim is live on any of those days.
    """
    live = [kind for kind, claim in claims if _open_on(claim, attached_on)]
    if not live:
        return None
    weeks = CE_WEEKS_JSA if "JSA" in live else CE_WEEKS
    for start, end in sorted(spells, key=lambda s: s[0]):
        if start <= attached_on:
            continue
        last = start + dt.timedelta(days=7 * weeks - 1)
        if last > as_of or (end is not None and end < last):
            continue
        if not any(c_start <= last and (c_end is None or c_end >= start) for _, (c_start, c_end) in claims):
            return True
    return False


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier, clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def absence_ok(unauthorised: int, possible: int) -> bool | None:
    """Unauthorised absence under 15 % of possible sessions; None with no sessions."""
    if possible <= 0:
        return None
    return unauthorised * 100 < 15 * possible


def reduced(before: int, after: int, percent: int) -> bool | None:
    """``after`` at least ``percent`` % below ``before``; None with no baseline."""
    if before <= 0:
        return None
    return (before - after) * 100 >= percent * before


@dataclass(frozen=True)
class Attached:
    """A family the truth says was attached: its id, day, needs at entry and members then."""

    true_household_id: str
    attached_on: dt.date
    needs: frozenset[str]
    members: tuple[tuple[str, dt.date], ...]
    """``(true_person_id, date_of_birth)`` of each member on the attachment day."""


def _age(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _yn(value: bool | None) -> str:
    return "" if value is None else ("Y" if value else "N")


def last_three_terms(attendance: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """``term, term_start, term_end`` of the three latest terms ended by ``as_of``."""
    return (
        attendance.filter(pl.col("term_end") <= as_of)
        .group_by("term")
        .agg(pl.col("term_start").min(), pl.col("term_end").max())
        .sort(["term_end", "term"], descending=True)
        .head(3)
    )


def education_result(
    family: Attached, attendance: pl.DataFrame, exclusions: pl.DataFrame, as_of: dt.date
) -> bool | None:
    """The family's education result at ``as_of`` (see the module docstring)."""
    terms = last_three_terms(attendance, as_of)
    if terms.is_empty():
        return None
    labels = terms["term"].to_list()
    start = min(terms["term_start"].to_list())
    results: list[bool] = []
    for person, dob in family.members:
        if _age(dob, family.attached_on) >= 18:
            continue
        mine = attendance.filter((pl.col("true_person_id") == person) & pl.col("term").is_in(labels))
        possible = int(mine["sessions_possible"].fill_null(0).sum())
        unauthorised = int(mine["sessions_unauthorised"].fill_null(0).sum())
        ok = absence_ok(unauthorised, possible)
        if ok is None:
            continue
        fixed = exclusions.filter(
            (pl.col("true_person_id") == person)
            & (pl.col("exclusion_type") == "FIXED")
            & pl.col("start_date").is_between(start, as_of)
        ).height
        results.append(ok and fixed < 3)
    return all(results) if results else None


def _count(frame: pl.DataFrame, column: str, start: dt.date, end: dt.date) -> int:
    """Rows with ``start < column <= end``."""
    return frame.filter((pl.col(column) > start) & (pl.col(column) <= end)).height


def crime_results(
    family: Attached, offending: pl.DataFrame, asb: pl.DataFrame, as_of: dt.date
) -> tuple[bool | None, bool | None]:
    """The offending-by-minors and ASB results at ``as_of`` (see the module docstring)."""
    dob = dict(family.members)
    people = sorted(dob)
    minors = offending.filter(
        pl.col("true_person_id").is_in(people) & (pl.col("proven") == "Y") & pl.col("offence_date").is_not_null()
    )
    minors = minors.filter(
        pl.Series([_age(dob[p], d) < 18 for p, d in zip(minors["true_person_id"], minors["offence_date"], strict=True)])
        if minors.height
        else pl.lit(value=False)
    )
    theirs = asb.filter(pl.col("true_person_id").is_in(people) & pl.col("intervention_date").is_not_null())
    base = (months_before(family.attached_on, 6), family.attached_on)
    after = (months_before(as_of, 6), as_of)
    offending_ok = reduced(_count(minors, "offence_date", *base), _count(minors, "offence_date", *after), 33)
    asb_ok = reduced(_count(theirs, "intervention_date", *base), _count(theirs, "intervention_date", *after), 60)
    return offending_ok, asb_ok


def family_employment(
    family: Attached, benefits: pl.DataFrame, employment: pl.DataFrame | None, as_of: dt.date
) -> bool | None:
    """The family's continuous-employment result: met by any adult; None when no adult is judged."""
    results: list[bool] = []
    for person, dob in family.members:
        if _age(dob, family.attached_on) < 18:
            continue
        mine = benefits.filter(pl.col("true_person_id") == person)
        claims = [
            (str(r["benefit_type"]), (r["claim_start"], r["claim_end"]))
            for r in mine.iter_rows(named=True)
            if r["claim_start"] is not None and out_of_work(r["benefit_type"], r.get("uc_conditionality"))
        ]
        spells: list[Spell] = []
        if employment is not None:
            spells = [
                (r["start_date"], r["end_date"])
                for r in employment.filter(pl.col("true_person_id") == person).iter_rows(named=True)
                if r["start_date"] is not None
            ]
        result = employment_result(claims, spells, family.attached_on, as_of)
        if result is not None:
            results.append(result)
    return any(results) if results else None


def judge_claims(
    events: Mapping[str, pl.DataFrame], families: Sequence[Attached], as_of: dt.date, period: str = PERIOD
) -> pl.DataFrame:
    """One row per family attached by ``as_of``: whether a Phase 1 results claim on ``as_of`` is valid.

    ``events[source]``: the true events with ``true_person_id`` (attendance, exclusions,
    youth_offending, asb, benefits and, when there are spells, employment).
    """
    attendance, exclusions = events["attendance"], events["exclusions"]
    benefits, employment = events["benefits"], events.get("employment")
    offending, asb = events["youth_offending"], events["asb"]
    rows = []
    for family in sorted(families, key=lambda f: f.true_household_id):
        if family.attached_on > as_of:
            continue
        people = [p for p, _ in family.members]
        education = (
            education_result(
                family,
                attendance.filter(pl.col("true_person_id").is_in(people)),
                exclusions.filter(pl.col("true_person_id").is_in(people)),
                as_of,
            )
            if "education" in family.needs
            else None
        )
        offending_ok, asb_ok = (
            crime_results(family, offending, asb, as_of) if "crime_asb" in family.needs else (None, None)
        )
        measures = {"education": education, "offending": offending_ok, "asb": asb_ok}
        applicable = {k: v for k, v in measures.items() if v is not None}
        results = bool(applicable) and all(applicable.values())
        ce = family_employment(family, benefits.filter(pl.col("true_person_id").is_in(people)), employment, as_of)
        route = ROUTE if results else (CE_ROUTE if ce else "")
        if results:
            reason = "achieved"
        elif ce:
            reason = "continuous_employment"
        elif not applicable:
            reason = "no_measure_applies"
        else:
            reason = "not_met:" + ";".join(sorted(k for k, v in applicable.items() if not v))
        rows.append(
            {
                "true_household_id": family.true_household_id,
                "period": period,
                "attached_on": family.attached_on,
                "needs": ";".join(sorted(family.needs)),
                "route": route,
                "claimable": "Y" if route else "N",
                "reason": reason,
                "education": _yn(education),
                "offending": _yn(offending_ok),
                "asb": _yn(asb_ok),
                "employment": _yn(ce),
            }
        )
    schema = {c: pl.String for c in CLAIMS_TRUTH_COLUMNS} | {"attached_on": pl.Date}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
