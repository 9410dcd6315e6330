"""Outcome observations: for each attached family and each need it had at entry, is the need met now?

:func:`evaluate_outcomes` is a pure function of the batch's extracts, the run's record
index (which person each record belongs to), the attached families (frozen at
attachment, see ``tfident.store.attachments``) and ``config/outcomes.yaml``. Families are
followed by their frozen members' person ids, which :mod:`tfident.identity` keeps stable
from month to month, not by address. The rules themselves are in
:mod:`tfident.outcomes.rules`; which apply depends on the pack the family was attached
under:

* ``phase1``: TF1 results for the needs at entry (``education``: every child;
  ``crime_asb``: offending by minors and ASB against the six months before attachment)
  and continuous employment for every family (the alternative route). Offending and ASB
  are counted "across the family": the frozen members and, when the record index has
  ``household_id``, the people this run places in the household where most of them now
  live (:func:`joiners`: a member whom no record showed at attachment, or whom that run
  placed elsewhere); their records are named in the evidence like any other.
* ``phase2``: the Family Outcomes Plan measure of every need at entry, held over the last
  ``sustain_months`` months, and continuous employment.
* ``sf2022``: every need's measure over the six months after closure, observed only once
  those six months have passed (before: ``not_yet_sustained``).

One row per (attachment, need, measure), sorted; ``evidence`` is canonical JSON (sorted
keys) naming the window, the sources looked in and the records that count against (or,
for attendance, the sessions).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from tfident.ingest.identifiers import normalise_nino
from tfident.outcomes.plan import Measure, OutcomesConfig, SustainedPlan
from tfident.outcomes.rules import (
    ACHIEVED,
    INSUFFICIENT_DATA,
    NOT_ACHIEVED,
    NOT_APPLICABLE,
    NOT_YET_SUSTAINED,
    ChildEducation,
    add_months,
    continuous_employment,
    in_window,
    overlaps,
    reduced_by,
    tf1_child_education,
)

OBSERVATIONS_SCHEMA: dict[str, pl.DataType] = {
    "attachment_id": pl.Int64(),
    "need": pl.String(),
    "measure": pl.String(),
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "value": pl.String(),
    "met": pl.Boolean(),
    "reason": pl.String(),
    "evidence": pl.String(),
}
"""Columns of an outcome observation (the ``outcome_observations`` table less ``run_id``)."""

EVENT_COLUMNS: dict[str, tuple[str, str | None]] = {
    "school_census": ("census_date", None),
    "attendance": ("term_start", "term_end"),
    "exclusions": ("start_date", None),
    "youth_offending": ("offence_date", None),
    "asb": ("intervention_date", None),
    "benefits": ("claim_start", "claim_end"),
    "social_care": ("start_date", "end_date"),
    "domestic_abuse": ("incident_date", None),
    "health": ("recorded_date", "end_date"),
    "housing": ("start_date", "end_date"),
    "early_years": ("recorded_date", None),
    "neet": ("status_date", None),
    "early_help": ("assessment_date", "closure_date"),
    "missing_exploitation": ("start_date", "end_date"),
    "probation": ("start_date", "end_date"),
    "employment": ("start_date", "end_date"),
}
"""Each source's event date and, for episodes, the column that ends them."""

OUT_OF_WORK_BENEFITS: tuple[str, ...] = ("JSA", "ESA", "IS", "IB", "SDA", "CA", "UC")
"""Out-of-work benefits (``UC`` only under the out-of-work regimes of ``tf1.uc_out_of_work_regimes``)."""
CONTINUOUS_EMPLOYMENT = "continuous_employment"


@dataclass(frozen=True)
class Member:
    """A member of a family as frozen at attachment."""

    person_id: str
    role: str | None
    date_of_birth: date | None


@dataclass(frozen=True)
class EntryNeed:
    """A need the family had at entry: the criterion (headline or problem), its rule and record."""

    need: str
    rule_id: str
    person_id: str | None
    source: str | None
    record_id: str | None


@dataclass(frozen=True)
class AttachedFamily:
    """An attachment as the outcome rules need it."""

    attachment_id: int
    ruleset_id: str
    attached_on: date
    closed_on: date | None
    members: tuple[Member, ...]
    needs: tuple[EntryNeed, ...]

    def need_ids(self) -> list[str]:
        """The distinct needs at entry (not the gate), sorted."""
        return sorted({n.need for n in self.needs if n.need != "gate"})

    def sources_of(self, need: str) -> tuple[str, ...]:
        """The sources of a need's entry evidence."""
        return tuple(sorted({n.source for n in self.needs if n.need == need and n.source}))


Rows = dict[str, list[dict[str, Any]]]


def family_records(extracts: Mapping[str, pl.DataFrame], record_index: pl.DataFrame, person_ids: set[str]) -> Rows:
    """The rows of every source that belong to ``person_ids`` in this run, with their ``person_id``."""
    index = record_index.filter(pl.col("person_id").is_in(sorted(person_ids))).select(
        "source", "record_id", "person_id"
    )
    out: Rows = {}
    for source, frame in extracts.items():
        if source not in EVENT_COLUMNS or "record_id" not in frame.columns:
            continue
        mine = index.filter(pl.col("source") == source).drop("source")
        if mine.height:
            out[source] = frame.join(mine, on="record_id", how="inner").sort("record_id").to_dicts()
    return out


def _age(dob: date | None, on: date) -> int | None:
    if dob is None:
        return None
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _children(family: AttachedFamily, on: date) -> list[Member]:
    return [m for m in family.members if m.role == "child" or ((a := _age(m.date_of_birth, on)) is not None and a < 18)]


def _adults(family: AttachedFamily, on: date) -> list[Member]:
    children = {m.person_id for m in _children(family, on)}
    return [m for m in family.members if m.person_id not in children]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _row(
    family: AttachedFamily,
    need: str,
    measure: str,
    window: tuple[date, date] | None,
    value: str | None,
    met: bool | None,
    reason: str,
    evidence: dict[str, Any],
) -> dict[str, Any]:
    return {
        "attachment_id": family.attachment_id,
        "need": need,
        "measure": measure,
        "period_start": window[0] if window else None,
        "period_end": window[1] if window else None,
        "value": value,
        "met": met,
        "reason": reason,
        "evidence": _json(evidence),
    }


def _verdict(met: bool | None, missing: str = NOT_APPLICABLE) -> str:
    return missing if met is None else (ACHIEVED if met else NOT_ACHIEVED)


def _complete_terms(attendance: pl.DataFrame | None, as_of: date, count: int) -> list[tuple[str, date, date]]:
    """The ``count`` latest terms of the whole extract that ended by ``as_of`` (label, first day, last day)."""
    if attendance is None or attendance.is_empty():
        return []
    terms = (
        attendance.group_by("term")
        .agg(pl.col("term_start").min(), pl.col("term_end").max())
        .filter(pl.col("term_end") <= as_of)
        .sort(["term_end", "term_start", "term"], descending=True)
        .head(count)
    )
    return [(r["term"], r["term_start"], r["term_end"]) for r in terms.to_dicts()]


def _tf1_education(
    family: AttachedFamily, rows: Rows, attendance: pl.DataFrame | None, rules: Any, as_of: date
) -> dict[str, Any]:
    terms = _complete_terms(attendance, as_of, rules.terms)
    labels = {t[0] for t in terms}
    window = (date.fromordinal(min(t[1] for t in terms).toordinal() - 1), as_of) if terms else None
    children: list[dict[str, Any]] = []
    results: list[bool] = []
    for child in sorted(_children(family, as_of), key=lambda m: m.person_id):
        att = [r for r in rows.get("attendance", []) if r["person_id"] == child.person_id and r["term"] in labels]
        exc = [
            r
            for r in rows.get("exclusions", [])
            if r["person_id"] == child.person_id
            and r.get("exclusion_type") == "FIXED"
            and window is not None
            and in_window(r["start_date"], *window)
        ]
        education = ChildEducation(
            child.person_id,
            sum(int(r["sessions_possible"] or 0) for r in att),
            sum(int(r["sessions_unauthorised"] or 0) for r in att),
            len(exc),
        )
        result = tf1_child_education(education, rules.max_fixed_exclusions, rules.absence_percent)
        if result is not None:
            results.append(result)
        children.append(
            {
                "person_id": child.person_id,
                "sessions_possible": education.possible,
                "sessions_unauthorised": education.unauthorised,
                "fixed_exclusions": education.fixed_exclusions,
                "met": result,
                "records": sorted(
                    [("attendance", r["record_id"]) for r in att] + [("exclusions", r["record_id"]) for r in exc]
                ),
            }
        )
    met = all(results) if results else None
    value = f"{sum(results)}/{len(results)} children"
    reason = _verdict(met, INSUFFICIENT_DATA)
    evidence = {"terms": sorted(labels), "children": children}
    return _row(family, "education", "tf1_education", window, value, met, reason, evidence)


def _count_in(rows: list[dict[str, Any]], column: str, window: tuple[date, date]) -> list[dict[str, Any]]:
    return [r for r in rows if in_window(r[column], *window)]


def _tf1_crime(family: AttachedFamily, rows: Rows, rules: Any, as_of: date) -> list[dict[str, Any]]:
    before = (add_months(family.attached_on, -rules.window_months), family.attached_on)
    after = (add_months(as_of, -rules.window_months), as_of)
    dob = {m.person_id: m.date_of_birth for m in family.members}
    minors = [
        r
        for r in rows.get("youth_offending", [])
        if r.get("proven") == "Y"
        and (a := _age(dob.get(r["person_id"]) or r.get("date_of_birth"), r["offence_date"])) is not None
        and a < 18
    ]
    out = []
    for measure, records, column, percent in (
        ("tf1_offending_minors", minors, "offence_date", rules.offending_reduction_percent),
        ("tf1_asb", rows.get("asb", []), "intervention_date", rules.asb_reduction_percent),
    ):
        base, now = _count_in(records, column, before), _count_in(records, column, after)
        met = reduced_by(len(base), len(now), percent)
        evidence = {
            "baseline_window": [before[0], before[1]],
            "baseline": sorted(r["record_id"] for r in base),
            "recent": sorted(r["record_id"] for r in now),
            "reduction_required_percent": percent,
        }
        out.append(_row(family, "crime_asb", measure, after, f"{len(base)}->{len(now)}", met, _verdict(met), evidence))
    return out


def _live_on(start: date | None, end: date | None, day: date) -> bool:
    """A claim live on ``day``: ``start <= day`` and ``end`` blank or ``>= day`` (domain.md)."""
    return start is not None and start <= day and (end is None or end >= day)


def _out_of_work(row: Mapping[str, Any], rules: Any) -> bool:
    """Whether a benefit claim is an out-of-work benefit (domain.md's **work**)."""
    kind = row.get("benefit_type")
    if kind == "UC":
        return row.get("uc_conditionality") in rules.uc_out_of_work_regimes
    return kind in OUT_OF_WORK_BENEFITS


NINO_SOURCES: tuple[str, ...] = ("benefits", "employment")
"""Sources whose rows carry the claimant's or employee's National Insurance number."""


def _nino(row: Mapping[str, Any]) -> str | None:
    """The row's National Insurance number, normalised as ingest does; None when blank or invalid
    (an invalid number is no identifier: it ties no claim to anyone).
    """
    value = row.get("nino")
    return normalise_nino(str(value)) if value is not None else None


def _employment(family: AttachedFamily, rows: Rows, rules: Any, as_of: date) -> dict[str, Any]:
    """An adult who was on an out-of-work benefit at attachment and has since been in continuous employment
    for the weeks the benefit they came off requires (``tf1.employment_weeks``, or longer by benefit).

    An adult's claims and spells are their person's rows and any row of the family's records with one
    of their National Insurance numbers: DWP keys benefits by NINO, so a claim the linkage left in
    another person of the family (a name keyed differently) is still theirs, and the weeks required
    follow every benefit they were on. Two people of the family with one NINO are judged once.
    """
    found: list[tuple[str, date, date, int]] = []
    judged: set[str] = set()
    for adult in sorted(_adults(family, as_of), key=lambda m: m.person_id):
        ninos = {
            nino
            for source in NINO_SOURCES
            for r in rows.get(source, [])
            if r["person_id"] == adult.person_id and (nino := _nino(r))
        }
        if ninos & judged:
            continue  # the same claimant as an adult already judged (the linkage split them)
        judged |= ninos

        def theirs(r: Mapping[str, Any], person: str = adult.person_id, ninos: set[str] = ninos) -> bool:
            return r["person_id"] == person or _nino(r) in ninos

        spells = [(r["start_date"], r["end_date"]) for r in rows.get("employment", []) if theirs(r)]
        out_of_work = [r for r in rows.get("benefits", []) if theirs(r) and _out_of_work(r, rules)]
        at_attachment = [r for r in out_of_work if _live_on(r["claim_start"], r["claim_end"], family.attached_on)]
        if not at_attachment:  # nobody moved off an out-of-work benefit
            continue
        weeks = max(
            rules.employment_weeks_by_benefit.get(r["benefit_type"], rules.employment_weeks) for r in at_attachment
        )
        claims = [(r["claim_start"], r["claim_end"]) for r in out_of_work]
        hit = continuous_employment(spells, claims, family.attached_on, as_of, weeks)
        if hit is not None:
            found.append((adult.person_id, *hit, weeks))
    met = bool(found)
    evidence = {
        "weeks": rules.employment_weeks,
        "weeks_by_benefit": dict(sorted(rules.employment_weeks_by_benefit.items())),
        "spells": [{"person_id": p, "start": s, "continuous_from": c, "weeks": w} for p, s, c, w in found],
    }
    window = (family.attached_on, as_of)
    return _row(
        family, CONTINUOUS_EMPLOYMENT, CONTINUOUS_EMPLOYMENT, window, str(len(found)), met, _verdict(met), evidence
    )


def _measure(
    family: AttachedFamily,
    need: str,
    measure: Measure,
    rows: Rows,
    extracts: Mapping[str, pl.DataFrame],
    window: tuple[date, date],
) -> dict[str, Any]:
    if measure.measure == "attendance_at_least":
        percent = measure.percent if measure.percent is not None else 90
        children = {m.person_id for m in _children(family, window[1])}
        att = [
            r
            for r in rows.get("attendance", [])
            if r["person_id"] in children and r["term_start"] > window[0] and r["term_end"] <= window[1]
        ]
        possible = sum(int(r["sessions_possible"] or 0) for r in att)
        missed = sum(int(r["sessions_authorised"] or 0) + int(r["sessions_unauthorised"] or 0) for r in att)
        met = None if possible == 0 else (possible - missed) * 100 >= percent * possible
        evidence = {
            "percent": percent,
            "sessions_possible": possible,
            "sessions_missed": missed,
            "records": sorted(r["record_id"] for r in att),
        }
        return _row(
            family,
            need,
            f"attendance_at_least_{percent}",
            window,
            f"{possible - missed}/{possible}",
            met,
            _verdict(met, INSUFFICIENT_DATA),
            evidence,
        )
    sources = measure.sources or family.sources_of(need)
    against: list[tuple[str, str, Any]] = []
    for source in sorted(sources):
        start, end = EVENT_COLUMNS.get(source, ("", None))
        for r in rows.get(source, []):
            if overlaps(r.get(start), r.get(end) if end else r.get(start), *window):
                against.append((source, r["record_id"], r.get(start)))
    met = not against if sources else None
    evidence = {"sources": sorted(sources), "records": sorted(against)}
    return _row(family, need, "no_event", window, str(len(against)), met, _verdict(met, INSUFFICIENT_DATA), evidence)


def _sustained(
    family: AttachedFamily,
    plan: SustainedPlan,
    rows: Rows,
    extracts: Mapping[str, pl.DataFrame],
    as_of: date,
    after_closure: bool,
) -> list[dict[str, Any]]:
    out = []
    for need in family.need_ids():
        measure = plan.measure_for(need)
        if after_closure:
            if family.closed_on is None or as_of < add_months(family.closed_on, plan.sustain_months):
                closed = family.closed_on
                evidence = {"closed_on": closed, "sustain_months": plan.sustain_months}
                window = (closed, add_months(closed, plan.sustain_months)) if closed else None
                out.append(_row(family, need, measure.measure, window, None, None, NOT_YET_SUSTAINED, evidence))
                continue
            window = (family.closed_on, add_months(family.closed_on, plan.sustain_months))
        else:
            window = (add_months(as_of, -plan.sustain_months), as_of)
        out.append(_measure(family, need, measure, rows, extracts, window))
    return out


FAMILY_WIDE_SOURCES: tuple[str, ...] = ("youth_offending", "asb")
"""Sources the TF1 crime and ASB results count across the family as it lives now (frozen members and joiners)."""


def joiners(record_index: pl.DataFrame, families: list[AttachedFamily]) -> dict[int, set[str]]:
    """People the run places in the household where most of a family's frozen members now live, who were not
    frozen at attachment (a member no agency record showed then, or one placed elsewhere then), by attachment.

    Needs ``household_id`` in ``record_index`` (else none). Ties between households: the smallest id.
    """
    if "household_id" not in record_index.columns or not families:
        return {}
    homes = record_index.select("person_id", "household_id").drop_nulls().unique()
    home_of = dict(zip(homes["person_id"], homes["household_id"], strict=True))
    residents: dict[str, set[str]] = defaultdict(set)
    for person, household in home_of.items():
        residents[household].add(person)
    out: dict[int, set[str]] = {}
    for family in families:
        frozen = {m.person_id for m in family.members}
        counts: dict[str, int] = defaultdict(int)
        for person in frozen:
            if person in home_of:
                counts[home_of[person]] += 1
        if counts:
            home = min(counts, key=lambda h: (-counts[h], h))
            if extra := residents[home] - frozen:
                out[family.attachment_id] = extra
    return out


def evaluate_outcomes(
    extracts: Mapping[str, pl.DataFrame],
    record_index: pl.DataFrame,
    families: list[AttachedFamily],
    config: OutcomesConfig,
    as_of: date,
) -> pl.DataFrame:
    """The outcome observations of every attached family at ``as_of`` (see the module docstring)."""
    joined = joiners(record_index, [f for f in families if f.ruleset_id == "phase1"])
    people = {m.person_id for f in families for m in f.members} | {p for extra in joined.values() for p in extra}
    rows_all = family_records(extracts, record_index, people) if families else {}
    by_person: dict[str, Rows] = defaultdict(lambda: defaultdict(list))
    for source, source_rows in rows_all.items():
        for r in source_rows:
            by_person[r["person_id"]][source].append(r)
    out: list[dict[str, Any]] = []
    for family in sorted(families, key=lambda f: f.attachment_id):
        if family.attached_on > as_of:
            continue
        rows: Rows = defaultdict(list)
        for m in family.members:
            for source, person_rows in by_person.get(m.person_id, {}).items():
                rows[source].extend(person_rows)
        for person in sorted(joined.get(family.attachment_id, ())):
            for source in FAMILY_WIDE_SOURCES:
                rows[source].extend(by_person.get(person, {}).get(source, []))
        needs = family.need_ids()
        if family.ruleset_id == "phase1":
            if "education" in needs:
                out.append(_tf1_education(family, rows, extracts.get("attendance"), config.tf1, as_of))
            if "crime_asb" in needs:
                out.extend(_tf1_crime(family, rows, config.tf1, as_of))
            out.append(_employment(family, rows, config.tf1, as_of))
        elif family.ruleset_id == "phase2":
            out.extend(_sustained(family, config.family_outcomes_plan, rows, extracts, as_of, after_closure=False))
            out.append(_employment(family, rows, config.tf1, as_of))
        else:
            out.extend(_sustained(family, config.sf2022, rows, extracts, as_of, after_closure=True))
    frame = (
        pl.DataFrame(out, schema=OBSERVATIONS_SCHEMA, orient="row") if out else pl.DataFrame(schema=OBSERVATIONS_SCHEMA)
    )
    return frame.sort(["attachment_id", "need", "measure"])


ROUTES: dict[str, tuple[str, ...]] = {
    "phase1": ("tf1_results", "tf1_ce"),
    "phase2": ("tf2_ssp", "tf2_ce"),
    "sf2022": ("sf_outcome",),
}
"""Claim routes of each pack, the results route first (a family claims one of them per period)."""


def claim_route(ruleset_id: str, observations: list[dict[str, Any]]) -> str | None:
    """The route a family can claim by, from its observations of one run, or None.

    Results first: every need's applicable measures met (at least one measure applicable;
    for SF every need observed after its six months and met); else continuous employment
    (TF1, TF2).
    """
    needs = [o for o in observations if o["need"] != CONTINUOUS_EMPLOYMENT]
    employment = any(o["met"] for o in observations if o["need"] == CONTINUOUS_EMPLOYMENT)
    by_need: dict[str, list[bool | None]] = defaultdict(list)
    for o in needs:
        by_need[o["need"]].append(o["met"])
    if ruleset_id == "sf2022":
        ok = bool(by_need) and all(all(m is True for m in mets) for mets in by_need.values())
        return "sf_outcome" if ok else None
    applicable = [m for mets in by_need.values() for m in mets if m is not None]
    if ruleset_id == "phase2":
        ok = bool(by_need) and all(
            any(m is not None for m in mets) and all(m is not False for m in mets) for mets in by_need.values()
        )
    else:
        ok = bool(applicable) and all(applicable)
    results, ce = ROUTES.get(ruleset_id, (None, None))[0], ROUTES.get(ruleset_id, (None, None))[-1]
    if ok:
        return results
    return ce if employment and ce != results else None
