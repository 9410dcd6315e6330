"""Attached families followed over the months: their needs resolve or persist, with truth of valid claims.

``tfident synth --months N --outcomes SHARE`` (:func:`iter_followed_months`) runs the
months of :mod:`tfident.synth.months` with three additions:

* **attachment**: on the batch date of each of the first three months, ``SHARE`` of the
  truly Phase 1 eligible households in the area not yet attached are attached (the truth
  records the day, the needs met then and the members then). Attached families stay in
  the area (they may not churn) and get no random monthly events: their later events
  follow their plan instead.
* **plans**: for each need at entry the family draws ``resolve``, ``persist``,
  ``near_pass`` or ``near_fail``. Education: every school-age child gets a termly
  attendance return for each term that ends in a later month (every child of the area
  does, with its household's usual absence); an attached child's unauthorised absence is
  low (resolve), high (persist), or set so that over the last three complete terms on the
  final month it is the least count reaching 15 % (near_fail) or one session fewer
  (near_pass). Crime/ASB: ASB records and proven offences by the family's minors are
  placed in the six months up to the final month: none (resolve), as many as before
  attachment (persist), exactly the most a 60 % / 33 % reduction allows (near_pass) or one
  more (near_fail).
* **work** (continuous employment): in a family with the worklessness need, one adult
  with an out-of-work claim live on the attachment day draws ``stay`` (stays workless),
  ``sustain`` (a job from a day after attachment, still going on the final month, long
  enough), ``exact`` (a job that ends on the very day it has lasted the weeks required),
  ``short`` (one that ends one day short), ``late`` (one still going on that reaches the
  weeks one day after the final month) or ``overlap`` (a long job, but the benefit claim
  runs on into its first weeks). The weeks required are the oracle's: 26 when a claim
  live at attachment was JSA, else 13. The adult's live out-of-work claims end the day
  before the job starts (``overlap``: 1 to 20 days after), their rows in every later
  month's ``benefits.csv`` showing the end; the spell is an ``employment`` record
  (contract 1.2's optional source, rendered with the profile's faults like the others)
  from the month it starts, its ``end_date`` blank until the month it ends.
* **truth**: each month's ``truth/claims.csv`` (:func:`tfident.synth.claims_truth.judge_claims`)
  says, for every family attached so far, whether a Phase 1 results claim on that batch
  date is valid.

The events are rendered into later months' extracts like every other event, with the
profile's faults. The attendance return of a term in progress on the first month stays as
that month's record (sessions to date): only terms that start after the first batch date
get new returns.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

from tfident.synth.claims_truth import CE_WEEKS, CE_WEEKS_JSA, Attached, months_before, out_of_work
from tfident.synth.dates import Term, age_at, attendance_terms, census_dates
from tfident.synth.events import ASB_TOOLS, EXCLUSION_REASONS, PROVEN_ADULT, PROVEN_YOUTH, Events, _Maker
from tfident.synth.extracts import _Renderer, render_source
from tfident.synth.months import MonthState, end_benefit_claims, first_month, month_date, next_month
from tfident.synth.population import Rand
from tfident.synth.profiles import DEFAULT_PROFILE, Profile
from tfident.synth.supporting import SF_EVENT_COLUMNS, SF_RECORD_ID_FORMATS, SF_STREAMS, SfEvents

ATTACH_MONTHS = 3
"""Families are attached on the batch dates of the first this many months."""

WORK_VARIANTS = (
    ("stay", 0.3),
    ("sustain", 0.2),
    ("exact", 0.1),
    ("short", 0.15),
    ("late", 0.1),
    ("overlap", 0.15),
)
"""What becomes of the worklessness need of an attached family (see the module docstring)."""
VARIANTS = (("resolve", 0.45), ("persist", 0.25), ("near_pass", 0.15), ("near_fail", 0.15))
TIER_ABSENCE = {0: 0.02, 1: 0.05, 2: 0.09}
MONTHLY_EXCLUSION = {0: 0.002, 1: 0.01, 2: 0.03}
"""Chance that a pupil of a household of each tier has a fixed exclusion in a month of term."""
MONTHLY_OFFENCE = {0: 0.002, 1: 0.015, 2: 0.05}
"""Chance that a household of each tier has a member aged 10 to 25 charged with a proven offence in a month."""
MONTHLY_CARE = {0: 0.002, 1: 0.01, 2: 0.03}
"""Chance that a child of a household of each tier starts a social care episode in a month."""


@dataclass
class Plan:
    """One attached family: where it is, what the truth knows, and what happens next."""

    hh: int
    attached: Attached
    education: str | None
    crime: str | None
    target_child: int | None = None
    work: str | None = None
    job: tuple[int, dt.date, dt.date | None] | None = None
    """``(adult, start, end)`` of the planned employment spell (``end`` None: still going on)."""
    claims_end: tuple[tuple[int, dt.date], ...] = ()
    """``(benefits event index, new claim_end)`` of the adult's claims that end for the job."""
    scheduled: list[tuple[dt.date, str, int]] = field(default_factory=list)
    """``(day, "asb" | "offence", person)`` events to add in the month the day falls in."""


class FollowUp:
    """The attached families of one synthetic council and the events their plans add."""

    def __init__(self, seed: int, first: dt.date, months: int, share: float) -> None:
        """Follow ``share`` of the eligible families over ``months`` months from ``first``."""
        if not 0 <= share <= 1:
            raise ValueError("the attached share must be between 0 and 1")
        self.seed, self.first, self.share = seed, first, share
        self.final = month_date(first, months - 1)
        complete = [t for t in attendance_terms(self.final) if t.end <= self.final]
        self.final_terms = [t.label for t in complete[-3:]]
        self.plans: dict[int, Plan] = {}
        self.events: Events | None = None
        self.employment = SfEvents()
        """The employment spells so far (only the ``employment`` columns are used)."""
        self.employment_rows: list[pl.DataFrame] = []
        self.employment_truth: list[pl.DataFrame] = []
        self.employment_faults: list[pl.DataFrame] = []
        self.rendered = 0
        """How many of the spells have been rendered (earlier months' rows keep their ids and text)."""
        self.ended: list[tuple[int, dt.date]] = []
        """Benefit claims ended this month, not yet shown in the rendered rows."""

    @property
    def keep(self) -> frozenset[int]:
        """The attached households (they neither move nor get random monthly events)."""
        return frozenset(self.plans)

    def attached(self) -> list[Attached]:
        """The truth of every attachment so far."""
        return [p.attached for p in self.plans.values()]

    # ---------------------------------------------------------------- attachment
    def attach(self, state: MonthState, truth_households: pl.DataFrame) -> None:
        """Attach ``share`` of the eligible households not attached yet, on the month's batch date."""
        self.events = state.events
        w, r = state.world, Rand(self.seed, 5000 + state.month)
        index = {hid: i for i, hid in enumerate(w.households.hid)}
        eligible = truth_households.filter((pl.col("eligible_phase1") == "Y") & (pl.col("in_area") == "Y")).sort(
            "true_household_id"
        )
        at_school = self._pupils(state)
        for row in eligible.iter_rows(named=True):
            hh = index[row["true_household_id"]]
            if hh in self.plans or not r.chance(self.share):
                continue
            needs = frozenset(c for c in ("crime_asb", "education", "work", "local_discretion") if row[c] == "Y")
            members = tuple((w.people.pid[m], w.people.dob[m]) for m in w.households.members[hh])
            plan = Plan(
                hh,
                Attached(row["true_household_id"], w.as_of, needs, members),
                r.weighted(VARIANTS) if "education" in needs else None,
                r.weighted(VARIANTS) if "crime_asb" in needs else None,
            )
            kids = [m for m in w.households.members[hh] if age_at(w.people.dob[m], w.as_of) < 18]
            pupils = [m for m in kids if m in at_school]
            plan.target_child = r.pick(pupils or kids) if kids else None
            if plan.crime is not None:
                self._schedule_crime(plan, state, r)
            if "work" in needs:
                self._plan_work(plan, state, r)
            self.plans[hh] = plan

    def _plan_work(self, plan: Plan, state: MonthState, r: Rand) -> None:
        """Draw what becomes of the worklessness need: who gets a job, when it starts and ends."""
        w, ben = state.world, state.events.cols["benefits"]
        attached_on = plan.attached.attached_on
        live: dict[int, list[int]] = {}
        for i, (person, kind, regime, start, end) in enumerate(
            zip(
                ben["person"],
                ben["benefit_type"],
                ben["uc_conditionality"],
                ben["claim_start"],
                ben["claim_end"],
                strict=True,
            )
        ):
            if (
                person in w.households.members[plan.hh]
                and age_at(w.people.dob[person], attached_on) >= 18
                and out_of_work(kind, regime)
                and start is not None
                and start <= attached_on
                and (end is None or end >= attached_on)
            ):
                live.setdefault(person, []).append(i)
        if not live:
            return
        plan.work = r.weighted(WORK_VARIANTS)
        if plan.work == "stay":
            return
        adult = r.pick(sorted(live))
        weeks = CE_WEEKS_JSA if any(ben["benefit_type"][i] == "JSA" for i in live[adult]) else CE_WEEKS
        days = 7 * weeks
        earliest, latest = attached_on + dt.timedelta(days=1), self.final - dt.timedelta(days=days - 1)
        if plan.work == "late":
            start, end = self.final - dt.timedelta(days=days - 2), None
        else:
            start = earliest + dt.timedelta(days=r.randint(0, max((latest - earliest).days, 0)))
            end = {
                "exact": start + dt.timedelta(days=days - 1),
                "short": start + dt.timedelta(days=days - 2),
            }.get(plan.work)
        if start < earliest:  # too few months to reach the weeks: a job too recent to count
            start, end = earliest, None
        claim_end = start + dt.timedelta(days=r.randint(1, 20) if plan.work == "overlap" else -1)
        plan.job = (adult, start, end)
        plan.claims_end = tuple((i, claim_end) for i in live[adult])

    def settle(self, state: MonthState) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """After the month is made: show the claims ended this month in its ``benefits`` rows, render its new
        employment spells, and return the month's ``employment`` extract with its truth and faults.
        """
        w, k = state.world, state.month
        if self.ended:
            end_benefit_claims(state, dict(self.ended))
            self.ended = []
        cols = self.employment.cols["employment"]
        new = {name: values[self.rendered :] for name, values in cols.items()}
        if new["person"] or not self.employment_rows:
            stream = SF_STREAMS["employment"]
            frame, truth, logged = render_source(
                _Renderer(w, state.seed, state.profile),
                "employment",
                new,
                state.seed,
                stream,
                render_stream=stream + 100 * k,
                id_offset=self.rendered,
                shuffle_key=(state.seed, stream, k),
                record_id_format=SF_RECORD_ID_FORMATS["employment"],
                event_columns=SF_EVENT_COLUMNS["employment"],
            )
            self.employment_rows.append(frame)
            self.employment_truth.append(truth)
            self.employment_faults.append(logged)
            self.rendered = len(cols["person"])
        rows = pl.concat(self.employment_rows).with_columns(
            pl.when(pl.col("end_date") <= w.as_of).then(pl.col("end_date")).otherwise(None).alias("end_date")
        )
        return rows.sort("record_id"), pl.concat(self.employment_truth), pl.concat(self.employment_faults)

    def employment_events(self, pid: list[str], as_of: dt.date) -> pl.DataFrame:
        """The error-free spells begun by ``as_of``: ``true_person_id, start_date, end_date`` (blank while on)."""
        cols = self.employment.cols["employment"]
        spells = [
            (pid[p], start, end if end is not None and end <= as_of else None)
            for p, start, end in zip(cols["person"], cols["start_date"], cols["end_date"], strict=True)
            if start <= as_of
        ]
        return pl.DataFrame(
            spells,
            schema={"true_person_id": pl.String, "start_date": pl.Date, "end_date": pl.Date},
            orient="row",
        )

    def _pupils(self, state: MonthState) -> set[int]:
        """People with an attendance record so far."""
        return set(state.events.cols["attendance"]["person"])

    def _schedule_crime(self, plan: Plan, state: MonthState, r: Rand) -> None:
        w, ev = state.world, state.events.cols
        members = state.world.households.members[plan.hh]
        attached_on = plan.attached.attached_on
        base = (months_before(attached_on, 6), attached_on)
        after = (months_before(self.final, 6), self.final)
        start = max(after[0], attached_on)
        if start >= after[1]:
            return
        mine = set(members)

        def count(source: str, column: str, window: tuple[dt.date, dt.date], minors: bool) -> int:
            proven_column = ev[source].get("proven", [None] * len(ev[source]["person"]))
            rows = zip(ev[source]["person"], ev[source][column], proven_column, strict=True)
            return sum(
                1
                for person, day, proven in rows
                if person in mine
                and day is not None
                and window[0] < day <= window[1]
                and (not minors or (proven == "Y" and age_at(w.people.dob[person], day) < 18))
            )

        for kind, source, column, percent, minors in (
            ("asb", "asb", "intervention_date", 60, False),
            ("offence", "youth_offending", "offence_date", 33, True),
        ):
            before = count(source, column, base, minors)
            if before == 0:
                continue
            most = (100 - percent) * before // 100  # the most events a reduction of `percent` allows
            target = {"resolve": 0, "persist": before, "near_pass": most, "near_fail": most + 1}[
                plan.crime or "resolve"
            ]
            extra = target - count(source, column, after, minors)
            for _ in range(max(extra, 0)):
                day = start + dt.timedelta(days=r.randint(1, (after[1] - start).days))
                if kind == "offence":
                    who = [m for m in members if 10 <= age_at(w.people.dob[m], day) < 18]
                else:
                    who = [m for m in members if age_at(w.people.dob[m], day) >= 10] or list(members)
                if who:
                    plan.scheduled.append((day, kind, r.pick(who)))

    # ---------------------------------------------------------------- each month
    def __call__(self, maker: _Maker, previous: dt.date) -> None:
        """The month's hook (:data:`tfident.synth.months.FollowHook`): new termly returns and planned events."""
        self._terms(maker, previous)
        self._census(maker, previous)
        self._exclusions(maker, previous)
        self._offences(maker, previous)
        self._care(maker, previous)
        self._jobs(maker, previous)
        for plan in self.plans.values():
            for day, kind, person in plan.scheduled:
                if not previous < day <= maker.D:
                    continue
                if kind == "asb":
                    maker.asb(plan.hh, person, maker.r.pick(("INCIDENT", "INCIDENT", *ASB_TOOLS)), day)
                else:
                    _proven(maker, person, day)

    def _jobs(self, maker: _Maker, previous: dt.date) -> None:
        """The jobs that start this month: the spell, and the end of the adult's out-of-work claims."""
        assert self.events is not None
        claim_end = self.events.cols["benefits"]["claim_end"]
        for plan in self.plans.values():
            if plan.job is None or not previous < plan.job[1] <= maker.D:
                continue
            adult, start, end = plan.job
            self.employment.add(
                "employment",
                adult,
                start,
                employment_type=maker.r.weighted((("EMPLOYED", 0.85), ("SELF_EMPLOYED", 0.15))),
                start_date=start,
                end_date=end,
                hours_per_week=maker.r.pick((16, 20, 30, 37, 40)),
            )
            for index, day in plan.claims_end:
                claim_end[index] = day
                self.ended.append((index, day))

    def _terms(self, maker: _Maker, previous: dt.date) -> None:
        """A return for each term ended this month (and begun after the first month) for every child on roll."""
        assert self.events is not None
        ended = [t for t in attendance_terms(maker.D) if previous < t.end <= maker.D and t.start > self.first]
        if not ended:
            return
        old = self.events.cols["attendance"]
        new = maker.ev.cols["attendance"]
        pupils = set(old["person"])
        have = set(zip(old["person"], old["term"], strict=True)) | set(zip(new["person"], new["term"], strict=True))
        w, r = maker.w, maker.r
        h = w.households
        for term in ended:
            for hh in range(len(h.hid)):
                if not h.in_area[hh]:
                    continue
                for kid in h.members[hh]:
                    if kid not in pupils or (kid, term.label) in have or not maker.on_roll(kid, term.academic_year):
                        continue
                    self._return(maker, hh, kid, term, r)

    def _census(self, maker: _Maker, previous: dt.date) -> None:
        """A school census row on each census day of the month for every child of the area with one
        before, at the family's address that day: a school census records where its pupils live now,
        so a family's move shows in its children's records from the next census day. The provision
        (and a PRU or AP pupil's school) is that of the child's latest census row; a mainstream pupil's
        school is their school for the year.
        """
        assert self.events is not None
        days = [d for d in census_dates(maker.D, count=3) if previous < d <= maker.D]
        if not days:
            return
        old, new = self.events.cols["school_census"], maker.ev.cols["school_census"]
        latest: dict[int, tuple[dt.date, str | None, str | None, str | None]] = {}
        for cols in (old, new):
            for person, day, urn, provision, excluded in zip(
                cols["person"],
                cols["census_date"],
                cols["school_urn"],
                cols["provision"],
                cols["excluded_previously"],
                strict=True,
            ):
                if person not in latest or day >= latest[person][0]:
                    latest[person] = (day, urn, provision, excluded)
        w = maker.w
        h = w.households
        for day in days:
            year = day.year if day.month >= 9 else day.year - 1
            for hh in range(len(h.hid)):
                if not h.in_area[hh]:
                    continue
                for kid in h.members[hh]:
                    last = latest.get(kid)
                    if last is None or last[0] >= day:
                        continue
                    _, urn, provision, excluded = last
                    if provision == "NOT_ON_ROLL":
                        if not 5 <= age_at(w.people.dob[kid], day) <= 16:
                            continue
                    elif not maker.on_roll(kid, year):
                        continue
                    elif provision not in ("PRU", "AP"):
                        urn = maker.school_for(hh, kid, year)
                    maker.ev.add(
                        "school_census",
                        kid,
                        day,
                        school_urn=urn,
                        provision=provision,
                        excluded_previously=excluded,
                        census_date=day,
                    )

    def _offences(self, maker: _Maker, previous: dt.date) -> None:
        """Proven offences in the month by households not attached, more often with more problems."""
        w, r = maker.w, maker.r
        h = w.households
        span = max((maker.D - previous).days, 1)
        for hh in range(len(h.hid)):
            if not h.in_area[hh] or hh in self.plans or not r.chance(MONTHLY_OFFENCE[h.tier[hh]]):
                continue
            day = previous + dt.timedelta(days=r.randint(1, span))
            young = [m for m in h.members[hh] if 10 <= age_at(w.people.dob[m], day) <= 25]
            if young:
                _proven(maker, r.pick(young), day)

    def _care(self, maker: _Maker, previous: dt.date) -> None:
        """Social care episodes begun in the month (early help or child in need) for children not attached."""
        w, r = maker.w, maker.r
        h = w.households
        span = max((maker.D - previous).days, 1)
        for hh in range(len(h.hid)):
            if not h.in_area[hh] or hh in self.plans:
                continue
            for kid in h.members[hh]:
                if age_at(w.people.dob[kid], maker.D) >= 18 or not r.chance(MONTHLY_CARE[h.tier[hh]]):
                    continue
                day = previous + dt.timedelta(days=r.randint(1, span))
                category = r.pick(("EARLY_HELP", "EARLY_HELP", "CIN"))
                maker.ev.add("social_care", kid, day, category=category, start_date=day, end_date=None)

    def _exclusions(self, maker: _Maker, previous: dt.date) -> None:
        """Fixed exclusions in the month's school days: at random by tier, and monthly for a pupil of an
        attached family whose education persists (so three or more fall in the final window).
        """
        assert self.events is not None
        terms = [t for t in attendance_terms(maker.D) if t.start <= maker.D and t.end > previous]
        if not terms:
            return
        term = terms[-1]
        first, last = max(term.start, previous + dt.timedelta(days=1)), min(term.end, maker.D)
        if first > last:
            return
        w, r = maker.w, maker.r
        pupils = set(self.events.cols["attendance"]["person"])
        h = w.households
        for hh in range(len(h.hid)):
            if not h.in_area[hh]:
                continue
            plan = self.plans.get(hh)
            for kid in h.members[hh]:
                if kid not in pupils or not maker.on_roll(kid, term.academic_year):
                    continue
                if plan is not None:
                    if plan.education != "persist" or kid != plan.target_child:
                        continue
                elif not r.chance(MONTHLY_EXCLUSION[h.tier[hh]]):
                    continue
                day = first + dt.timedelta(days=r.randint(0, (last - first).days))
                maker.ev.add(
                    "exclusions",
                    kid,
                    day,
                    school_urn=maker.school_for(hh, kid, term.academic_year),
                    exclusion_type="FIXED",
                    start_date=day,
                    sessions=r.pick((1, 2, 2, 4, 6, 10)),
                    reason=r.pick(EXCLUSION_REASONS),
                )

    def _return(self, maker: _Maker, hh: int, kid: int, term: Term, r: Rand) -> None:
        possible = max(term.sessions - (r.randint(0, 6) if r.chance(0.1) else 0), 0)
        authorised = round(possible * (0.01 + 0.06 * r.random()))
        plan = self.plans.get(hh)
        variant = plan.education if plan is not None else None
        if variant is None:
            rate = TIER_ABSENCE[maker.w.households.tier[hh]] * 2 * r.random() ** 2
        elif variant == "persist":
            rate = 0.2 + 0.15 * r.random()
        else:
            rate = 0.06 * r.random()
        unauthorised = round(possible * rate)
        if plan is not None and variant is not None and term.label == self.final_terms[-1]:
            unauthorised = self._on_target(kid, possible, unauthorised, variant if kid == plan.target_child else None)
        unauthorised = min(max(unauthorised, 0), possible)
        authorised = min(authorised, possible - unauthorised)
        maker.ev.add(
            "attendance",
            kid,
            term.end,
            school_urn=maker.school_for(hh, kid, term.academic_year),
            term=term.label,
            term_start=term.start,
            term_end=term.end,
            sessions_possible=possible,
            sessions_authorised=authorised,
            sessions_unauthorised=unauthorised,
        )

    def _on_target(self, kid: int, possible: int, drawn: int, variant: str | None) -> int:
        """Unauthorised sessions of the final window's last term that put the child where the plan says."""
        assert self.events is not None
        cols = self.events.cols["attendance"]
        earlier = set(self.final_terms[:-1])
        other_possible = other_unauth = 0
        for person, term, pos, unauth in zip(
            cols["person"], cols["term"], cols["sessions_possible"], cols["sessions_unauthorised"], strict=True
        ):
            if person == kid and term in earlier:
                other_possible += pos or 0
                other_unauth += unauth or 0
        reach = math.ceil(15 * (other_possible + possible) / 100)  # the least count reaching 15 %
        if variant == "near_fail":
            return reach - other_unauth
        if variant == "near_pass":
            return reach - 1 - other_unauth
        if variant == "persist":
            return max(drawn, reach - other_unauth)
        return min(drawn, reach - 1 - other_unauth)


def _proven(maker: _Maker, person: int, day: dt.date) -> None:
    """A proven offence of ``person`` on ``day``, its outcome within a fortnight (by the batch date)."""
    maker.pnc(person, day)
    outcome = min(day + dt.timedelta(days=maker.r.randint(0, 14)), maker.D)
    adult = age_at(maker.w.people.dob[person], day) >= 18
    maker.ev.add(
        "youth_offending",
        person,
        outcome,
        offence_date=day,
        outcome_date=outcome,
        outcome_type=maker.r.pick(PROVEN_ADULT if adult else PROVEN_YOUTH),
        proven="Y",
    )


def iter_followed_months(
    households: int,
    seed: int,
    as_of: dt.date,
    months: int,
    share: float,
    churn: float = 0.05,
    profile: Profile = DEFAULT_PROFILE,
) -> Iterator[tuple[MonthState, FollowUp]]:
    """Months 0 to ``months - 1`` with ``share`` of the eligible families attached and followed.

    Yields each month's state with the follow-up; the caller judges the month (its truth
    households decide the next attachments: call :meth:`FollowUp.attach` before the next
    month is made, as :func:`tfident.synth.synthesise_months` does).
    """
    follow = FollowUp(seed, as_of, months, share)
    state = first_month(households, seed, as_of, profile)
    yield state, follow
    for k in range(1, months):
        state = next_month(state, month_date(as_of, k), churn, keep=follow.keep, follow=follow)
        yield state, follow


__all__ = ["ATTACH_MONTHS", "FollowUp", "Plan", "iter_followed_months"]
