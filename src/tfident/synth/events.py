"""True events of the synthetic council: what really happened to each person, error-free.

Each household has a tier (ordinary, some problems, many problems) and, from it, the
criteria it is meant to meet. For a criterion it is not meant to meet it often gets a
near miss instead: 14.x% absence, two fixed exclusions, an adult's offence, an ASB
incident, a claim that ended before the batch date, an event just outside the window.
The oracle (:mod:`tfident.synth.truth`) then judges every household from these events
exactly, so an intention that misfires never makes the truth wrong.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tfident.ingest.sources import PERSON_COLUMNS, SOURCES
from tfident.synth import identifiers as ids
from tfident.synth.dates import (
    DAY,
    Term,
    age_at,
    attendance_terms,
    birthday,
    census_dates,
    next_weekday,
    one_year_before,
)
from tfident.synth.population import Rand, World

MODELLED_SOURCES: tuple[str, ...] = (
    "school_census",
    "attendance",
    "exclusions",
    "youth_offending",
    "asb",
    "benefits",
    "social_care",
    "domestic_abuse",
    "health",
)
"""The person sources the generator writes events for (a source added to the contract is
generated only once it is modelled here)."""

EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(
        c.name for c in SOURCES[name].columns[len(PERSON_COLUMNS) :] if c.type != "identifier" and c.added_in is None
    )
    for name in MODELLED_SOURCES
}
"""The event columns of each modelled source, as the agency records them: its own columns of
``tfident/ingest/sources.yaml`` but the identifier (which the renderer writes from the person) and the
columns a later contract version added (``added_in``: the batch is written as it always was)."""

OUT_OF_WORK = ("UC", "ESA", "IS", "CA", "JSA", "IB", "SDA")
UC_OUT_OF_WORK = ("SEARCHING_FOR_WORK", "PLANNING_FOR_WORK", "PREPARING_FOR_WORK", "NO_WORK_REQUIREMENTS")
PROVEN_YOUTH = (
    "YOUTH_CAUTION",
    "YOUTH_CONDITIONAL_CAUTION",
    "REFERRAL_ORDER",
    "YOUTH_REHABILITATION_ORDER",
    "CONVICTION",
    "DETENTION_AND_TRAINING_ORDER",
)
PROVEN_ADULT = ("CAUTION", "CONDITIONAL_CAUTION", "CONVICTION")
NOT_PROVEN = ("NFA", "ACQUITTED", "OTHER")
ASB_TOOLS = (
    "ASBO",
    "CBO",
    "ASB_INJUNCTION",
    "ABC",
    "CPN",
    "NOSP_ASB",
    "HOUSING_INJUNCTION",
    "DEMOTED_TENANCY",
    "EVICTION_ASB",
)
ASB_AGENCY = {
    "NOSP_ASB": "Tenford Homes",
    "HOUSING_INJUNCTION": "Tenford Homes",
    "DEMOTED_TENANCY": "Tenford Homes",
    "EVICTION_ASB": "Tenford Homes",
    "CPN": "Tenford Council ASB Team",
    "ABC": "Tenford Council ASB Team",
}
EXCLUSION_REASONS = ("PD", "VA", "VP", "PA", "PP", "DM", "BU", "DA", "OW", "TH")

# intended chance of each criterion (crime_asb, education, work, local discretion) by tier
INTENT = {0: (0.012, 0.02, 0.07, 0.05), 1: (0.17, 0.22, 0.42, 0.3), 2: (0.72, 0.75, 0.85, 0.7)}
NEAR_MISS = {0: 0.05, 1: 0.45, 2: 0.7}


class Events:
    """True events per source, as parallel columns, with the person and the address date."""

    def __init__(self) -> None:
        self.cols: dict[str, dict[str, list[Any]]] = {
            s: {c: [] for c in ("person", "addr_date", *cols)} for s, cols in EVENT_COLUMNS.items()
        }

    def add(self, source: str, person: int, addr_date: dt.date, **values: Any) -> None:
        """Record one event of ``person`` in ``source``; the address shown is the one at ``addr_date``."""
        cols = self.cols[source]
        cols["person"].append(person)
        cols["addr_date"].append(addr_date)
        for name in EVENT_COLUMNS[source]:
            cols[name].append(values.get(name))


class _Maker:
    """Generates the events of one household at a time."""

    def __init__(self, world: World, seed: int) -> None:
        self.w, self.r, self.ev = world, Rand(seed, 2), Events()
        self.D = world.as_of
        self.year_ago = one_year_before(self.D)
        self.terms = attendance_terms(self.D)
        complete = [t for t in self.terms if t.end <= self.D]
        self.last3 = complete[-3:]
        self.window_terms = [t for t in self.terms if self.last3 and t.start >= self.last3[0].start]
        self.old_terms = [t for t in self.terms if t not in self.window_terms]
        self.census = census_dates(self.D)
        self.pnc_serial = self.r.randint(100_000, 900_000)
        p = world.people
        self.age = [age_at(d, self.D) for d in p.dob]

    # dates -----------------------------------------------------------------------------
    def in_window(self, latest: int = 0, earliest: int = 364) -> dt.date:
        """A day in the 12-month window, ``latest`` to ``earliest`` days before the batch date."""
        return self.D - dt.timedelta(days=self.r.randint(latest, earliest))

    def before_window(self) -> dt.date:
        """A day just outside the window: the day a year before, or up to two months earlier."""
        return self.year_ago - dt.timedelta(days=0 if self.r.chance(0.4) else self.r.randint(1, 60))

    def school_day(self, term: Term) -> dt.date:
        """A weekday in ``term`` no later than the batch date."""
        end = min(term.end, self.D)
        day = term.start + dt.timedelta(days=self.r.randint(0, max((end - term.start).days, 0)))
        day = next_weekday(day)
        return day if day <= end else term.start

    # people ----------------------------------------------------------------------------
    def on_roll(self, person: int, year: int) -> bool:
        """Whether a person is of school age in the academic year starting in ``year``."""
        age = age_at(self.w.people.dob[person], dt.date(year, 8, 31))
        return 4 <= age <= 15 or (16 <= age <= 17 and self.w.people.sixth_form[person])

    def school_for(self, hh: int, person: int, year: int) -> str:
        """The URN of the person's school in the academic year starting in ``year``."""
        age = age_at(self.w.people.dob[person], dt.date(year, 8, 31))
        h = self.w.households
        return self.w.schools[h.primary[hh] if age <= 10 else h.secondary[hh]]

    def pnc(self, person: int, day: dt.date) -> None:
        """Give a person a PNC ID the first time they are arrested."""
        p = self.w.people
        if p.pnc[person] is None:
            self.pnc_serial += self.r.randint(1, 5000)
            p.pnc[person] = ids.make_pnc(day.year, self.pnc_serial % 10_000_000)

    # household -------------------------------------------------------------------------
    def household(self, hh: int) -> None:
        """Generate all events of one household."""
        r, w = self.r, self.w
        members = w.households.members[hh]
        tier = w.households.tier[hh]
        age = self.age
        kids = [m for m in members if age[m] < 18]
        school_kids = [m for m in kids if 5 <= age[m] <= 15]
        adults = [m for m in members if age[m] >= 18]
        teens = [m for m in members if 12 <= age[m] <= 18]
        workers = [m for m in adults if age[m] <= 65]
        intent = [r.chance(p) for p in INTENT[tier]]
        near = NEAR_MISS[tier]
        in_area = w.households.in_area[hh]
        local_school = in_area or r.chance(0.5)

        profile: dict[int, str] = {}
        provision: dict[int, tuple[str, str | None]] = {}
        # education --------------------------------------------------------------
        if intent[1] and school_kids and local_school:
            kid = r.pick(school_kids)
            how = r.weighted(
                (("absence", 0.36), ("boundary", 0.05), ("fixed3", 0.25), ("perm", 0.1), ("pru", 0.14), ("nor", 0.1))
            )
            if how in ("absence", "boundary"):
                profile[kid] = how
            elif how == "fixed3":
                self.exclusions(hh, kid, "FIXED", r.randint(3, 6), old=r.randint(0, 2))
                profile[kid] = "poor"
            elif how == "perm":
                self.exclusions(hh, kid, "FIXED", r.randint(0, 2), old=r.randint(0, 2))
                self.exclusions(hh, kid, "PERMANENT", 1)
                provision[kid] = ("AP" if r.chance(0.5) else "MAINSTREAM", None)
            elif how == "pru":
                provision[kid] = (r.pick(("PRU", "AP")), "Y")
                self.exclusions(hh, kid, "FIXED", 0, old=r.randint(1, 3))
            else:
                provision[kid] = ("NOT_ON_ROLL", None)
        elif school_kids and local_school and r.chance(near):
            kid = r.pick(school_kids)
            how = r.weighted(
                (("near_absence", 0.35), ("fixed2", 0.3), ("progress", 0.12), ("pru_n", 0.1), ("perm_old", 0.13))
            )
            if how == "near_absence":
                profile[kid] = "near"
            elif how == "fixed2":
                self.exclusions(hh, kid, "FIXED", 2, old=r.randint(0, 3))
            elif how == "progress":
                profile[kid] = "progress"
            elif how == "pru_n":
                provision[kid] = (r.pick(("PRU", "AP")), "N")
            else:
                self.exclusions(hh, kid, "PERMANENT", 0, old=1)
        for kid in kids:
            if kid not in profile and r.chance(0.02 if tier == 0 else 0.1):
                self.exclusions(hh, kid, "FIXED", 1, old=r.randint(0, 1))
        if local_school:
            for kid in [m for m in members if age[m] <= 19]:
                self.schooling(hh, kid, profile.get(kid, f"tier{tier}"), provision.get(kid))

        # crime and ASB ---------------------------------------------------------
        eve = [m for m in teens if age[m] == 18 and birthday(w.people.dob[m], 18) > self.year_ago + 30 * DAY]
        if intent[0]:
            if teens and r.chance(0.55):
                kid = r.pick(teens)
                if kid in eve and r.chance(0.3):
                    self.offence(hh, kid, "eve_of_18")
                else:
                    self.offence(hh, kid, "youth")
                if r.chance(0.4):
                    self.offence(hh, kid, r.pick(("youth", "not_proven", "old")))
            else:
                who = r.pick([m for m in members if age[m] >= 10] or members)
                self.asb(hh, who, r.pick(ASB_TOOLS), self.in_window())
        elif r.chance(near):
            how = r.weighted(
                (
                    ("adult", 0.22),
                    ("not_proven", 0.15),
                    ("old", 0.15),
                    ("incident", 0.3),
                    ("old_asb", 0.1),
                    ("on18", 0.08),
                )
            )
            if how == "on18" and eve:
                self.offence(hh, r.pick(eve), "on_18th")
            elif how in ("not_proven", "old") and teens:
                self.offence(hh, r.pick(teens), how)
            elif how == "adult" and adults:
                self.offence(hh, r.pick(adults), "adult")
            elif how == "old_asb":
                self.asb(hh, r.pick(adults or members), r.pick(ASB_TOOLS), self.before_window())
            else:
                self.asb(hh, r.pick(adults or members), "INCIDENT", self.in_window())
        for m in members:
            if age[m] >= 12 and r.chance(0.012 + 0.03 * tier):
                self.asb(hh, m, "INCIDENT", self.D - dt.timedelta(days=r.randint(0, 700)))

        # work ---------------------------------------------------------------------
        if intent[2] and adults:
            claimant = r.pick([a for a in workers if w.people.role[a] in ("parent", "adult")] or workers or adults)
            self.claim(claimant, r.pick(OUT_OF_WORK), live=True)
            if r.chance(0.5):
                self.claim(claimant, r.pick(("HB", "CTR")), live=True)
            if r.chance(0.3):
                self.claim(claimant, r.pick(OUT_OF_WORK), live=False)
        elif adults and r.chance(max(near, 0.12)):
            claimant = r.pick(workers or adults)
            how = r.weighted((("ended", 0.35), ("working", 0.25), ("hb", 0.3), ("future", 0.04), ("teen", 0.06)))
            if how == "ended":
                self.claim(claimant, r.pick(OUT_OF_WORK), live=False, recent=True)
            elif how == "working":
                self.claim(claimant, "UC", live=True, conditionality="WORKING")
            elif how == "future":
                self.claim(claimant, r.pick(OUT_OF_WORK), live=True, start=self.D + r.randint(1, 20) * DAY)
            elif how == "teen" and [k for k in kids if age[k] == 17]:
                self.claim(next(k for k in kids if age[k] == 17), "UC", live=True)
            else:
                self.claim(claimant, "HB", live=True)
                self.claim(claimant, "CTR", live=True)
        for a in workers:
            if r.chance(0.04):
                self.claim(a, r.pick((*OUT_OF_WORK, "HB", "CTR")), live=False)

        # local discretion ----------------------------------------------------
        if intent[3]:
            how = r.weighted((("csc", 0.45 if kids else 0.0), ("da", 0.3), ("health", 0.25)))
            if how == "csc":
                self.care(r.pick(kids), r.pick(("CIN", "CP", "LAC")), open_=True)
            elif how == "da":
                self.abuse(members, self.in_window())
            else:
                self.health(r.pick(adults or members), self.in_window())
        elif r.chance(near):
            how = r.weighted(
                (("eh", 0.3 if kids else 0.0), ("closed", 0.3 if kids else 0.0), ("old_da", 0.2), ("old", 0.2))
            )
            if how == "eh":
                self.care(r.pick(kids), "EARLY_HELP", open_=True)
            elif how == "closed":
                self.care(r.pick(kids), r.pick(("CIN", "CP")), open_=False)
            elif how == "old_da":
                self.abuse(members, self.before_window())
            else:
                self.health(r.pick(adults or members), self.before_window())
        for m in members:
            if age[m] >= 16 and r.chance(0.015):
                self.health(m, self.D - dt.timedelta(days=r.randint(0, 900)))

    # sources ------------------------------------------------------------------------
    def exclusions(self, hh: int, kid: int, kind: str, recent: int, old: int = 0) -> None:
        """``recent`` exclusions in the education window and ``old`` ones before it."""
        r = self.r
        for n in range(recent + old):
            pool = self.window_terms if n < recent else self.old_terms
            pool = [t for t in pool if self.on_roll(kid, t.academic_year)] or pool
            if not pool:
                continue
            term = r.pick(pool)
            day = self.school_day(term)
            self.ev.add(
                "exclusions",
                kid,
                day,
                school_urn=self.school_for(hh, kid, term.academic_year),
                exclusion_type=kind,
                start_date=day,
                sessions=None if kind == "PERMANENT" else r.pick((1, 2, 2, 4, 6, 10)),
                reason=r.pick(EXCLUSION_REASONS),
            )

    def schooling(self, hh: int, kid: int, profile: str, provision: tuple[str, str | None] | None) -> None:
        """School census rows and termly attendance for one child or young person."""
        r = self.r
        prov, excl_prev = provision or ("SPECIAL" if r.chance(0.012) else "MAINSTREAM", None)
        pru_urn = self.w.schools[-2] if prov == "PRU" else self.w.schools[-1]
        for day in self.census:
            year = day.year if day.month >= 9 else day.year - 1
            if not self.on_roll(kid, year) and prov != "NOT_ON_ROLL":
                continue
            if prov == "NOT_ON_ROLL" and not 5 <= age_at(self.w.people.dob[kid], day) <= 16:
                continue
            urn = (
                None if prov == "NOT_ON_ROLL" else pru_urn if prov in ("PRU", "AP") else self.school_for(hh, kid, year)
            )
            self.ev.add(
                "school_census",
                kid,
                day,
                school_urn=urn,
                provision=prov,
                excluded_previously=excl_prev if prov in ("PRU", "AP") else None,
                census_date=day,
            )
        if prov == "NOT_ON_ROLL":
            return
        terms = [t for t in self.terms if self.on_roll(kid, t.academic_year)]
        if not terms:
            return
        possible = {t.label: max(t.sessions_to(self.D) - (r.randint(0, 6) if r.chance(0.1) else 0), 0) for t in terms}
        authorised = {lbl: round(pos * (0.01 + 0.06 * r.random())) for lbl, pos in possible.items()}
        base = {"tier0": 0.02, "tier1": 0.05, "tier2": 0.09, "poor": 0.1}.get(profile, 0.03)
        unauth = {
            lbl: min(round(pos * base * 2 * r.random() ** 2), pos - authorised[lbl]) for lbl, pos in possible.items()
        }
        if base <= 0.03 and r.chance(0.03):  # an odd bad term for an ordinary pupil
            lbl = r.pick(list(possible))
            unauth[lbl] = min(round(possible[lbl] * 0.2), possible[lbl] - authorised[lbl])
        scored = [t.label for t in self.last3 if t.label in possible]
        total = sum(possible[lbl] for lbl in scored)
        if profile in ("absence", "boundary", "near") and total > 0:
            if profile == "absence":
                target = -(-total * r.randint(16, 38) // 100)
            elif profile == "boundary":
                target = -(-15 * total // 100)  # the least count that reaches 15%
            else:
                target = -(-15 * total // 100) - r.randint(1, max(1, total // 100))
            shares = [target * possible[lbl] // total for lbl in scored]
            shares[0] += target - sum(shares)
            for lbl, share in zip(scored, shares, strict=True):
                unauth[lbl] = share
                authorised[lbl] = min(authorised[lbl], possible[lbl] - share)
        if profile == "progress":
            current = [t.label for t in terms if t.end > self.D]
            for lbl in current:
                unauth[lbl] = min(round(possible[lbl] * 0.3), possible[lbl] - authorised[lbl])
        for t in terms:
            urn = (
                pru_urn
                if prov in ("PRU", "AP") and t in self.window_terms
                else self.school_for(hh, kid, t.academic_year)
            )
            self.ev.add(
                "attendance",
                kid,
                min(t.end, self.D),
                school_urn=urn,
                term=t.label,
                term_start=t.start,
                term_end=t.end,
                sessions_possible=possible[t.label],
                sessions_authorised=authorised[t.label],
                sessions_unauthorised=unauth[t.label],
            )

    def offence(self, hh: int, person: int, how: str) -> None:
        """One offence and its outcome; ``how`` says which boundary it sits near."""
        r, dob = self.r, self.w.people.dob[person]
        eighteen = birthday(dob, 18)
        decided = self.in_window(0, 330)
        offence = decided - r.randint(7, 150) * DAY
        outcome: dt.date | None = decided
        proven = "Y"
        if how == "youth":
            if offence >= eighteen:
                offence = eighteen - r.randint(1, 120) * DAY
                outcome = min(offence + r.randint(7, 150) * DAY, self.D)
        elif how == "eve_of_18":
            offence = eighteen - DAY
            outcome = min(offence + r.randint(7, 60) * DAY, self.D)
        elif how == "on_18th":
            offence = eighteen
            outcome = min(offence + r.randint(7, 60) * DAY, self.D)
        elif how == "old":
            decided = self.before_window()
            offence = min(decided, eighteen - DAY) - r.randint(7, 150) * DAY
            outcome = max(decided, offence)
        elif how == "not_proven":
            proven = "N"
            offence = min(offence, eighteen - DAY)
            if r.chance(0.3):
                outcome = None  # still pending
        if age_at(dob, offence) < 10:
            return
        adult = age_at(dob, offence) >= 18
        kind = r.pick(NOT_PROVEN) if proven == "N" else r.pick(PROVEN_ADULT if adult else PROVEN_YOUTH)
        if outcome is None or kind != "NFA" or r.chance(0.5):
            self.pnc(person, offence)
        self.ev.add(
            "youth_offending",
            person,
            outcome or offence,
            offence_date=offence,
            outcome_date=outcome,
            outcome_type=None if outcome is None else kind,
            proven=proven,
        )

    def asb(self, hh: int, person: int, kind: str, day: dt.date) -> None:
        """One ASB intervention (or an incident) against ``person`` on ``day``."""
        agency = "Tenford Police" if kind == "INCIDENT" else ASB_AGENCY.get(kind, "Tenford Police")
        self.ev.add("asb", person, day, intervention_type=kind, intervention_date=day, agency=agency)

    def claim(
        self,
        person: int,
        kind: str,
        live: bool,
        recent: bool = False,
        conditionality: str | None = None,
        start: dt.date | None = None,
    ) -> None:
        """One benefit claim: live at the batch date, or ended (recently or long ago)."""
        r, D = self.r, self.D
        if kind == "UC" and conditionality is None:
            conditionality = r.pick(UC_OUT_OF_WORK)
        start = start or D - r.randint(30, 2500) * DAY
        end: dt.date | None = None
        if live:
            if start <= D and r.chance(0.06):
                end = D  # ends on the batch date, so still live
            elif r.chance(0.05):
                end = D + r.randint(1, 90) * DAY
        else:
            end = D - (r.randint(1, 200) if recent else r.randint(1, 900)) * DAY
            start = min(start, end - r.randint(14, 900) * DAY)
        addr_date = min(end or D, D)
        self.ev.add(
            "benefits",
            person,
            addr_date,
            benefit_type=kind,
            uc_conditionality=conditionality if kind == "UC" else None,
            claim_start=start,
            claim_end=end,
        )

    def care(self, kid: int, category: str, open_: bool) -> None:
        """A social care episode of ``kid``, open at the batch date or closed before it."""
        r, D = self.r, self.D
        start = max(D - r.randint(10, 900) * DAY, self.w.people.dob[kid])
        end: dt.date | None = None
        if open_:
            if r.chance(0.08):
                end = D
        else:
            end = D - r.randint(1, 300) * DAY
            start = min(start, end - r.randint(30, 400) * DAY)
        if r.chance(0.4):  # an earlier, closed early help episode
            eh_end = start - r.randint(1, 200) * DAY
            self.ev.add(
                "social_care", kid, eh_end, category="EARLY_HELP", start_date=eh_end - 120 * DAY, end_date=eh_end
            )
        self.ev.add("social_care", kid, min(end or D, D), category=category, start_date=start, end_date=end)

    def abuse(self, members: list[int], day: dt.date) -> None:
        """A domestic abuse incident: a victim, often a perpetrator, and children present."""
        r, p, age = self.r, self.w.people, self.age
        adults = [m for m in members if age[m] >= 16]
        victim = next((m for m in adults if p.sex[m] == "F"), adults[0] if adults else members[0])
        reported = r.weighted((("POLICE", 0.7), ("MARAC", 0.2), ("OTHER", 0.1)))
        self.ev.add("domestic_abuse", victim, day, role="VICTIM", incident_date=day, reported_by=reported)
        others = [m for m in adults if m != victim and p.sex[m] == "M"]
        if others and r.chance(0.7):
            self.ev.add("domestic_abuse", others[0], day, role="PERPETRATOR", incident_date=day, reported_by=reported)
        for kid in members:
            if age[kid] < 16 and r.chance(0.6):
                self.ev.add("domestic_abuse", kid, day, role="CHILD_PRESENT", incident_date=day, reported_by=reported)

    def health(self, person: int, day: dt.date) -> None:
        """A health or substance misuse indicator recorded on ``day``."""
        p, r = self.w.people, self.r
        if p.sex[person] == "F" and 13 <= age_at(p.dob[person], day) <= 17 and r.chance(0.3):
            kind = "UNDER_18_CONCEPTION"
        else:
            kind = r.weighted(
                (("MENTAL_HEALTH", 0.5), ("SUBSTANCE_MISUSE", 0.2), ("ALCOHOL_MISUSE", 0.2), ("OTHER", 0.1))
            )
        self.ev.add("health", person, day, indicator=kind, recorded_date=day)


def build_events(world: World, seed: int) -> Events:
    """Generate the true events of every household of ``world`` (gives offenders PNC IDs)."""
    maker = _Maker(world, seed)
    for hh in range(len(world.households.hid)):
        maker.household(hh)
    world.issued.pnc_serial = max(world.issued.pnc_serial, maker.pnc_serial)
    return maker.ev
