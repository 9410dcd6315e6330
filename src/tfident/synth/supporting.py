"""The optional sources of contract 1.2 for the synthetic council, and the Supporting Families truth.

Generated only when asked (``generate_batch(..., supporting_families=True)``, ``tfident
synth --supporting-families``): the default batch stays the bytes it always was. The new
sources draw from their own random streams after everything else, so the version 1
extracts of a batch with them are the same bytes as without them; only
``truth/persons.csv`` gains their records, and ``truth/sf2022.csv`` is added.

Each household's chance of a need follows its tier, and for most needs a near miss is
made too (an episode closed before the window, an expected date of birth just passed, a
young person back in education): the oracle, :func:`judge_sf2022`, then judges every
true household by the ``sf2022`` pack's rules exactly as ``config/criteria/sf2022.yaml``
states them, independently of ``tfident.criteria``:

* **gate**: a member under 18 at D whom some agency's record shows, or an
  ``EXPECTANT_PARENT`` record dated on or before D with an ``expected_date`` on or after D.
* **headlines** (each met by any of its needs; 12-month window ``D - 1 year < d <= D``;
  "open in the window": start <= D and end blank or after the window's first day):
  education (a child with 10% or more of sessions missed over the last 3 complete terms,
  a permanent or three fixed exclusions in the education window, a latest census row of
  PRU/AP excluded previously or NOT_ON_ROLL), early_years (a child's review below
  expected or entitlement not taken up in the window), health (MENTAL_HEALTH or OTHER in
  the window), substance_use (SUBSTANCE_MISUSE or ALCOHOL_MISUSE in the window),
  family_relationships (an early help factor open in the window), children_safe (CIN,
  CP or LAC open in the window; a child's missing or exploitation event in the window),
  crime (a proven offence, any age, outcome in the window; an ASB intervention in the
  window; a probation record open in the window), domestic_abuse (an incident in the
  window), housing (a housing record open in the window), financial_stability (an adult
  on an out-of-work benefit at D; a latest NEET status on or before D).
* **eligible** when the gate holds and three or more headlines are met, in the area.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from tfident.households.roles import age_expr
from tfident.ingest.sources import PERSON_COLUMNS, SOURCES
from tfident.synth.dates import DAY, age_at, one_year_before
from tfident.synth.population import Rand, World
from tfident.synth.truth import last_complete_terms

SF_SOURCES: tuple[str, ...] = tuple(name for name, s in SOURCES.items() if s.added_in == "1.2")
"""The sources contract 1.2 added, in contract order."""

SF_RECORD_ID_FORMATS: dict[str, str] = {
    "housing": "HSG-{:06d}",
    "early_years": "EY{:07d}",
    "neet": "CCIS{:06d}",
    "early_help": "EH-{:06d}",
    "missing_exploitation": "MEX{:06d}",
    "probation": "PRB/{:06d}",
    "employment": "EMP{:07d}",
}
"""How each new agency spells its record ids."""

SF_STREAMS: dict[str, int] = {source: stream for stream, source in enumerate(SF_SOURCES, start=60)}
"""The random stream of each new source's rendering (the version 1 sources use 10 to 18)."""

SF_EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in SOURCES[name].columns[len(PERSON_COLUMNS) :] if c.type != "identifier")
    for name in SF_SOURCES
}
"""The event columns of each new source (its own columns but the identifier)."""

EVENTS_STREAM = 59
"""The random stream of the new sources' true events."""

HEADLINES = (
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
)
"""The ten headline outcomes, as the criterion ids of the ``sf2022`` pack."""

SF_TRUTH_FILE = "sf2022.csv"
"""``truth/sf2022.csv``: one row per true household, judged by the ``sf2022`` rules."""

SF_TRUTH_COLUMNS = (
    "true_household_id",
    "eligible_sf2022",
    "gate",
    *HEADLINES,
    "n_headlines",
    "in_area",
)
"""Columns of ``truth/sf2022.csv``: Y/N flags but ``n_headlines``."""

NEED_CHANCE = {0: 0.02, 1: 0.14, 2: 0.4}
NEAR_MISS = {0: 0.02, 1: 0.1, 2: 0.2}


class SfEvents:
    """True events of the new sources, as parallel columns with the person and the address date."""

    def __init__(self) -> None:
        self.cols: dict[str, dict[str, list[Any]]] = {
            s: {c: [] for c in ("person", "addr_date", *cols)} for s, cols in SF_EVENT_COLUMNS.items()
        }

    def add(self, source: str, person: int, addr_date: dt.date, **values: Any) -> None:
        """Record one event of ``person``; the address shown is the one at ``addr_date``."""
        cols = self.cols[source]
        cols["person"].append(person)
        cols["addr_date"].append(addr_date)
        for name in SF_EVENT_COLUMNS[source]:
            cols[name].append(values.get(name))


class _SfMaker:
    """Generates the new sources' events of one household at a time."""

    def __init__(self, world: World, seed: int) -> None:
        self.w, self.r, self.ev = world, Rand(seed, EVENTS_STREAM), SfEvents()
        self.D = world.as_of
        self.year_ago = one_year_before(self.D)
        self.age = [age_at(d, self.D) for d in world.people.dob]

    def days_ago(self, low: int, high: int) -> dt.date:
        return self.D - self.r.randint(low, high) * DAY

    def old(self) -> dt.date:
        """A day on or before the window's start (D - 1 year), up to three months earlier."""
        return self.year_ago - self.r.randint(0, 90) * DAY

    def household(self, hh: int) -> None:
        r, w, age, D = self.r, self.w, self.age, self.D
        members = w.households.members[hh]
        tier = w.households.tier[hh]
        p_need, p_near = NEED_CHANCE[tier], NEAR_MISS[tier]
        adults = [m for m in members if age[m] >= 18]
        kids = [m for m in members if age[m] < 18]
        toddlers = [m for m in kids if 2 <= age[m] <= 4]
        young = [m for m in members if 16 <= age[m] <= 24]
        teens = [m for m in kids if age[m] >= 10]
        women = [m for m in members if w.people.sex[m] == "F" and 16 <= age[m] <= 44]

        # housing: duties, temporary accommodation, arrears, possession
        if adults and r.chance(p_need):
            self.housing(r.pick(adults), open_in_window=True)
        elif adults and r.chance(p_near):
            self.housing(r.pick(adults), open_in_window=False)
        # early years
        for kid in toddlers:
            if r.chance(p_need):
                kind = r.pick(("TWO_YEAR_REVIEW_BELOW_EXPECTED", "ENTITLEMENT_NOT_TAKEN_UP"))
                self.early_years(kid, kind, self.days_ago(0, 360))
            elif r.chance(p_near):
                self.early_years(kid, "TWO_YEAR_REVIEW_BELOW_EXPECTED", self.old())
        # expectant parents: more often in families with no child yet
        for woman in women:
            if r.chance(0.03 + (0.12 if not kids and tier > 0 else 0.0)):
                recorded = self.days_ago(0, 200)
                how = r.weighted((("due", 0.8), ("born", 0.12), ("due_today", 0.04), ("no_date", 0.04)))
                expected: dt.date | None = {
                    "due": D + r.randint(1, 220) * DAY,
                    "born": D - r.randint(1, 40) * DAY,
                    "due_today": D,
                    "no_date": None,
                }[how]
                self.ev.add(
                    "early_years",
                    woman,
                    recorded,
                    indicator="EXPECTANT_PARENT",
                    recorded_date=recorded,
                    expected_date=expected,
                )
        # NEET young people (CCIS): the latest status counts
        for person in young:
            if r.chance(p_need):
                self.neet(person, ["EET", "NEET"] if r.chance(0.4) else ["NEET"])
            elif r.chance(p_near):
                self.neet(person, ["NEET", "EET"])
        # early help assessments with their factors
        if kids and r.chance(p_need):
            self.early_help(hh, members, open_in_window=True)
        elif kids and r.chance(p_near):
            self.early_help(hh, members, open_in_window=False)
        # missing episodes and exploitation
        if teens and r.chance(p_need * 0.6):
            kid = r.pick(teens)
            start = self.days_ago(0, 360)
            kind = r.pick(("MISSING_EPISODE", "CSE_RISK", "CCE_RISK", "NRM_REFERRAL"))
            end = min(start + r.randint(1, 5) * DAY, D) if kind == "MISSING_EPISODE" else None
            self.ev.add("missing_exploitation", kid, start, event_type=kind, start_date=start, end_date=end)
        elif teens and r.chance(p_near):
            kid = r.pick(teens)
            start = self.old()
            self.ev.add("missing_exploitation", kid, start, event_type="MISSING_EPISODE", start_date=start)
        # probation
        if adults and r.chance(p_need * 0.6):
            self.probation(r.pick(adults), open_in_window=True)
        elif adults and r.chance(p_near):
            self.probation(r.pick(adults), open_in_window=False)
        # employment spells (for outcomes later: never a need)
        for adult in adults:
            if age[adult] <= 65 and r.chance(0.35 if tier == 0 else 0.2):
                start = self.days_ago(30, 3000)
                end = None if r.chance(0.7) else min(start + r.randint(30, 900) * DAY, D)
                self.ev.add(
                    "employment",
                    adult,
                    min(end or D, D),
                    employment_type=r.weighted((("EMPLOYED", 0.85), ("SELF_EMPLOYED", 0.15))),
                    start_date=start,
                    end_date=end,
                    hours_per_week=r.pick((8, 16, 20, 30, 37, 40)),
                )

    def housing(self, person: int, open_in_window: bool) -> None:
        r, D = self.r, self.D
        kind = r.pick(
            (
                "PREVENTION_DUTY",
                "RELIEF_DUTY",
                "MAIN_DUTY",
                "TEMPORARY_ACCOMMODATION",
                "RENT_ARREARS",
                "NOTICE_SEEKING_POSSESSION",
                "POSSESSION_ORDER",
                "EVICTION",
            )
        )
        if open_in_window:
            start = self.days_ago(0, 500)
            end = None if r.chance(0.6) or start > self.year_ago else self.days_ago(0, (D - self.year_ago).days - 1)
            if end is not None and end < start:
                end = None
        else:
            end = self.old()
            start = end - r.randint(10, 300) * DAY
        amount = r.randint(150, 4000) if kind == "RENT_ARREARS" else None
        self.ev.add("housing", person, min(end or D, D), event_type=kind, start_date=start, end_date=end, amount=amount)

    def early_years(self, kid: int, kind: str, day: dt.date) -> None:
        day = max(day, self.w.people.dob[kid])
        self.ev.add("early_years", kid, day, indicator=kind, recorded_date=day)

    def neet(self, person: int, statuses: list[str]) -> None:
        day = self.days_ago(200, 400)
        for status in statuses:
            self.ev.add("neet", person, day, status=status, status_date=day)
            day = min(day + self.r.randint(20, 150) * DAY, self.D)

    def early_help(self, hh: int, members: list[int], open_in_window: bool) -> None:
        r, D = self.r, self.D
        episode = f"EHE-{self.w.households.hid[hh]}"
        if open_in_window:
            assessed = self.days_ago(0, 500)
            closed = None if r.chance(0.6) or assessed > self.year_ago else self.days_ago(0, 300)
            if closed is not None and closed < assessed:
                closed = None
        else:
            closed = self.old()
            assessed = closed - r.randint(30, 300) * DAY
        plan = min(assessed + r.randint(7, 42) * DAY, closed or D, D)
        parent = next((m for m in members if self.age[m] >= 18), members[0])
        factors = ["PARENTAL_CONFLICT", "CHILD_TO_PARENT_ABUSE", "PARENTING", "FAMILY_BREAKDOWN_RISK", "OTHER"]
        for factor in sorted(set(r.pick(factors) for _ in range(r.randint(1, 3)))):
            self.ev.add(
                "early_help",
                parent,
                min(closed or D, D),
                episode_id=episode,
                factor=factor,
                lead_practitioner=f"Family worker {r.randint(1, 40)}",
                lead_agency=r.pick(("Early Help Service", "School", "Health Visiting", "Housing")),
                assessment_date=assessed,
                plan_date=plan,
                closure_date=closed,
            )

    def probation(self, person: int, open_in_window: bool) -> None:
        r, D = self.r, self.D
        kind = r.pick(("CONVICTION", "COMMUNITY_ORDER", "SUSPENDED_SENTENCE", "CUSTODY", "LICENCE"))
        if open_in_window:
            start = self.days_ago(0, 700)
            end = start + r.randint(120, 900) * DAY
            if end <= self.year_ago:
                end = D + r.randint(1, 200) * DAY
        else:
            end = self.old()
            start = end - r.randint(120, 700) * DAY
        release = start + r.randint(60, 400) * DAY if kind == "CUSTODY" else None
        self.ev.add(
            "probation",
            person,
            min(end, D),
            event_type=kind,
            start_date=start,
            end_date=end,
            release_date=release,
        )


def build_sf_events(world: World, seed: int) -> SfEvents:
    """Generate the true events of the new sources for every household of ``world``."""
    maker = _SfMaker(world, seed)
    for hh in range(len(world.households.hid)):
        maker.household(hh)
    return maker.ev


# --------------------------------------------------------------------------- the oracle


def judge_sf2022(
    events: Mapping[str, pl.DataFrame],
    people: pl.DataFrame,
    households: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """Judge every household by the ``sf2022`` rules; returns the columns of :data:`SF_TRUTH_COLUMNS`.

    ``events[source]`` holds the true events of a source with a ``true_person_id``
    column (every source's event columns; a missing source counts as empty);
    ``people`` has ``true_person_id, true_household_id, date_of_birth``; ``households``
    has ``true_household_id`` and ``in_area`` (Boolean).
    """
    D = pl.lit(as_of, dtype=pl.Date)
    year_ago = one_year_before(as_of)
    first_day = year_ago + DAY
    people = people.select("true_person_id", "true_household_id", "date_of_birth").with_columns(
        age_expr(pl.col("date_of_birth"), D).alias("age")
    )
    child = (pl.col("age") < 18).fill_null(False)
    adult = (pl.col("age") >= 18).fill_null(False)

    def rows(source: str) -> pl.DataFrame:
        frame = events.get(source)
        if frame is None:
            return pl.DataFrame(
                schema={"true_person_id": pl.String, **{c.name: c.polars_type for c in SOURCES[source].columns}}
            )
        return frame.join(people, on="true_person_id", how="inner")

    def where(source: str, condition: pl.Expr) -> set[str]:
        return set(rows(source).filter(condition.fill_null(False))["true_household_id"].to_list())

    def in_window(column: str) -> pl.Expr:
        return (pl.col(column) > year_ago) & (pl.col(column) <= as_of)

    def open_in_window(start: str, end: str) -> pl.Expr:
        return (pl.col(start) <= as_of) & (pl.col(end).is_null() | (pl.col(end) >= first_day))

    def coded(column: str, *codes: str) -> pl.Expr:
        return pl.col(column).is_in(list(codes))

    def latest(source: str, date: str) -> pl.DataFrame:
        frame = rows(source).filter(pl.col(date) <= as_of)
        return frame.filter(pl.col(date) == pl.col(date).max().over("true_person_id"))

    met: dict[str, set[str]] = {}
    # education
    education: set[str] = set()
    census = latest("school_census", "census_date").filter(
        child
        & (
            (coded("provision", "PRU", "AP") & (pl.col("excluded_previously") == "Y"))
            | (pl.col("provision") == "NOT_ON_ROLL")
        ).fill_null(False)
    )
    education |= set(census["true_household_id"].to_list())
    attendance = rows("attendance")
    terms = last_complete_terms(attendance.select("term", "term_start", "term_end"), as_of)
    if terms.height:
        start = terms["term_start"].min()
        exclusions = rows("exclusions").filter(child & (pl.col("start_date") >= start) & (pl.col("start_date") <= D))
        counted = exclusions.group_by("true_person_id", "true_household_id").agg(
            (pl.col("exclusion_type") == "PERMANENT").sum().alias("permanent"),
            (pl.col("exclusion_type") == "FIXED").sum().alias("fixed"),
        )
        education |= set(counted.filter((pl.col("permanent") >= 1) | (pl.col("fixed") >= 3))["true_household_id"])
        absence = (
            attendance.filter(child & pl.col("term").is_in(terms["term"].implode()))
            .group_by("true_person_id", "true_household_id")
            .agg(
                pl.col("sessions_possible").sum(),
                (pl.col("sessions_authorised").fill_null(0) + pl.col("sessions_unauthorised").fill_null(0))
                .sum()
                .alias("missed"),
            )
        )
        education |= set(
            absence.filter((pl.col("sessions_possible") > 0) & (pl.col("missed") * 10 >= pl.col("sessions_possible")))[
                "true_household_id"
            ]
        )
    met["education"] = education
    met["early_years"] = where(
        "early_years",
        child
        & coded("indicator", "TWO_YEAR_REVIEW_BELOW_EXPECTED", "ENTITLEMENT_NOT_TAKEN_UP")
        & in_window("recorded_date"),
    )
    met["health"] = where("health", coded("indicator", "MENTAL_HEALTH", "OTHER") & in_window("recorded_date"))
    met["substance_use"] = where(
        "health", coded("indicator", "SUBSTANCE_MISUSE", "ALCOHOL_MISUSE") & in_window("recorded_date")
    )
    met["family_relationships"] = where(
        "early_help",
        coded("factor", "PARENTAL_CONFLICT", "CHILD_TO_PARENT_ABUSE", "PARENTING", "FAMILY_BREAKDOWN_RISK")
        & open_in_window("assessment_date", "closure_date"),
    )
    met["children_safe"] = where(
        "social_care", coded("category", "CIN", "CP", "LAC") & open_in_window("start_date", "end_date")
    ) | where("missing_exploitation", child & in_window("start_date"))
    met["crime"] = (
        where("youth_offending", (pl.col("proven") == "Y") & in_window("outcome_date"))
        | where("asb", (pl.col("intervention_type") != "INCIDENT") & in_window("intervention_date"))
        | where("probation", open_in_window("start_date", "end_date"))
    )
    met["domestic_abuse"] = where("domestic_abuse", in_window("incident_date"))
    met["housing"] = where("housing", open_in_window("start_date", "end_date"))
    out_of_work = coded("benefit_type", "JSA", "ESA", "IS", "IB", "SDA", "CA") | (
        (pl.col("benefit_type") == "UC")
        & coded(
            "uc_conditionality", "SEARCHING_FOR_WORK", "PLANNING_FOR_WORK", "PREPARING_FOR_WORK", "NO_WORK_REQUIREMENTS"
        )
    )
    neet = latest("neet", "status_date").filter(pl.col("status") == "NEET")
    met["financial_stability"] = where(
        "benefits",
        adult
        & out_of_work
        & (pl.col("claim_start") <= D)
        & (pl.col("claim_end").is_null() | (pl.col("claim_end") >= D)),
    ) | set(neet["true_household_id"].to_list())

    # a child no agency holds a record of is unknown to any run: only children with a record count
    known = {pid for frame in events.values() for pid in frame["true_person_id"].to_list()}
    with_child = set(people.filter(child & pl.col("true_person_id").is_in(sorted(known)))["true_household_id"])
    expectant = where(
        "early_years",
        (pl.col("indicator") == "EXPECTANT_PARENT") & (pl.col("recorded_date") <= D) & (pl.col("expected_date") >= D),
    )
    gate = with_child | expectant

    hid = pl.col("true_household_id")
    judged = households.select("true_household_id", "in_area").with_columns(
        hid.is_in(sorted(gate)).alias("gate"), *(hid.is_in(sorted(met[h])).alias(h) for h in HEADLINES)
    )
    judged = judged.with_columns(
        pl.sum_horizontal([pl.col(h).cast(pl.Int64) for h in HEADLINES]).alias("n_headlines")
    ).with_columns((pl.col("in_area") & pl.col("gate") & (pl.col("n_headlines") >= 3)).alias("eligible_sf2022"))

    def yn(column: str) -> pl.Expr:
        return pl.when(pl.col(column)).then(pl.lit("Y")).otherwise(pl.lit("N")).alias(column)

    return (
        judged.with_columns(yn("eligible_sf2022"), yn("gate"), yn("in_area"), *(yn(h) for h in HEADLINES))
        .select(SF_TRUTH_COLUMNS)
        .sort("true_household_id")
    )
