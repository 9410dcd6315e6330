"""Render the true world as the ten agency extracts, each with its own habits and faults.

Every event becomes one row of its source in the canonical columns of
:data:`tfident.ingest.sources.SOURCES`. The person's name, date of birth, address and
identifier are written as the agency holds them: the address of the record's date (or
the old one, when the agency never heard of a move), in the agency's house style, and
with the faults of :mod:`tfident.synth.faults` at that source's rates. Record ids look
like each agency's own and are given in a shuffled order, so row order says nothing
about households.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from tfident.ingest.sources import SOURCES
from tfident.synth import faults as ft
from tfident.synth.dates import age_at
from tfident.synth.events import EVENT_COLUMNS, Events
from tfident.synth.names import DIMINUTIVES, nickname_table
from tfident.synth.population import Rand, World, one_name
from tfident.synth.profiles import DEFAULT_PROFILE, Profile

RECORD_ID_FORMATS: dict[str, str] = {
    "school_census": "SC{:07d}",
    "attendance": "ATT-{:07d}",
    "exclusions": "EXC{:06d}",
    "youth_offending": "YOS/{:06d}",
    "asb": "ASB-{:06d}",
    "benefits": "DWP{:08d}",
    "social_care": "CSC{:07d}",
    "domestic_abuse": "DA-{:07d}",
    "health": "HLT{:07d}",
}
"""How each agency spells its record ids."""

ID_COLUMN: dict[str, str] = {
    name: source.person_identifiers[0] for name, source in SOURCES.items() if source.person_identifiers
}
"""The identifier column each source carries, if any (the generator writes one per source)."""


def _empty_person_columns() -> dict[str, list[Any]]:
    return {
        c: []
        for c in (
            "forename",
            "middle_names",
            "surname",
            "date_of_birth",
            "sex",
            "address_line_1",
            "address_line_2",
            "address_line_3",
            "town",
            "postcode",
            "uprn",
            "id",
        )
    }


class _Renderer:
    """Writes the people of one world into agency rows, logging every fault it adds."""

    def __init__(self, world: World, seed: int, profile: Profile = DEFAULT_PROFILE) -> None:
        self.w = world
        self.seed = seed
        self.profile = profile
        self.marked: dict[str, frozenset[int]] = {}
        """Rows (per source) that alone show a family's move (``move_seen_by_one``)."""
        self.nicknames = nickname_table()
        self._addr_cache: dict[tuple[int, int], tuple[str, str, str, str]] = {}
        p, h = world.people, world.households
        nhs: list[str | None] = list(p.nhs)
        self.id_values: dict[str, list[str | None]] = {"upn": p.upn, "nino": p.nino, "nhs_number": nhs, "pnc_id": p.pnc}
        # people holding each identifier, per household and overall (for "someone else's")
        self.holders: dict[str, list[int]] = {
            k: [i for i, v in enumerate(vals) if v] for k, vals in self.id_values.items()
        }
        self.members = h.members

    def address(self, a: int, style: int) -> tuple[str, str, str, str]:
        """Lines 1-3 and town of address ``a`` in ``style`` (cached)."""
        key = (a, style)
        found = self._addr_cache.get(key)
        if found is None:
            ad = self.w.addresses
            found = ft.address_lines(
                style, ad.flat[a], ad.number[a], ad.street[a], ad.street_type[a], ad.locality[a], ad.town[a]
            )
            self._addr_cache[key] = found
        return found

    def other_id(self, r: Rand, kind: str, person: int) -> str | None:
        """Someone else's identifier: a household member's when there is one, else anyone's."""
        vals = self.id_values[kind]
        same = [m for m in self.members[self.w.people.hh[person]] if m != person and vals[m]]
        if same:
            return vals[r.pick(same)]
        pool = self.holders[kind]
        if len(pool) < 2:
            return None
        other = r.pick(pool)
        return vals[other] if other != person else None

    def render(
        self, source: str, cols: dict[str, list[Any]], stream: int, current: frozenset[int] = frozenset()
    ) -> tuple[dict[str, list[Any]], list[tuple[int, str]]]:
        """The person columns of every row of ``source`` and the faults added (row, kind).

        Rows in ``current`` were made at the address the person lives at then (a claim
        made after a move): the agency's address for them is never stale.
        """
        w, p, h, ad = self.w, self.w.people, self.w.households, self.w.addresses
        r = Rand(self.seed, stream)
        R = self.profile.rates_for(source)
        # the profile's own faults draw from a second stream, so the default's draws never change
        extra = None if self.profile.is_default else _ProfileFaults(self, source, R, Rand(self.seed, stream + 500_000))
        styles = ft.ADDRESS_STYLES[source]
        id_kind = ID_COLUMN.get(source)
        out = _empty_person_columns()
        logged: list[tuple[int, str]] = []
        lag: dict[int, bool] = {}
        n_gaz = w.n_gazetteer
        stayed = w.stayed
        # cumulative thresholds for the one-of-several choices
        f_nick = R["forename_nickname"]
        f_typo = f_nick + R["forename_typo"]
        f_init = f_typo + R["forename_initial"]
        f_miss = f_init + R["forename_missing"]
        f_mid = f_miss + R["forename_middle"]
        d_trans, d_miss, d_typo = R["dob_transposed"], R["dob_missing"], R["dob_typo"]
        pc_ns = R["postcode_no_space"]
        pc_lo = pc_ns + R["postcode_lower"]
        pc_wr = pc_lo + R["postcode_wrong"]
        pc_mi = pc_wr + R["postcode_missing"]
        i_miss = R["id_missing"]
        i_inv = i_miss + R["id_invalid"]
        i_oth = i_inv + R["id_other_person"]
        for row, (person, addr_date) in enumerate(zip(cols["person"], cols["addr_date"], strict=True)):
            # forename
            forename: str | None = p.forename[person]
            middle = p.middle[person]
            x = r.random()
            if x < f_nick:
                options = self.nicknames.get(p.forename[person].lower())
                if options:
                    forename = r.pick(options)
                    logged.append((row, "forename_nickname"))
            elif x < f_typo:
                forename = ft.typo(p.forename[person], r)
                logged.append((row, "forename_typo"))
            elif x < f_init:
                forename = p.forename[person][0]
                logged.append((row, "forename_initial"))
            elif x < f_miss:
                forename = None
                logged.append((row, "forename_missing"))
            elif x < f_mid and middle:
                forename, middle = middle, None
                logged.append((row, "forename_middle"))
            if r.random() >= R["middle_names"]:
                middle = None
            # surname
            surname = p.surname[person]
            alt = p.alt_surname[person]
            if alt and r.random() < R["surname_former"]:
                surname = alt
                logged.append((row, "surname_former"))
            elif "-" in surname and r.random() < R["surname_hyphen"]:
                surname = ft.hyphen_variant(surname, r)
                logged.append((row, "surname_hyphen"))
            elif "'" in surname and r.random() < R["surname_punctuation"]:
                surname = surname.replace("'", "" if r.chance(0.7) else " ")
                logged.append((row, "surname_punctuation"))
            elif r.random() < R["surname_typo"]:
                surname = ft.typo(surname, r)
                logged.append((row, "surname_typo"))
            upper = r.random() < R["upper_case"]
            if upper:
                surname = surname.upper()
                forename = forename.upper() if forename else forename
                middle = middle.upper() if middle else middle
            # date of birth and sex
            dob: dt.date | None = p.dob[person]
            x = r.random()
            if x < d_trans:
                swapped = ft.transposed(p.dob[person])
                if swapped is not None:
                    dob = swapped
                    logged.append((row, "dob_transposed"))
            elif x < d_trans + d_miss:
                dob = None
                logged.append((row, "dob_missing"))
            elif x < d_trans + d_miss + d_typo:
                dob = ft.dob_typo(p.dob[person], r)
                logged.append((row, "dob_typo"))
            sex: str | None = p.sex[person]
            if r.random() < R["sex_missing"]:
                sex = None if r.chance(0.7) else "U"
                logged.append((row, "sex_missing"))
            # address: the one at the record's date, or a stale one the agency never updated
            hh = p.hh[person]
            a = h.addr[hh]
            moved = h.move_date[hh]
            if stayed and person in stayed and person not in lag:
                # an adult who stayed when the family moved: the draw their family's move made,
                # so that every other row's faults are as they would have been
                lag[person] = r.random() < R["lag"]
            if moved is not None:
                if person not in lag:
                    lag[person] = r.random() < R["lag"]
                if addr_date < moved:
                    a = h.old_addr[hh]
                elif lag[person] and row not in current:
                    a = h.old_addr[hh]
                    logged.append((row, "address_stale"))
            style = r.weighted(styles)
            line1: str | None
            line2: str | None
            line3: str | None
            town: str | None
            line1, line2, line3, town = self.address(a, style)
            postcode: str | None = ad.postcode[a]
            if r.random() < R["address_missing"]:
                line1 = line2 = line3 = town = None
                logged.append((row, "address_missing"))
            x = r.random()
            if x < pc_ns:
                postcode = ad.postcode[a].replace(" ", "")
                logged.append((row, "postcode_no_space"))
            elif x < pc_lo:
                postcode = ad.postcode[a].lower()
                logged.append((row, "postcode_lower"))
            elif x < pc_wr:
                postcode = ft.wrong_postcode(ad.postcode[a], r)
                logged.append((row, "postcode_wrong"))
            elif x < pc_mi:
                postcode = None
                logged.append((row, "postcode_missing"))
            uprn: str | None = None
            if ad.uprn[a] is not None and r.random() < R["uprn_held"]:
                uprn = str(ad.uprn[a])
                if r.random() < R["uprn_wrong"]:
                    near = min(max(a + r.pick((-2, -1, 1, 2)), 0), n_gaz - 1)
                    if near != a:
                        uprn = str(ad.uprn[near])
                        logged.append((row, "uprn_wrong"))
            # identifier
            ident: str | None = None
            if id_kind is not None:
                ident = self.id_values[id_kind][person]
                if ident is not None:
                    if p.no_ids[person]:
                        ident = None
                        logged.append((row, "no_identifiers"))
                    else:
                        x = r.random()
                        if x < i_miss:
                            ident = None
                            logged.append((row, "id_missing"))
                        elif x < i_inv:
                            ident = self.typo_id(id_kind, ident, r)
                            logged.append((row, "id_invalid"))
                        elif x < i_oth:
                            other = self.other_id(r, id_kind, person)
                            if other is not None:
                                ident = other
                                logged.append((row, "id_other_person"))
            if extra is not None:
                (forename, middle, surname, dob, postcode, uprn, ident, line1, line2, line3) = extra.apply(
                    row,
                    person,
                    a,
                    style,
                    upper,
                    logged,
                    (forename, middle, surname, dob, postcode, uprn, ident, line1, line2, line3),
                )
            o = out
            o["forename"].append(forename)
            o["middle_names"].append(middle)
            o["surname"].append(surname)
            o["date_of_birth"].append(dob)
            o["sex"].append(sex)
            o["address_line_1"].append(line1 or None)
            o["address_line_2"].append(line2 or None)
            o["address_line_3"].append(line3 or None)
            o["town"].append(town or None)
            o["postcode"].append(postcode)
            o["uprn"].append(uprn)
            o["id"].append(ident)
        return out, logged

    @staticmethod
    def typo_id(kind: str, value: str, r: Rand) -> str:
        """A mistyped identifier of ``kind``."""
        if kind == "upn":
            return ft.upn_typo(value, r)
        if kind == "nhs_number":
            return ft.nhs_typo(value, r)
        if kind == "pnc_id":
            return ft.pnc_typo(value, r)
        return ft.nino_typo(value, r)


def _unlog(logged: list[tuple[int, str]], row: int, prefix: str) -> None:
    """Drop the faults of ``row`` (the last rows logged) whose kind starts with ``prefix``."""
    i = len(logged)
    while i > 0 and logged[i - 1][0] == row:
        i -= 1
    logged[i:] = [entry for entry in logged[i:] if not entry[1].startswith(prefix)]


_Row = tuple[Any, Any, Any, Any, Any, Any, Any, Any, Any, Any]
"""forename, middle, surname, dob, postcode, uprn, identifier, address lines 1-3."""


class _ProfileFaults:
    """The faults only an error profile adds, drawn from their own random stream.

    Each strikes a record the default faults left alone in that respect (a diminutive only
    for a forename written as it is, a day digit only for a date of birth written as it
    is), so every fault logged is one difference from the truth. Choices about a person in
    one agency (known by a middle name, a wrong UPN) are fixed by the seed, the person and
    the source, so they hold for every record and every month.
    """

    def __init__(self, renderer: _Renderer, source: str, rates: dict[str, float], r: Rand) -> None:
        self.rd, self.source, self.R, self.r = renderer, source, rates, r
        self.marked = renderer.marked.get(source, frozenset())

    def known_by_middle(self, person: int) -> bool:
        """Whether ``source`` is the one agency that knows this child by the middle name."""
        w, seed = self.rd.w, self.rd.seed
        p = w.people
        middle = p.middle[person]
        if not middle or age_at(p.dob[person], w.as_of) >= 18 or self.clashes(person, middle):
            return False
        pid = p.pid[person]
        if ft.stable_uniform(seed, "known_by_middle", pid) >= self.R["known_by_middle"]:
            return False
        choice = ft.stable_uniform(seed, "known_by_middle_source", pid)
        return self.source == PERSON_SOURCE_ORDER[int(choice * len(PERSON_SOURCE_ORDER))]

    def clashes(self, person: int, name: str) -> bool:
        """Whether ``name`` is (a form of) another household member's forename: a twin known by
        a middle name that is the co-twin's forename would be the co-twin on paper.
        """
        p = self.rd.w.people
        return any(m != person and one_name(name, p.forename[m]) for m in self.rd.members[p.hh[person]])

    def apply(
        self, row: int, person: int, a: int, style: int, upper: bool, logged: list[tuple[int, str]], values: _Row
    ) -> _Row:
        """The row's values with the profile's faults added (logged in ``logged``)."""
        forename, middle, surname, dob, postcode, uprn, ident, line1, line2, line3 = values
        r, R, p, seed = self.r, self.R, self.rd.w.people, self.rd.seed
        ad = self.rd.w.addresses

        def case(name: str) -> str:
            return name.upper() if upper else name

        true_forename = case(p.forename[person])
        # forename: known by the middle name in one agency, or a diminutive
        if self.known_by_middle(person):
            forename, middle = case(p.middle[person] or ""), None
            _unlog(logged, row, "forename_")  # the agency's name for the child replaces any other forename fault
            logged.append((row, "known_by_middle"))
        elif forename == true_forename and r.random() < R["forename_diminutive"]:
            options = DIMINUTIVES.get(p.forename[person].lower())
            if options:
                pet = r.pick(options)
                if not self.clashes(person, pet):
                    forename = case(pet)
                    logged.append((row, "forename_diminutive"))
        # forename and surname swapped, or a typo in each
        x = r.random()
        if forename and x < R["name_swapped"]:
            forename, surname = surname, forename
            logged.append((row, "name_swapped"))
        elif forename and x < R["name_swapped"] + R["name_typo_both"]:
            forename, surname = ft.typo(forename, r), ft.typo(surname, r)
            logged.append((row, "name_typo_both"))
        # date of birth: a day digit or the year mis-keyed
        x = r.random()
        if dob == p.dob[person]:
            if x < R["dob_day_digit"]:
                changed = ft.dob_day_digit(dob)
                if changed is not None:
                    dob = changed
                    logged.append((row, "dob_day_digit"))
            elif x < R["dob_day_digit"] + R["dob_year"]:
                dob = ft.dob_year(dob, r)
                logged.append((row, "dob_year"))
        # a careless record: the postcode missing or mistyped, and one other difference
        if postcode == ad.postcode[a] and r.random() < R["careless"]:
            logged.append((row, "careless"))
            if r.chance(0.5):
                postcode = None
                logged.append((row, "postcode_missing"))
            else:
                postcode = ft.wrong_postcode(ad.postcode[a], r)
                logged.append((row, "postcode_wrong"))
            other = r.pick(("forename_typo", "surname_typo", "dob_typo", "dob_day_digit"))
            if other == "forename_typo" and forename:
                forename = ft.typo(forename, r)
            elif other == "surname_typo" or (other == "forename_typo" and not forename):
                other = "surname_typo"
                surname = ft.typo(surname, r)
            elif dob is not None:
                day_digit = ft.dob_day_digit(dob) if other == "dob_day_digit" else None
                other = "dob_day_digit" if day_digit is not None else "dob_typo"
                dob = day_digit or dob + dt.timedelta(days=r.pick((-1, 1)))
            else:
                other = "surname_typo"
                surname = ft.typo(surname, r)
            logged.append((row, other))
        # a flat written without its flat: several gazetteer entries fit
        if ad.flat[a] is not None and line1 is not None and r.random() < R["address_flat_missing"]:
            no_flat = ft.address_lines(
                style, None, ad.number[a], ad.street[a], ad.street_type[a], ad.locality[a], ad.town[a]
            )
            line1, line2, line3 = (v or None for v in no_flat[:3])
            logged.append((row, "address_flat_missing"))
        w = self.rd.w
        if a in w.unlisted:
            uprn = None  # nobody holds a UPRN the LLPG has not issued
            logged.append((row, "address_not_in_gazetteer"))
        elif a in w.duplicates:
            logged.append((row, "address_ambiguous"))
        if row in self.marked:
            logged.append((row, "move_seen_by_one"))
        # a pupil's UPN in one school source: mis-keyed (valid, not theirs) or temporary
        if ID_COLUMN.get(self.source) == "upn" and ident is not None and ident == p.upn[person]:
            u = ft.stable_uniform(seed, "upn", p.pid[person], self.source)
            if u < R["upn_rekeyed"] + R["upn_temporary"]:
                fixed = Rand(int(ft.stable_uniform(seed, "upn_value", p.pid[person], self.source) * 2**40), 0)
                if u < R["upn_rekeyed"]:
                    ident = ft.upn_rekeyed(ident, fixed)
                    logged.append((row, "upn_rekeyed"))
                else:
                    ident = ft.upn_temporary(ident, fixed)
                    logged.append((row, "upn_temporary"))
        return forename, middle, surname, dob, postcode, uprn, ident, line1, line2, line3


def _frame(source: str, data: dict[str, list[Any]]) -> pl.DataFrame:
    """A frame of exactly the canonical columns of ``source``, typed (a column a later contract version
    added to the source, ``added_in``, only when ``data`` has it).
    """
    columns = [c for c in SOURCES[source].columns if c.added_in is None or c.name in data]
    # identifiers are written as the agency sends them: text (a UPRN too, until ingest reads it)
    return pl.DataFrame(
        {
            c.name: pl.Series(c.name, data[c.name], dtype=pl.String() if c.type == "identifier" else c.polars_type)
            for c in columns
        },
    )


def gazetteer_frame(world: World) -> pl.DataFrame:
    """The council's LLPG: every in-area address in the gazetteer's own style, by UPRN."""
    ad = world.addresses
    data: dict[str, list[Any]] = {c: [] for c in SOURCES["gazetteer"].column_names}
    listed = [a for a in range(world.n_gazetteer) if a not in world.unlisted]
    rows = [(a, ad.uprn[a]) for a in listed] + [(a, uprn) for a, uprn in sorted(world.duplicates.items())]
    for a, uprn in rows:
        l1, l2, l3, town = ft.address_lines(
            0, ad.flat[a], ad.number[a], ad.street[a], ad.street_type[a], ad.locality[a], ad.town[a]
        )
        data["uprn"].append(str(uprn))
        data["address_line_1"].append(l1 or None)
        data["address_line_2"].append(l2 or None)
        data["address_line_3"].append(l3 or None)
        data["town"].append(town)
        data["postcode"].append(ad.postcode[a])
    return _frame("gazetteer", data)


def render_source(
    renderer: _Renderer,
    source: str,
    cols: dict[str, list[Any]],
    seed: int,
    stream: int,
    *,
    render_stream: int | None = None,
    id_offset: int = 0,
    shuffle_key: tuple[int, ...] | None = None,
    current: frozenset[int] = frozenset(),
    record_id_format: str | None = None,
    event_columns: tuple[str, ...] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One source's rows, in event order: ``(rows, truth, faults)``.

    Record ids are ``RECORD_ID_FORMATS[source]`` of ``start + id_offset + position``,
    where ``start`` depends on the seed and the source's ``stream`` and ``position`` is a
    shuffle (by ``shuffle_key``, default ``(seed, stream)``) of the rows. A later month
    renders only its new events, with its own ``render_stream`` and ``shuffle_key`` and
    ``id_offset`` past the ids already issued, so earlier records keep their ids and text.
    ``current``: rows whose address is never stale (see :meth:`_Renderer.render`).
    ``record_id_format`` and ``event_columns``: for a source not in :data:`RECORD_ID_FORMATS`
    (the optional sources of :mod:`tfident.synth.supporting`).
    """
    p, h = renderer.w.people, renderer.w.households
    fmt = RECORD_ID_FORMATS[source] if record_id_format is None else record_id_format
    n = len(cols["person"])
    person_cols, logged = renderer.render(source, cols, stream if render_stream is None else render_stream, current)
    # shuffle so that record ids (and row order) say nothing about households
    key = list(shuffle_key) if shuffle_key is not None else [seed, stream]
    order = np.random.default_rng(key).permutation(n).tolist()
    position = [0] * n
    for pos, row in enumerate(order):
        position[row] = pos
    start = 1000 + (seed * 7919 + stream * 104729) % 90000 + id_offset
    ids_by_row = [fmt.format(start + position[row]) for row in range(n)]
    data: dict[str, list[Any]] = {"record_id": ids_by_row, **person_cols}
    if source in ID_COLUMN:
        data[ID_COLUMN[source]] = person_cols["id"]
    for name in EVENT_COLUMNS[source] if event_columns is None else event_columns:
        data[name] = cols[name]
    frame = _frame(source, data)
    truth = pl.DataFrame(
        {
            "source": [source] * n,
            "record_id": ids_by_row,
            "true_person_id": [p.pid[i] for i in cols["person"]],
            "true_household_id": [h.hid[p.hh[i]] for i in cols["person"]],
        },
        schema={c: pl.String for c in ("source", "record_id", "true_person_id", "true_household_id")},
    )
    faults = pl.DataFrame(
        {
            "source": [source] * len(logged),
            "record_id": [ids_by_row[row] for row, _ in logged],
            "fault": [kind for _, kind in logged],
        },
        schema={"source": pl.String, "record_id": pl.String, "fault": pl.String},
    )
    return frame, truth, faults


PERSON_SOURCE_ORDER: tuple[str, ...] = tuple(RECORD_ID_FORMATS)
"""The person sources, in a fixed order (for choices about one agency)."""

SOURCE_STREAMS: dict[str, int] = {source: stream for stream, source in enumerate(RECORD_ID_FORMATS, start=10)}
"""The random stream of each person source (its record ids and its rendering)."""


def render_extracts(
    world: World, events: Events, seed: int, profile: Profile = DEFAULT_PROFILE
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame, pl.DataFrame]:
    """Every extract, plus the truth of each record and the log of faults.

    Returns ``(extracts, truth_persons, faults)``: ``truth_persons`` has ``source,
    record_id, true_person_id, true_household_id``; ``faults`` has ``source, record_id,
    fault`` (one row per fault added to a record).
    """
    renderer = _Renderer(world, seed, profile)
    extracts: dict[str, pl.DataFrame] = {"gazetteer": gazetteer_frame(world)}
    truths: list[pl.DataFrame] = []
    fault_frames: list[pl.DataFrame] = []
    for source, stream in SOURCE_STREAMS.items():
        frame, truth, faults = render_source(renderer, source, events.cols[source], seed, stream)
        extracts[source] = frame.sort("record_id")
        truths.append(truth)
        fault_frames.append(faults)
    truth_persons = pl.concat(truths).sort("source", "record_id")
    fault_log = pl.concat(fault_frames).sort("source", "record_id", "fault")
    return extracts, truth_persons, fault_log
