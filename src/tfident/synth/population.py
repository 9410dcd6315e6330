"""The true world of a synthetic council: its gazetteer, households, people and moves.

Everything here is error-free. Agency noise is added later (:mod:`tfident.synth.faults`,
:mod:`tfident.synth.extracts`). A household is the set of people living at one address
on the batch date; a household that moved in the last year also has its old address
and the day it moved, and the home it left is now empty or lived in by another family.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from tfident.standardise.names import canonical_forename, forename_first, forename_variants, metaphone
from tfident.synth import identifiers as ids
from tfident.synth import names as nm
from tfident.synth.dates import age_at

T = TypeVar("T")

UPRN_BASE = 100090000000
"""First UPRN of the synthetic LLPG; later ones follow with small random gaps."""

LA_NUMBER = "997"
"""The council's (fictional) three-digit LA number, the start of every UPN body."""


class Rand:
    """A lean, seeded source of random choices (``random.Random`` with a few helpers)."""

    def __init__(self, seed: int, stream: int) -> None:
        self._r = random.Random(seed * 1_000_003 + stream)
        self.random = self._r.random

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self._r.random() < p

    def randint(self, low: int, high: int) -> int:
        """A uniform integer from ``low`` to ``high`` inclusive."""
        return low + int(self._r.random() * (high - low + 1))

    def pick(self, items: Sequence[T]) -> T:
        """A uniform choice from ``items``."""
        return items[int(self._r.random() * len(items))]

    def pick_cum(self, items: Sequence[T], cumulative: list[float]) -> T:
        """A choice from ``items`` weighted by the cumulative weights ``cumulative``."""
        return items[min(bisect.bisect_left(cumulative, self._r.random()), len(items) - 1)]

    def weighted(self, options: tuple[tuple[T, float], ...]) -> T:
        """A choice from ``(value, weight)`` pairs."""
        total = sum(w for _, w in options)
        x = self._r.random() * total
        for value, weight in options:
            x -= weight
            if x < 0:
                return value
        return options[-1][0]

    def shuffle(self, items: list[int]) -> None:
        """Shuffle ``items`` in place (Fisher-Yates on :meth:`random`)."""
        for i in range(len(items) - 1, 0, -1):
            j = int(self._r.random() * (i + 1))
            items[i], items[j] = items[j], items[i]


@dataclass
class Addresses:
    """Addresses as parallel columns: the gazetteer's, then out-of-area ones (``uprn`` None)."""

    uprn: list[int | None] = field(default_factory=list)
    flat: list[int | None] = field(default_factory=list)
    number: list[int] = field(default_factory=list)
    street: list[str] = field(default_factory=list)  # e.g. "High"
    street_type: list[int] = field(default_factory=list)  # index into names.STREET_TYPES
    locality: list[str] = field(default_factory=list)
    town: list[str] = field(default_factory=list)
    postcode: list[str] = field(default_factory=list)

    def add(
        self,
        uprn: int | None,
        flat: int | None,
        number: int,
        street: str,
        stype: int,
        locality: str,
        town: str,
        pc: str,
    ) -> int:
        """Append one address and return its index."""
        self.uprn.append(uprn)
        self.flat.append(flat)
        self.number.append(number)
        self.street.append(street)
        self.street_type.append(stype)
        self.locality.append(locality)
        self.town.append(town)
        self.postcode.append(pc)
        return len(self.uprn) - 1

    def __len__(self) -> int:
        """Number of addresses."""
        return len(self.uprn)


@dataclass
class Households:
    """True households as parallel columns."""

    hid: list[str] = field(default_factory=list)
    addr: list[int] = field(default_factory=list)  # address on the batch date
    old_addr: list[int] = field(default_factory=list)  # -1 when the household did not move
    move_date: list[dt.date | None] = field(default_factory=list)
    in_area: list[bool] = field(default_factory=list)
    tier: list[int] = field(default_factory=list)  # 0 ordinary, 1 some problems, 2 many problems
    kind: list[str] = field(default_factory=list)
    members: list[list[int]] = field(default_factory=list)
    primary: list[int] = field(default_factory=list)  # school indices
    secondary: list[int] = field(default_factory=list)


@dataclass
class People:
    """True people as parallel columns."""

    pid: list[str] = field(default_factory=list)
    hh: list[int] = field(default_factory=list)
    forename: list[str] = field(default_factory=list)
    middle: list[str | None] = field(default_factory=list)
    surname: list[str] = field(default_factory=list)
    alt_surname: list[str | None] = field(default_factory=list)  # maiden or former surname
    sex: list[str] = field(default_factory=list)
    dob: list[dt.date] = field(default_factory=list)
    role: list[str] = field(default_factory=list)  # parent, child, grandparent, adult_child, adult
    upn: list[str | None] = field(default_factory=list)
    nino: list[str | None] = field(default_factory=list)
    nhs: list[str] = field(default_factory=list)
    pnc: list[str | None] = field(default_factory=list)
    no_ids: list[bool] = field(default_factory=list)  # agencies hold no identifier for them
    sixth_form: list[bool] = field(default_factory=list)
    twin: list[bool] = field(default_factory=list)
    named_after_father: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of people."""
        return len(self.pid)


@dataclass
class IssuedIds:
    """How far identifier issuing has got, so that later months' newcomers can start above it."""

    nhs_stem: int = 0
    """The last (and highest) NHS number stem issued."""
    nino_serial: int = 0
    """The last NINO serial issued, before it is shown modulo 1,000,000."""
    pnc_serial: int = 0
    """The last PNC ID serial issued, before it is shown modulo 10,000,000."""
    upn_serial: dict[tuple[int, int], int] = field(default_factory=dict)
    """The last UPN serial issued per (establishment number, start year)."""


@dataclass
class World:
    """The error-free synthetic council on the batch date."""

    as_of: dt.date
    addresses: Addresses
    n_gazetteer: int  # addresses[:n_gazetteer] are the LLPG
    households: Households
    people: People
    schools: list[str]  # school URNs; the last two are a PRU and an AP provider
    n_primary: int
    n_secondary: int
    issued: IssuedIds = field(default_factory=IssuedIds)
    """How far identifier issuing has got (NHS numbers, NINOs, UPNs, PNC IDs)."""
    unlisted: set[int] = field(default_factory=set)
    """Gazetteer addresses left out of the LLPG extract (new builds not in it yet); none by default."""
    duplicates: dict[int, int] = field(default_factory=dict)
    """Gazetteer addresses the LLPG holds twice: address -> its second UPRN; none by default."""
    stayed: dict[int, int] = field(default_factory=dict)
    """Adults who stayed at the old home when their family moved (``separated_share``): person ->
    the household they were split from (they now have a household of their own); none by default."""


HOUSEHOLD_KINDS: tuple[tuple[str, float], ...] = (
    ("single", 0.23),
    ("couple", 0.19),
    ("couple_kids", 0.27),
    ("lone_parent", 0.16),
    ("multi_gen", 0.04),
    ("adult_kids", 0.08),
    ("sharers", 0.03),
)
KIDS_KINDS = frozenset({"couple_kids", "lone_parent", "multi_gen"})


def one_name(a: str, b: str) -> bool:
    """Whether two forenames are one name spelt or shortened differently (MOHAMMED and
    MUHAMMAD, KATE and KATHERINE): parents do not give twins such names, so synthetic twins
    never carry them (the linker could not tell them apart either).
    """
    first_a, first_b = forename_first(a), forename_first(b)
    if first_a is None or first_b is None or first_a == first_b:
        return first_a == first_b
    return (
        canonical_forename(first_a) == canonical_forename(first_b)
        or metaphone(first_a) == metaphone(first_b)
        or bool(set(forename_variants(first_a)) & set(forename_variants(first_b)))
    )


def _dob(r: Rand, as_of: dt.date, age: int) -> dt.date:
    """A date of birth for someone aged ``age`` on ``as_of``."""
    return as_of - dt.timedelta(days=age * 365 + age // 4 + r.randint(1, 364))


def _build_gazetteer(r: Rand, n_addresses: int, addresses: Addresses) -> None:
    """Streets of houses and blocks of flats with postcodes, until ``n_addresses`` exist."""
    uprn = UPRN_BASE
    unit_counter: dict[tuple[int, int], int] = {}
    outward_weights = nm.zipf_weights(9, 0.4)
    used: set[tuple[str, int, int]] = set()
    while len(addresses) < n_addresses:
        outward = r.pick_cum(list(range(1, 10)), outward_weights)
        sector = r.randint(1, 9)
        locality = nm.LOCALITIES[outward - 1]
        for _ in range(50):
            name, stype = r.pick(nm.STREET_NAMES), r.randint(0, len(nm.STREET_TYPES) - 1)
            if (name, stype, outward) not in used:  # the same street name may recur elsewhere
                break
        used.add((name, stype, outward))
        n_buildings = r.randint(4, 48)
        unit_size, in_unit = r.randint(8, 25), 0
        unit = unit_counter.get((outward, sector), r.randint(0, 40))
        for number in range(1, n_buildings + 1):
            flats = r.randint(2, 12) if r.chance(0.07) else 0
            for flat in range(1, flats + 1) if flats else [None]:
                if in_unit >= unit_size:
                    unit, in_unit, unit_size = unit + 1, 0, r.randint(8, 25)
                pc = f"TF{outward} {sector}{nm.INWARD_LETTERS[(unit // 20) % 20]}{nm.INWARD_LETTERS[unit % 20]}"
                uprn += r.randint(1, 3)
                addresses.add(uprn, flat, number, name, stype, locality, nm.TOWN, pc)
                in_unit += 1
        # the next street in this sector starts a new postcode half the time
        unit_counter[(outward, sector)] = unit + (1 if r.chance(0.5) else 0)


def _outside_address(r: Rand, addresses: Addresses) -> int:
    """A new address in a neighbouring town, not in the gazetteer."""
    town, outward = r.pick(nm.OUTSIDE_TOWNS)
    pc = f"{outward} {r.randint(1, 9)}{r.pick(nm.INWARD_LETTERS)}{r.pick(nm.INWARD_LETTERS)}"
    flat = r.randint(1, 8) if r.chance(0.1) else None
    return addresses.add(
        None, flat, r.randint(1, 120), r.pick(nm.STREET_NAMES), r.randint(0, len(nm.STREET_TYPES) - 1), "", town, pc
    )


class _PeopleMaker:
    """Creates people with names that hang together within a household."""

    def __init__(self, r: Rand, as_of: dt.date, people: People) -> None:
        self.r, self.as_of, self.p = r, as_of, people
        self.sur_cum = {c: nm.zipf_weights(len(v), 1.0) for c, v in nm.SURNAMES.items()}
        self.fore_cum = {k: nm.zipf_weights(len(v), 0.9) for k, v in nm.FORENAMES.items()}

    def surname(self, culture: str) -> str:
        """A surname of the culture, common ones more often."""
        return self.r.pick_cum(nm.SURNAMES[culture], self.sur_cum[culture])

    def forename(self, culture: str, sex: str, age: int) -> str:
        """A forename of the culture and generation."""
        key = (culture, sex, ("adult" if age >= 25 else "child") if culture == "british" else "any")
        return self.r.pick_cum(nm.FORENAMES[key], self.fore_cum[key])

    def add(self, hh: int, culture: str, sex: str, dob: dt.date, role: str, surname: str) -> int:
        """Add one person and return their index."""
        r, p = self.r, self.p
        age = age_at(dob, self.as_of)
        forename = self.forename(culture, sex, age)
        middle = self.forename(culture, sex, r.randint(0, 60)) if r.chance(0.5) else None
        if middle == forename:
            middle = None
        p.pid.append(f"TP{len(p.pid) + 1:07d}")
        p.hh.append(hh)
        p.forename.append(forename)
        p.middle.append(middle)
        p.surname.append(surname)
        p.alt_surname.append(None)
        p.sex.append(sex)
        p.dob.append(dob)
        p.role.append(role)
        p.upn.append(None)
        p.nino.append(None)
        p.nhs.append("")
        p.pnc.append(None)
        p.no_ids.append(r.chance(0.02))
        p.sixth_form.append(r.chance(0.5))
        p.twin.append(False)
        p.named_after_father.append(False)
        return len(p.pid) - 1


def _make_household(mk: _PeopleMaker, hh: int, kind: str, tier: int) -> list[int]:
    """Create the members of one household of the given kind."""
    r, as_of, p = mk.r, mk.as_of, mk.p
    culture = r.weighted(nm.CULTURES)
    members: list[int] = []

    def adult(sex: str, age: int, role: str, surname: str | None = None) -> int:
        i = mk.add(hh, culture, sex, _dob(r, as_of, age), role, surname or mk.surname(culture))
        members.append(i)
        return i

    if kind == "single":
        adult(r.pick(("M", "F")), r.randint(18, 88), "adult")
        return members
    if kind == "sharers":
        for _ in range(r.randint(2, 3)):
            adult(r.pick(("M", "F")), r.randint(19, 38), "adult")
        return members
    if kind == "couple":
        age = r.randint(20, 85)
        man = adult("M", age + r.randint(-2, 5), "adult")
        surname = p.surname[man] if r.chance(0.6) else None
        woman = adult("F", age, "adult", surname)
        if surname:
            p.alt_surname[woman] = mk.surname(culture)
        return members

    # households with children (of any age)
    n_kids = r.weighted(((1, 0.36), (2, 0.37), (3, 0.17), (4, 0.07), (5, 0.03)))
    if tier == 2 and r.chance(0.4):
        n_kids += 1
    adult_kids = kind == "adult_kids"
    eldest = r.randint(18, 27) if adult_kids else r.randint(0, 17)
    ages = [eldest]
    for _ in range(n_kids - 1):
        gap = r.randint(1, 5)
        if ages[-1] - gap < 0:
            break
        ages.append(ages[-1] - gap)
    mother_age = min(eldest + r.randint(18, 36), 62)
    lone = kind == "lone_parent" or (kind == "adult_kids" and r.chance(0.35))
    father_present = not lone or r.chance(0.12)
    mother_present = not lone or not father_present

    father = mother = -1
    marriage = r.weighted((("married", 0.60), ("hyphen", 0.06), ("unmarried", 0.34)))
    father_surname = mk.surname(culture)
    mother_maiden = mk.surname(culture)
    if father_present:
        father = adult("M", mother_age + r.randint(-1, 6), "parent", father_surname)
    if mother_present:
        if marriage == "married" and (father_present or r.chance(0.5)):
            mother = adult("F", mother_age, "parent", father_surname)
            p.alt_surname[mother] = mother_maiden
        elif marriage == "hyphen" and father_present:
            mother = adult("F", mother_age, "parent", f"{mother_maiden}-{father_surname}")
            p.alt_surname[mother] = mother_maiden
        else:
            mother = adult("F", mother_age, "parent", mother_maiden)
    # the children's surname: the father's, the mother's, both, or a former partner's
    if marriage == "hyphen" and father_present:
        kid_surname = f"{mother_maiden}-{father_surname}"
    elif not father_present or marriage == "unmarried":
        kid_surname = r.weighted(
            (
                (father_surname, 0.55),
                (mother_maiden, 0.2),
                (f"{mother_maiden}-{father_surname}", 0.1),
                (mk.surname(culture), 0.15),  # a step-family: the children keep a former partner's name
            )
        )
    else:
        kid_surname = father_surname
    previous_dob: dt.date | None = None
    kids: list[int] = []
    for n, age in enumerate(ages):
        sex = r.pick(("M", "F"))
        twin = n > 0 and previous_dob is not None and r.chance(0.04)
        dob = previous_dob if twin and previous_dob else _dob(r, as_of, age)
        i = mk.add(hh, culture, sex, dob, "adult_child" if age >= 18 else "child", kid_surname)
        if twin:
            prev = kids[-1]
            p.twin[i] = p.twin[prev] = True
            # every sibling born that day (triplets: the first too, not only the one before)
            born = [k for k in kids if p.dob[k] == dob]
            while any(one_name(p.forename[i], p.forename[k]) for k in born):
                p.forename[i] = mk.forename(culture, sex, age)
        kids.append(i)
        members.append(i)
        previous_dob = dob
    # fathers and sons with the same forename
    if father >= 0 and kid_surname == father_surname and r.chance(0.08):
        sons = [k for k in kids if p.sex[k] == "M"]
        if sons:
            p.forename[sons[0]] = p.forename[father]
            p.named_after_father[sons[0]] = True
            if p.middle[sons[0]] == p.middle[father]:
                p.middle[sons[0]] = None
    if kind == "multi_gen":
        base = mother if mother >= 0 else father
        gran_surname = p.alt_surname[base] or p.surname[base]
        adult("F", min(mother_age + r.randint(20, 30), 95), "grandparent", gran_surname)
        if r.chance(0.4):
            adult("M", min(mother_age + r.randint(22, 33), 95), "grandparent", gran_surname)
    return members


NHS_STEM_MAX = 999_999_999
"""The largest 9-digit NHS number stem."""

NINO_PREFIXES = [a + b for a in ids.NINO_FIRST if a != "O" for b in ids.NINO_SECOND if a + b not in ids.NINO_BANNED]
"""The two letters a synthetic NINO may start with."""

NEWCOMER_SHARE = 100
"""When the newcomers of a month cannot have their old NHS range, they get about one
``NEWCOMER_SHARE``-th (1%) of the stems left above the last one issued (more if even steps of 1
need more), keeping the rest for later months: a world of 1.2 million people losing and gaining
15,000 a month runs out after about 40 years of months."""


def fit_step(room: int, people: int, smallest: int = 1) -> int:
    """The largest step (at most 900, at least ``smallest``) between consecutive NHS number stems
    that takes ``people`` through no more than about ``room`` stems.
    """
    # a stem whose check digit would be 10 is skipped: 1.1 steps per person on average
    return min(900, max(smallest, int(room / max(1, people) / 1.1 / 1.05 * 2) - 1))


def stems_needed(people: int, step: int) -> int:
    """About how many stems ``people`` NHS numbers take in steps of 1 to ``step`` (5% to spare)."""
    return int(people * 1.1 * 1.05 * (step + 1) / 2) + 1


def nhs_step(people: int) -> int:
    """The largest step between consecutive NHS number stems for a world of ``people``: 900,
    or less in worlds so big (over about a million people) that steps of up to 900 would run the
    9-digit stems, which start below 410,000,000, past 999,999,999.
    """
    return fit_step(589_000_000, people, 2)


@dataclass(frozen=True)
class IdRanges:
    """Where one run of :func:`assign_identifiers` starts its identifiers and how fast they climb.

    NHS number stems start at ``nhs_first`` plus a random 0 to ``nhs_spread`` and climb by 1 to
    ``nhs_step`` a person (skipping stems whose check digit would be 10); NINO serials start at
    ``nino_first`` plus 0 to ``nino_spread`` and climb by 1 to ``nino_step`` an adult (shown
    modulo 1,000,000). A UPN's establishment number is ``estab_base`` plus the primary school's
    index modulo 1000; the serials of a (school, start year) climb by 1 to 3 a child from
    ``upn_first`` plus 0 to 50, or from the last serial an earlier run issued if that is higher.
    """

    nhs_first: int
    nhs_spread: int
    nhs_step: int
    nino_first: int
    nino_spread: int
    nino_step: int
    upn_first: int
    estab_base: int


def world_ranges(people: int) -> IdRanges:
    """The identifier ranges of the people of a new world of ``people``."""
    return IdRanges(
        nhs_first=400_000_000,
        nhs_spread=9_999_999,
        nhs_step=nhs_step(people),
        nino_first=100_000,
        nino_spread=100_000,
        nino_step=400,
        upn_first=0,
        estab_base=2000,
    )


def _above(old_first: int, last_issued: int, modulus: int) -> int:
    """Where a newcomers' serial range starts: its old start ``old_first``, or the last serial
    issued if that is higher, unless the serials (shown modulo ``modulus``) have already gone
    round once, so that every serial is in use and no range above the others is left.
    """
    return old_first if last_issued >= modulus else max(old_first, last_issued)


def newcomer_ranges(month: int, newcomers: int, issued: IssuedIds) -> IdRanges:
    """The identifier ranges of ``newcomers`` people arriving in ``month`` (1 or more), above
    every identifier ``issued`` before them.

    They are the ranges newcomers always had (NHS stems from 700,000,000 + 3,000,000 a month
    in steps of up to 900, NINO serials from 500,000 + 10,000 a month, UPN establishment numbers
    3000 and up, which the world's 2000 to 2999 never meet) whenever those start above the last
    ones issued (and the old NHS range takes at most half of the stems left above its
    start), so small worlds keep their numbers. Otherwise NHS stems start at the last stem
    issued, with a step small enough that the month takes about 1/:data:`NEWCOMER_SHARE` of the
    stems left below 1,000,000,000; NINO serials start at the last serial issued (while it is
    below 1,000,000: in worlds of over about 2,300 households the world's own serials go round,
    and newcomers keep the old range).
    """
    nhs_first = 700_000_000 + month * 3_000_000
    nhs_spread, step = 999_999, 900
    room = NHS_STEM_MAX - nhs_first
    if nhs_first < issued.nhs_stem or nhs_spread + stems_needed(newcomers, step) > room // 2:
        nhs_first = issued.nhs_stem
        budget = (NHS_STEM_MAX - nhs_first) // NEWCOMER_SHARE
        nhs_spread = min(999_999, budget // 4)
        step = fit_step(budget - nhs_spread, newcomers)
    return IdRanges(
        nhs_first=nhs_first,
        nhs_spread=nhs_spread,
        nhs_step=step,
        nino_first=_above(500_000 + month * 10_000, issued.nino_serial, 1_000_000),
        nino_spread=5_000,
        nino_step=40,
        upn_first=500,
        estab_base=3000,
    )


def newcomer_pnc_serial(month: int, issued: IssuedIds) -> int:
    """The PNC ID serial the arrests of ``month`` (1 or more) count on from: 7,000,000 +
    100,000 a month, or the last serial issued if that is higher (serials show modulo 10,000,000).
    """
    return _above(7_000_000 + month * 100_000, issued.pnc_serial, 10_000_000)


def assign_identifiers(r: Rand, world: World, people: Iterable[int], ranges: IdRanges) -> None:
    """Give ``people`` NHS numbers, NINOs (16+) and UPNs (school ages, with a school) from
    ``ranges``, and record in ``world.issued`` where each identifier got to.

    The random draws come in a fixed order (NHS start, NINO start, then per person: NHS steps,
    NINO step, prefix and suffix, UPN run start and step), so the same seed gives the same numbers.
    """
    p, as_of, issued = world.people, world.as_of, world.issued
    stem = ranges.nhs_first + r.randint(0, ranges.nhs_spread)
    nino_serial = ranges.nino_first + r.randint(0, ranges.nino_spread)
    upn_serial: dict[tuple[int, int], int] = {}  # this run's last serial per (establishment, start year)
    issued_nhs = issued_nino = False
    for i in people:
        while True:
            stem += r.randint(1, ranges.nhs_step)
            if stem > NHS_STEM_MAX:
                raise ValueError("the synthetic world has run out of 9-digit NHS number stems")
            check = ids.nhs_check_digit(str(stem))
            if check is not None:
                break
        p.nhs[i] = f"{stem}{check}"
        issued_nhs = True
        age = age_at(p.dob[i], as_of)
        if age >= 16:
            nino_serial += r.randint(1, ranges.nino_step)
            p.nino[i] = f"{r.pick(NINO_PREFIXES)}{nino_serial % 1_000_000:06d}{r.pick(('A', 'B', 'C', 'D'))}"
            issued_nino = True
        if 4 <= age <= 20:
            start_year = p.dob[i].year + 4 + (1 if p.dob[i].month >= 9 else 0)
            school = world.households.primary[p.hh[i]]
            estab = ranges.estab_base + school % 1000
            key = (estab, start_year % 100)
            fresh = ranges.upn_first + r.randint(0, 50)  # drawn every time, as it always has been
            start = upn_serial.get(key, max(fresh, issued.upn_serial.get(key, fresh)))  # above earlier runs
            upn_serial[key] = start + r.randint(1, 3)
            body = f"{LA_NUMBER}{estab:04d}{start_year % 100:02d}{upn_serial[key] % 1000:03d}"
            p.upn[i] = ids.make_upn(body)
    if issued_nhs:
        issued.nhs_stem = max(issued.nhs_stem, stem)
    if issued_nino:
        issued.nino_serial = max(issued.nino_serial, nino_serial)
    issued.upn_serial.update(upn_serial)


def build_world(households: int, seed: int, as_of: dt.date) -> World:
    """Build the error-free world of ``households`` true households on ``as_of``.

    About 4% of households live outside the council's area (a quarter of those moved
    out in the last year); about 8% of in-area households moved in the last year, from
    a home now empty, from a home another family has since moved into, or from outside
    the area.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    r = Rand(seed, 1)
    n_out = max(1, round(households * 0.04)) if households >= 10 else 0
    n_in = households - n_out
    addresses = Addresses()
    _build_gazetteer(r, max(n_in + 2, int(n_in * 1.08) + 2), addresses)
    n_gaz = len(addresses)

    hh = Households()
    homes = list(range(n_gaz))
    r.shuffle(homes)
    empty = homes[n_in:]
    kinds = tuple(k for k, _ in HOUSEHOLD_KINDS)
    n_children_guess = max(households // 2, 1)
    n_primary = max(2, n_children_guess // 220)
    n_secondary = max(1, n_children_guess // 900)
    for i in range(households):
        in_area = i < n_in
        kind = r.weighted(HOUSEHOLD_KINDS) if households > len(kinds) else kinds[i % len(kinds)]
        if kind in KIDS_KINDS:
            tier = r.weighted(((0, 0.72), (1, 0.16), (2, 0.12)))
        else:
            tier = r.weighted(((0, 0.90), (1, 0.08), (2, 0.02)))
        hh.hid.append(f"TH{i + 1:06d}")
        hh.addr.append(homes[i] if in_area else _outside_address(r, addresses))
        hh.old_addr.append(-1)
        hh.move_date.append(None)
        hh.in_area.append(in_area)
        hh.tier.append(tier)
        hh.kind.append(kind)
        hh.members.append([])
        hh.primary.append(r.randint(0, n_primary - 1))
        hh.secondary.append(n_primary + r.randint(0, n_secondary - 1))

    # moves within the last year
    movers = [i for i in range(n_in) if r.chance(0.08)]
    if n_in >= 3 and not movers:
        movers = [0]
    dates = sorted(as_of - dt.timedelta(days=r.randint(20, 360)) for _ in movers)
    r.shuffle(movers)
    taken: set[int] = set()
    for k, i in enumerate(movers):  # movers[k] moved on dates[k], earliest first
        hh.move_date[i] = dates[k]
        later = [m for m in movers[k + 1 :] if hh.addr[m] not in taken]
        choice = r.weighted((("empty", 0.45), ("chain", 0.35), ("outside", 0.2)))
        if choice == "chain" and later:
            old = hh.addr[r.pick(later)]  # another family has moved in since
        elif choice == "outside" or not empty:
            old = _outside_address(r, addresses)
        else:
            old = empty.pop()
        taken.add(old)
        hh.old_addr[i] = old
    for i in range(n_in, households):  # some out-of-area households moved out of the area
        if r.chance(0.25) and empty:
            hh.old_addr[i] = empty.pop()
            hh.move_date[i] = as_of - dt.timedelta(days=r.randint(20, 300))

    people = People()
    mk = _PeopleMaker(r, as_of, people)
    for i in range(households):
        hh.members[i] = _make_household(mk, i, hh.kind[i], hh.tier[i])

    schools = []
    urn = 131_000 + r.randint(0, 5000)
    for _ in range(n_primary + n_secondary + 2):
        urn += r.randint(1, 97)
        schools.append(f"{urn:06d}")
    world = World(as_of, addresses, n_gaz, hh, people, schools, n_primary, n_secondary)
    assign_identifiers(r, world, range(len(people)), world_ranges(len(people)))
    return world
