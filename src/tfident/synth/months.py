"""The same synthetic council a month (or several) later: same people, same records, some moves.

Month 0 is the batch of :func:`tfident.synth.generate_batch`. Each later month starts
from the one before and:

* **churn**: a share (``churn``, 5% by default) of the households living in the area
  move on a day of the new month: three in four to an empty address of the gazetteer,
  one in four out of the area. As many new households arrive from outside as left, at
  empty addresses (often one a family has just left, so a different family now lives
  there); they bring a full history of events, from before they came (at their old,
  out-of-area address) and after. Identifiers first issued in a later month (newcomers'
  NHS numbers, NINOs and UPNs, the PNC IDs of first arrests) come from ranges above every
  one issued before (:func:`~tfident.synth.population.newcomer_ranges`);
* **persisting records**: every record of the month before is in the new extracts with
  the same record id and the same text (an agency's record of a past event does not
  change), except that the record of the school term in progress of a child whose
  family moved in the area shows the new address (the school updated it), as do the
  open records of a family that moved (below);
* **new records**: each family that moved claims housing benefit or council tax
  reduction at its new address (one claim per adult), and its housing claims still
  running at the old address end the day before the move (the rows of earlier months
  show the end from this month on), and the records it has open (a live claim, an open
  social care episode) now show the new address, unless the agency lags (the source's
  ``lag`` rate); and every household in the area
  may have something new happen in the month (an ASB incident or intervention, a
  health indicator, an out-of-work benefit claim, a domestic abuse incident), more often
  in households with more problems. New records get new ids, after the ids already used.

* **corrections** (``corrections``, none by default): a share of the earlier records that
  carry a name or date-of-birth fault are corrected by their agency: the same record id
  now has the forename, surname and date of birth of a fault-free record of the same
  person (the fault leaves the fault log). An incremental run must see them as changed.

The truth is recomputed on the new batch date from every event, so it stays exact.
True household ids are the family's, and do not change when a family moves.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from tfident.synth import faults as ft
from tfident.synth.dates import age_at
from tfident.synth.events import ASB_TOOLS, EVENT_COLUMNS, OUT_OF_WORK, Events, _Maker, build_events
from tfident.synth.extracts import SOURCE_STREAMS, _Renderer, gazetteer_frame, render_source
from tfident.synth.population import (
    HOUSEHOLD_KINDS,
    KIDS_KINDS,
    Rand,
    World,
    _make_household,
    _outside_address,
    _PeopleMaker,
    assign_identifiers,
    build_world,
    newcomer_pnc_serial,
    newcomer_ranges,
)
from tfident.synth.profiles import DEFAULT_PROFILE, Profile

MOVE_WITHIN_AREA = 0.75
"""Of the households that move in a month, the share that stay in the area."""

MONTHLY_EVENT_CHANCE = {0: 0.03, 1: 0.10, 2: 0.25}
"""Chance that something new happens to a household in a month, by tier."""

ADDRESS_FAULTS = frozenset(
    {"address_stale", "address_missing", "postcode_no_space", "postcode_lower", "postcode_wrong", "postcode_missing"}
    | {"uprn_wrong", "address_flat_missing", "address_not_in_gazetteer", "address_ambiguous"}
)
ADDRESS_COLUMNS = ("address_line_1", "address_line_2", "address_line_3", "town", "postcode", "uprn")


def month_date(as_of: dt.date, offset: int) -> dt.date:
    """The batch date ``offset`` months after ``as_of``: a month end stays a month end."""
    month0 = as_of.year * 12 + as_of.month - 1 + offset
    year, month = divmod(month0, 12)
    last = calendar.monthrange(year, month + 1)[1]
    month_end = as_of.day == calendar.monthrange(as_of.year, as_of.month)[1]
    return dt.date(year, month + 1, last if month_end else min(as_of.day, last))


@dataclass
class MonthState:
    """Everything a month hands to the next: the world, every event, every rendered row."""

    seed: int
    month: int
    world: World
    events: Events
    rows: dict[str, pl.DataFrame]
    """Rendered rows per person source, in event order."""
    truth: dict[str, pl.DataFrame]
    """``source, record_id, true_person_id, true_household_id`` per source, in event order."""
    faults: pl.DataFrame
    moved: pl.DataFrame
    """The households that moved or arrived in this month (empty for month 0):
    ``true_household_id, change`` (``moved``, ``left`` or ``arrived``)."""
    profile: Profile = DEFAULT_PROFILE
    """The error profile every month of the council is rendered with."""

    def extracts(self) -> dict[str, pl.DataFrame]:
        """Every extract of the month, rows sorted by record id."""
        out = {"gazetteer": gazetteer_frame(self.world)}
        for source in SOURCE_STREAMS:
            out[source] = self.rows[source].sort("record_id")
        return out

    def truth_persons(self) -> pl.DataFrame:
        """The truth of every record, sorted."""
        return pl.concat([self.truth[s] for s in SOURCE_STREAMS]).sort("source", "record_id")


def first_month(households: int, seed: int, as_of: dt.date, profile: Profile = DEFAULT_PROFILE) -> MonthState:
    """Month 0: exactly the batch of ``generate_batch(households, seed, as_of, profile=profile)``."""
    world = build_world(households, seed, as_of)
    events = build_events(world, seed)
    renderer = _Renderer(world, seed, profile)
    if not profile.is_default:
        _unlist_new_builds(world, seed, profile.new_build_share)
        _duplicate_gazetteer_entries(world, seed, profile.gazetteer_duplicate_share)
        renderer.marked = _moves_seen_by_one(world, events, seed, profile.move_seen_by_one)
        _separate_parents(world, events, seed, profile.separated_share, renderer.marked)
    rows: dict[str, pl.DataFrame] = {}
    truth: dict[str, pl.DataFrame] = {}
    faults: list[pl.DataFrame] = []
    for source, stream in SOURCE_STREAMS.items():
        rows[source], truth[source], logged = render_source(
            renderer, source, events.cols[source], seed, stream, current=renderer.marked.get(source, frozenset())
        )
        faults.append(logged)
    moved = pl.DataFrame(schema={"true_household_id": pl.String, "change": pl.String})
    return MonthState(seed, 0, world, events, rows, truth, pl.concat(faults), moved, profile)


def _unlist_new_builds(world: World, seed: int, share: float) -> None:
    """Leave whole streets out of the gazetteer (new builds the LLPG does not hold yet) until
    about ``share`` of the in-area households live on them.
    """
    if share <= 0:
        return
    r = Rand(seed, 4001)
    h, ad = world.households, world.addresses
    occupied = {h.addr[i] for i in range(len(h.hid)) if h.in_area[i]}
    streets: dict[tuple[str, int, str], list[int]] = {}
    for a in range(world.n_gazetteer):
        streets.setdefault((ad.street[a], ad.street_type[a], ad.postcode[a].split(" ")[0]), []).append(a)
    keys = sorted(streets)
    order = list(range(len(keys)))
    r.shuffle(order)
    target = share * len(occupied)
    housed = 0
    for k in order:
        if housed >= target:
            break
        addresses = streets[keys[k]]
        in_use = sum(1 for a in addresses if a in occupied)
        if in_use == 0 or housed + in_use > target * 1.5 + 2:
            continue  # a street nobody lives on says nothing; one too big overshoots
        world.unlisted.update(addresses)
        housed += in_use


def _duplicate_gazetteer_entries(world: World, seed: int, share: float) -> None:
    """Give ``share`` of the gazetteer's addresses a second UPRN (the LLPG holds them twice)."""
    if share <= 0:
        return
    r = Rand(seed, 4002)
    ad = world.addresses
    listed = [a for a in range(world.n_gazetteer) if a not in world.unlisted]
    top = max((u for u in ad.uprn if u is not None), default=0)
    picked = sorted(a for a in listed if r.chance(share))
    for k, a in enumerate(picked, start=1):
        world.duplicates[a] = top + 1000 + k


def _moves_seen_by_one(world: World, events: Events, seed: int, share: float) -> dict[str, frozenset[int]]:
    """Families that moved in the last year but after all their records: one member gets a
    record (an ASB incident logged by the police) dated after the move, at the new address;
    the others have no record since. ``share`` of the eligible movers (in the area, two or
    more members, the old home taken by nobody, a gap of 3 days or more after their last
    record) are made so; returns the rows added, per source.

    The move date is put after the family's last record and after the day the family that
    lived at the new address moved out. Truth is unchanged: the whole family lives at the new
    address on the batch date, so every record stays in its true household.
    """
    if share <= 0:
        return {}
    r = Rand(seed, 4003)
    h, p, as_of = world.households, world.people, world.as_of
    latest: dict[int, dt.date] = {}
    for cols in events.cols.values():
        for person, day in zip(cols["person"], cols["addr_date"], strict=True):
            if day > latest.get(person, dt.date.min):
                latest[person] = day
    occupied = {h.addr[i] for i in range(len(h.hid))}
    left_on = {h.old_addr[i]: h.move_date[i] for i in range(len(h.hid)) if h.old_addr[i] >= 0}
    first_row = len(events.cols["asb"]["person"])
    for i in range(len(h.hid)):
        moved = h.move_date[i]
        members = h.members[i]
        if moved is None or not h.in_area[i] or h.old_addr[i] < 0 or len(members) < 2:
            continue
        if h.old_addr[i] in occupied or not r.chance(share):
            continue
        last = max([latest.get(m, as_of - dt.timedelta(days=400)) for m in members])
        vacated = left_on.get(h.addr[i])
        if vacated is not None:
            last = max(last, vacated)
        gap = (as_of - last).days
        if gap < 3:
            continue
        new_move = last + dt.timedelta(days=r.randint(1, gap - 1))
        h.move_date[i] = new_move
        day = new_move + dt.timedelta(days=r.randint(0, (as_of - new_move).days))
        older = [m for m in members if age_at(p.dob[m], as_of) >= 10]
        person = r.pick(older or members)
        events.add("asb", person, day, intervention_type="INCIDENT", intervention_date=day, agency="Tenford Police")
    return {"asb": frozenset(range(first_row, len(events.cols["asb"]["person"])))}


def _separate_parents(world: World, events: Events, seed: int, share: float, marked: dict[str, frozenset[int]]) -> None:
    """One adult stays behind when the family moves: of the in-area households that moved in the
    last year from a home now empty (not one another family has moved into, not one outside the
    area) and have two or more adults, ``share`` leave one adult (a parent where there is one,
    else an adult other than a grown-up child, else any adult; never the member whose record
    alone shows a ``move_seen_by_one`` move) at the old address.

    The stayer becomes a true household of their own (a new id, after the others, so no other
    id changes) at the old address, with no move: every record of theirs, before and after the
    family's move date, gives the old address. Their events are the ones they had; the family
    keeps its other members, address and move. ``world.stayed`` records each stayer.
    """
    if share <= 0:
        return
    r = Rand(seed, 4004)
    h, p, as_of = world.households, world.people, world.as_of
    seen_by = {events.cols[source]["person"][row] for source, rows in marked.items() for row in rows}
    occupied = {h.addr[i] for i in range(len(h.hid))}
    for i in range(len(h.hid)):
        old = h.old_addr[i]
        if h.move_date[i] is None or not h.in_area[i] or not 0 <= old < world.n_gazetteer or old in occupied:
            continue
        adults = [m for m in h.members[i] if age_at(p.dob[m], as_of) >= 18]
        if len(adults) < 2 or not r.chance(share):
            continue
        free = [m for m in adults if m not in seen_by]
        candidates = (
            [m for m in free if p.role[m] == "parent"] or [m for m in free if p.role[m] != "adult_child"] or free
        )
        if not candidates:
            continue
        stayer = r.pick(candidates)
        j = len(h.hid)
        h.hid.append(f"TH{j + 1:06d}")
        h.addr.append(old)
        h.old_addr.append(-1)
        h.move_date.append(None)
        h.in_area.append(True)
        h.tier.append(h.tier[i])
        h.kind.append("single")
        h.members.append([stayer])
        h.primary.append(h.primary[i])
        h.secondary.append(h.secondary[i])
        h.members[i] = [m for m in h.members[i] if m != stayer]
        p.hh[stayer] = j
        world.stayed[stayer] = i
        occupied.add(old)


def _churn(
    r: Rand, world: World, previous: dt.date, churn: float, month: int, keep: frozenset[int] = frozenset()
) -> tuple[list[int], list[int], list[int]]:
    """Move, remove and add households (never those in ``keep``); returns ``(moved, left, arrived)``."""
    h, as_of = world.households, world.as_of
    span = max((as_of - previous).days, 1)
    occupied = {h.addr[i] for i in range(len(h.hid)) if h.in_area[i]}
    empty = [a for a in range(world.n_gazetteer) if a not in occupied]
    r.shuffle(empty)
    living = [i for i in range(len(h.hid)) if h.in_area[i] and i not in keep]
    r.shuffle(living)
    churners = sorted(living[: round(len(living) * churn)])
    moved: list[int] = []
    left: list[int] = []
    vacated: list[int] = []
    for i in churners:
        stays = r.chance(MOVE_WITHIN_AREA) and bool(empty)
        h.old_addr[i] = h.addr[i]
        h.move_date[i] = previous + dt.timedelta(days=r.randint(1, span))
        vacated.append(h.addr[i])
        if stays:
            h.addr[i] = empty.pop()
            moved.append(i)
        else:
            h.addr[i] = _outside_address(r, world.addresses)
            h.in_area[i] = False
            left.append(i)
    empty += vacated  # homes just left, for the families arriving
    r.shuffle(empty)
    arrived: list[int] = []
    maker = _PeopleMaker(r, as_of, world.people)
    first_new_person = len(world.people)
    for _ in range(len(left)):
        if not empty:
            break
        i = len(h.hid)
        kind = r.weighted(HOUSEHOLD_KINDS)
        tier = r.weighted(
            ((0, 0.72), (1, 0.16), (2, 0.12)) if kind in KIDS_KINDS else ((0, 0.90), (1, 0.08), (2, 0.02))
        )
        h.hid.append(f"TH{i + 1:06d}")
        h.addr.append(empty.pop())
        h.old_addr.append(_outside_address(r, world.addresses))
        h.move_date.append(previous + dt.timedelta(days=r.randint(1, span)))
        h.in_area.append(True)
        h.tier.append(tier)
        h.kind.append(kind)
        h.members.append([])
        h.primary.append(r.randint(0, world.n_primary - 1))
        h.secondary.append(world.n_primary + r.randint(0, world.n_secondary - 1))
        h.members[i] = _make_household(maker, i, kind, tier)
        arrived.append(i)
    newcomers = range(first_new_person, len(world.people))
    assign_identifiers(r, world, newcomers, newcomer_ranges(month, len(newcomers), world.issued))
    return moved, left, arrived


def _monthly_events(maker: _Maker, previous: dt.date, households: list[int]) -> None:
    """Something new in the month for some households in the area, more often with more problems."""
    r, w = maker.r, maker.w
    span = max((w.as_of - previous).days, 1)
    for hh in households:
        if not r.chance(MONTHLY_EVENT_CHANCE[w.households.tier[hh]]):
            continue
        members = w.households.members[hh]
        adults = [m for m in members if maker.age[m] >= 18]
        day = previous + dt.timedelta(days=r.randint(1, span))
        what = r.weighted((("incident", 0.35), ("asb", 0.1), ("health", 0.2), ("claim", 0.25), ("da", 0.1)))
        if what == "incident":
            maker.asb(hh, r.pick([m for m in members if maker.age[m] >= 10] or members), "INCIDENT", day)
        elif what == "asb":
            maker.asb(hh, r.pick([m for m in members if maker.age[m] >= 10] or members), r.pick(ASB_TOOLS), day)
        elif what == "health":
            maker.health(r.pick(adults or members), day)
        elif what == "claim" and adults:
            maker.claim(r.pick(adults), r.pick(OUT_OF_WORK), live=True, start=day)
        elif what == "da":
            maker.abuse(members, day)


def _readdress_current_term(state: MonthState, moved: list[int], previous: dt.date, r: Rand) -> set[str]:
    """The attendance record of the term in progress of each child of a family that moved
    in the area now shows the new address; returns the record ids changed.
    """
    kids = {m for hh in moved for m in state.world.households.members[hh]}
    cols = state.events.cols["attendance"]
    rows = [
        i
        for i, (person, addr_date, term_end) in enumerate(
            zip(cols["person"], cols["addr_date"], cols["term_end"], strict=True)
        )
        if person in kids and addr_date == previous and term_end > previous
    ]
    return _readdress(state, "attendance", rows, r)


def _readdress(state: MonthState, source: str, rows: list[int], r: Rand) -> set[str]:
    """The rows ``rows`` (event indices) of ``source`` now show their person's address on the
    batch date (the agency updated it); returns the record ids changed.
    """
    if not rows:
        return set()
    w = state.world
    cols = state.events.cols[source]
    renderer = _Renderer(w, state.seed, state.profile)
    styles = ft.ADDRESS_STYLES[source]
    held = state.profile.rates_for(source)["uprn_held"]
    ad = w.addresses
    updates: dict[str, list[Any]] = {"_row": [], **{c: [] for c in ADDRESS_COLUMNS}}
    for i in rows:
        cols["addr_date"][i] = w.as_of
        a = w.households.addr[w.people.hh[cols["person"][i]]]
        line1, line2, line3, town = renderer.address(a, r.weighted(styles))
        updates["_row"].append(i)
        updates["address_line_1"].append(line1 or None)
        updates["address_line_2"].append(line2 or None)
        updates["address_line_3"].append(line3 or None)
        updates["town"].append(town or None)
        updates["postcode"].append(ad.postcode[a])
        held_uprn = ad.uprn[a] is not None and r.random() < held and a not in w.unlisted
        updates["uprn"].append(str(ad.uprn[a]) if held_uprn else None)
    frame = state.rows[source]
    patch = pl.DataFrame(updates, schema={"_row": pl.UInt32, **{c: frame.schema[c] for c in ADDRESS_COLUMNS}})
    indexed = frame.with_row_index("_row")
    changed = set(indexed.filter(pl.col("_row").is_in(patch["_row"].implode()))["record_id"].to_list())
    kept = indexed.filter(~pl.col("_row").is_in(patch["_row"].implode()))
    replaced = indexed.drop(ADDRESS_COLUMNS).join(patch, on="_row", how="inner").select(indexed.columns)
    state.rows[source] = pl.concat([kept, replaced]).sort("_row").drop("_row")
    return changed


OPEN_RECORDS = {"benefits": ("claim_start", "claim_end"), "social_care": ("start_date", "end_date")}
"""Sources whose open records (a live claim, an open episode) show the address the agency holds now."""


def _readdress_open_records(state: MonthState, households: list[int], r: Rand) -> dict[str, set[str]]:
    """The open records of the members of ``households`` (which move this month), begun before
    the move and still open after it, now show the new address, except where the agency lags
    (the source's ``lag`` rate of the profile: it never heard of the move); returns the record
    ids changed, by source.
    """
    h = state.world.households
    moving = {m: h.move_date[hh] for hh in households for m in h.members[hh]}
    changed: dict[str, set[str]] = {}
    for source, (start_column, end_column) in OPEN_RECORDS.items():
        cols = state.events.cols[source]
        lag = state.profile.rates_for(source)["lag"]
        rows = [
            i
            for i, (person, start, end) in enumerate(
                zip(cols["person"], cols[start_column], cols[end_column], strict=True)
            )
            if person in moving and start < moving[person] and (end is None or end >= moving[person])
        ]
        changed[source] = _readdress(state, source, [i for i in rows if r.random() >= lag], r)
    return changed


HOUSING_CLAIMS = ("HB", "CTR")
"""Benefits for the costs of one home: a claim ends when its claimant moves."""


def end_benefit_claims(state: MonthState, ends: dict[int, dt.date]) -> None:
    """Show the claims ended this month in ``state``'s ``benefits`` rows: ``ends`` maps a row's
    position to its claim's end date (other rows keep theirs).
    """
    if not ends:
        return
    rows = state.rows["benefits"].with_row_index("_event")
    state.rows["benefits"] = rows.with_columns(
        pl.col("_event")
        .replace_strict(ends, default=None, return_dtype=pl.Date)
        .fill_null(pl.col("claim_end"))
        .alias("claim_end")
    ).drop("_event")


def _end_housing_claims(state: MonthState, households: list[int]) -> dict[int, dt.date]:
    """End the housing benefit and council tax reduction claims of the members of ``households``
    (which move this month) still running on their move date: the claim was for the home they
    left, so it ends the day before (a new claim is made at the new address). Changes the
    events in place; returns ``{benefits event index: claim_end}`` for the rendered rows.
    """
    h = state.world.households
    moving = {m: h.move_date[hh] for hh in households for m in h.members[hh]}
    cols = state.events.cols["benefits"]
    ended: dict[int, dt.date] = {}
    for i, (person, kind, start, end) in enumerate(
        zip(cols["person"], cols["benefit_type"], cols["claim_start"], cols["claim_end"], strict=True)
    ):
        moved_on = moving.get(person)
        if moved_on is None or kind not in HOUSING_CLAIMS or start >= moved_on:
            continue
        if end is None or end >= moved_on:
            day = max(moved_on - dt.timedelta(days=1), start)
            cols["claim_end"][i] = day
            cols["addr_date"][i] = day
            ended[i] = day
    return ended


FollowHook = Callable[[_Maker, dt.date], None]
"""Called with the month's event maker and the previous batch date, after the month's own events."""


CORRECTABLE_FAULTS = frozenset(
    {"surname_typo", "forename_typo", "dob_typo", "dob_transposed", "forename_nickname", "surname_hyphen"}
)
"""Faults an agency may correct in a later month (``corrections``)."""
CORRECTED_COLUMNS = ("forename", "surname", "date_of_birth")


def _correct_earlier_records(state: MonthState, r: Rand, share: float) -> set[tuple[str, str]]:
    """Correct a ``share`` of the earlier records with a name or date-of-birth fault (see the module
    docstring), in ``state.rows``; the ``(source, record_id)`` corrected.
    """
    faulty = state.faults.filter(pl.col("fault").is_in(sorted(CORRECTABLE_FAULTS)))
    faulted = state.faults.select("source", "record_id").unique()
    truth = pl.concat([state.truth[source] for source in SOURCE_STREAMS])
    rows = pl.concat(
        [
            state.rows[source].select("record_id", *CORRECTED_COLUMNS).with_columns(pl.lit(source).alias("source"))
            for source in SOURCE_STREAMS
        ]
    ).join(truth, on=["source", "record_id"])
    clean = (
        rows.join(faulted, on=["source", "record_id"], how="anti")
        .sort("source", "record_id")
        .group_by("true_person_id", maintain_order=True)
        .first()
        .select("true_person_id", *CORRECTED_COLUMNS)
    )
    targets = (
        faulty.select("source", "record_id")
        .unique()
        .sort("source", "record_id")
        .join(truth, on=["source", "record_id"])
        .join(clean, on="true_person_id")
    )
    chosen = targets.filter(pl.Series([r.chance(share) for _ in range(targets.height)], dtype=pl.Boolean))
    corrected: set[tuple[str, str]] = set()
    for source in SOURCE_STREAMS:
        patch = chosen.filter(pl.col("source") == source).select("record_id", *CORRECTED_COLUMNS)
        if patch.is_empty():
            continue
        frame = state.rows[source]
        patched = frame.join(patch, on="record_id", how="left", suffix="_fix", maintain_order="left")
        state.rows[source] = patched.with_columns(
            [pl.coalesce(f"{c}_fix", c).alias(c) for c in CORRECTED_COLUMNS]
        ).select(frame.columns)
        corrected |= {(source, record_id) for record_id in patch["record_id"]}
    return corrected


def next_month(
    state: MonthState,
    as_of: dt.date,
    churn: float = 0.05,
    corrections: float = 0.0,
    keep: frozenset[int] = frozenset(),
    follow: FollowHook | None = None,
) -> MonthState:
    """The month after ``state``, on ``as_of`` (see the module docstring). ``state`` is used up.

    ``corrections``: the share of earlier faulty records an agency corrects this month.
    ``keep``: households that neither move nor get the month's random events (attached families,
    whose events ``follow`` adds instead: see :mod:`tfident.synth.followup`).
    """
    if not 0 <= churn <= 1:
        raise ValueError("churn must be between 0 and 1")
    if not 0 <= corrections <= 1:
        raise ValueError("corrections must be between 0 and 1")
    w, seed, k = state.world, state.seed, state.month + 1
    previous = w.as_of
    if as_of <= previous:
        raise ValueError("the next month's batch date must be after the previous one")
    w.as_of = as_of
    r = Rand(seed, 1000 + k)
    moved, left, arrived = _churn(r, w, previous, churn, k, keep)

    maker = _Maker(w, seed)
    maker.r = Rand(seed, 2000 + k)
    maker.pnc_serial = newcomer_pnc_serial(k, w.issued)
    for hh in arrived:
        maker.household(hh)
    ended = _end_housing_claims(state, moved + left)
    first_claim = len(maker.ev.cols["benefits"]["person"])
    for hh in moved + left:  # a claim for housing costs, made at the new address
        for m in w.households.members[hh]:
            if maker.age[m] >= 18:
                kind = maker.r.pick(("HB", "CTR"))
                maker.claim(m, kind, live=True, start=w.households.move_date[hh])
    claims = frozenset(range(first_claim, len(maker.ev.cols["benefits"]["person"])))
    new_arrivals = set(arrived)
    in_area = [
        i for i in range(len(w.households.hid)) if w.households.in_area[i] and i not in new_arrivals and i not in keep
    ]
    _monthly_events(maker, previous, in_area)
    if follow is not None:
        follow(maker, previous)
    changed = {"attendance": _readdress_current_term(state, moved, previous, Rand(seed, 3000 + k))}
    for source, ids in _readdress_open_records(state, moved + left, Rand(seed, 3500 + k)).items():
        changed[source] = changed.get(source, set()) | ids
    end_benefit_claims(state, ended)
    corrected = _correct_earlier_records(state, Rand(seed, 4000 + k), corrections) if corrections else set()

    renderer = _Renderer(w, seed, state.profile)
    corrected_keys = sorted(f"{source}:{record_id}" for source, record_id in corrected)
    faults = [
        state.faults.filter(
            ~(
                pl.concat_str("source", pl.lit(":"), "record_id").is_in(
                    sorted(f"{source}:{record_id}" for source, ids in changed.items() for record_id in ids)
                )
                & pl.col("fault").is_in(sorted(ADDRESS_FAULTS))
            )
            & ~(
                pl.concat_str("source", pl.lit(":"), "record_id").is_in(corrected_keys)
                & pl.col("fault").is_in(sorted(CORRECTABLE_FAULTS))
            )
        )
    ]
    for source, stream in SOURCE_STREAMS.items():
        new = maker.ev.cols[source]
        issued = state.rows[source].height
        frame, truth, logged = render_source(
            renderer,
            source,
            new,
            seed,
            stream,
            render_stream=stream + 100 * k,
            id_offset=issued,
            shuffle_key=(seed, stream, k),
            current=claims if source == "benefits" else frozenset(),
        )
        state.rows[source] = pl.concat([state.rows[source], frame])
        state.truth[source] = pl.concat([state.truth[source], truth])
        faults.append(logged)
        for name, values in new.items():
            state.events.cols[source][name].extend(values)
    w.issued.pnc_serial = max(w.issued.pnc_serial, maker.pnc_serial)
    hid = w.households.hid
    moved_frame = pl.DataFrame(
        {
            "true_household_id": [hid[i] for i in moved] + [hid[i] for i in left] + [hid[i] for i in arrived],
            "change": ["moved"] * len(moved) + ["left"] * len(left) + ["arrived"] * len(arrived),
        },
        schema={"true_household_id": pl.String, "change": pl.String},
    )
    return MonthState(seed, k, w, state.events, state.rows, state.truth, pl.concat(faults), moved_frame, state.profile)


def iter_months(
    households: int,
    seed: int,
    as_of: dt.date,
    months: int,
    churn: float = 0.05,
    profile: Profile = DEFAULT_PROFILE,
    corrections: float = 0.0,
) -> Iterator[MonthState]:
    """Months 0 to ``months - 1`` of one synthetic council, the first on ``as_of``.

    Every later month also has the records an area produces whoever is followed (termly
    attendance returns, school census rows, social care episodes, exclusions, proven
    offences: :class:`tfident.synth.followup.FollowUp` with no family attached), so the
    sources stay current and a family's move shows in its children's school records.
    """
    from tfident.synth.followup import FollowUp  # followup builds on this module

    state = first_month(households, seed, as_of, profile)
    routine = FollowUp(seed, as_of, months, 0.0)
    routine.events = state.events
    yield state
    for k in range(1, months):
        state = next_month(state, month_date(as_of, k), churn, corrections, follow=routine)
        yield state


__all__ = ["EVENT_COLUMNS", "MonthState", "first_month", "iter_months", "month_date", "next_month"]
