"""Agency noise: the ways a true name, date, address or identifier goes wrong in an extract.

Each function takes the true value and a :class:`~tfident.synth.population.Rand` and
returns what an agency might hold instead. :data:`FAULT_RATES` gives how often each
fault strikes a record, per source; :mod:`tfident.synth.extracts` applies them.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from tfident.synth import identifiers as ids
from tfident.synth import names as nm
from tfident.synth.population import Rand

KEYBOARD_NEIGHBOURS = {
    "a": "sqz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo",
    "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w", "r": "et",
    "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}  # fmt: skip

FAULT_KINDS: tuple[str, ...] = (
    "forename_nickname",
    "forename_typo",
    "forename_initial",
    "forename_missing",
    "forename_middle",
    "surname_typo",
    "surname_former",
    "surname_hyphen",
    "surname_punctuation",
    "dob_transposed",
    "dob_missing",
    "dob_typo",
    "sex_missing",
    "postcode_no_space",
    "postcode_lower",
    "postcode_wrong",
    "postcode_missing",
    "address_missing",
    "address_stale",
    "uprn_wrong",
    "id_missing",
    "id_invalid",
    "id_other_person",
    "no_identifiers",
)
"""Every fault the default generator logs in ``truth/faults.csv``."""

PROFILE_FAULT_KINDS: tuple[str, ...] = (
    "dob_day_digit",
    "dob_year",
    "forename_diminutive",
    "known_by_middle",
    "upn_rekeyed",
    "upn_temporary",
    "name_swapped",
    "name_typo_both",
    "careless",
    "address_flat_missing",
    "address_not_in_gazetteer",
    "address_ambiguous",
    "move_seen_by_one",
)
"""Faults only an error profile adds (:mod:`tfident.synth.profiles`); 0 in ``default``.
``careless`` is logged beside the two faults it made (a postcode one and another);
``address_not_in_gazetteer``, ``address_ambiguous`` and ``move_seen_by_one`` mark records
of addresses missing from or duplicated in the gazetteer, and the one record that shows
a family's move."""

ALL_FAULT_KINDS: tuple[str, ...] = FAULT_KINDS + PROFILE_FAULT_KINDS

SCHOOLS = ("school_census", "attendance", "exclusions")
POLICE = ("youth_offending", "asb", "domestic_abuse")

# per-record rates; a source not listed takes the default
DEFAULT_RATES: dict[str, float] = {
    "forename_nickname": 0.025,
    "forename_typo": 0.008,
    "forename_initial": 0.006,
    "forename_missing": 0.003,
    "forename_middle": 0.004,
    "surname_typo": 0.008,
    "surname_former": 0.1,  # of records of people who have a former surname
    "surname_hyphen": 0.15,  # of records of people with a hyphenated surname
    "surname_punctuation": 0.4,  # of records of surnames with an apostrophe
    "dob_transposed": 0.012,  # of records whose day is 12 or less
    "dob_missing": 0.008,
    "dob_typo": 0.003,
    "sex_missing": 0.005,
    "postcode_no_space": 0.015,
    "postcode_lower": 0.01,
    "postcode_wrong": 0.008,
    "postcode_missing": 0.012,
    "address_missing": 0.004,
    "uprn_held": 0.05,
    "uprn_wrong": 0.02,  # of records that hold a UPRN
    "id_missing": 0.04,
    "id_invalid": 0.006,
    "id_other_person": 0.005,
    "lag": 0.15,  # chance an agency never updated a mover's address
    "middle_names": 0.3,
    "upper_case": 0.1,
}

SOURCE_RATES: dict[str, dict[str, float]] = {
    "school_census": {"forename_nickname": 0.008, "middle_names": 0.85, "id_missing": 0.02, "lag": 0.08},
    "attendance": {"forename_nickname": 0.01, "middle_names": 0.5, "id_missing": 0.03, "lag": 0.12},
    "exclusions": {"forename_nickname": 0.02, "middle_names": 0.3, "lag": 0.1},
    "youth_offending": {"forename_initial": 0.02, "dob_missing": 0.015, "id_missing": 0.1, "upper_case": 0.4},
    "asb": {"forename_initial": 0.025, "dob_missing": 0.03, "uprn_held": 0.35, "upper_case": 0.3, "lag": 0.2},
    "benefits": {"forename_initial": 0.02, "id_missing": 0.03, "upper_case": 1.0, "middle_names": 0.7, "lag": 0.35},
    "social_care": {"uprn_held": 0.5, "id_missing": 0.06, "middle_names": 0.6, "lag": 0.08},
    "domestic_abuse": {"forename_initial": 0.02, "dob_missing": 0.025, "upper_case": 0.3},
    "health": {"id_missing": 0.06, "middle_names": 0.4, "lag": 0.3},
}


PROFILE_RATES: dict[str, float] = {
    "dob_day_digit": 0.0,  # the day off by 9 or 10 (one digit of it mis-keyed)
    "dob_year": 0.0,  # the year off by one
    "forename_diminutive": 0.0,  # an informal diminutive (Liv, Sammie, Lottie)
    "known_by_middle": 0.0,  # of children with a middle name: known by it in one agency
    "upn_rekeyed": 0.0,  # of a pupil's records in a school source: a valid UPN that is not theirs
    "upn_temporary": 0.0,  # of a pupil's records in a school source: a temporary UPN left in place
    "name_swapped": 0.0,  # forename and surname swapped
    "name_typo_both": 0.0,  # a typo in the forename and one in the surname
    "careless": 0.0,  # postcode missing or mistyped, with one other difference
    "address_flat_missing": 0.0,  # of records of flats: written without the flat
}
"""Rates of the faults only a profile adds; every one is 0 by default."""


def rates(source: str) -> dict[str, float]:
    """The fault rates of ``source`` (default profile)."""
    return {**DEFAULT_RATES, **SOURCE_RATES.get(source, {})}


def stable_uniform(seed: int, *keys: object) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``keys``: the same in every month and every row,
    for choices about a person in one agency (known by a middle name, holding a wrong UPN).
    """
    digest = hashlib.blake2b(repr((seed, *keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def dob_day_digit(dob: dt.date) -> dt.date | None:
    """``dob`` with one digit of the day mis-keyed: the day off by 10 (13 for 03, 21 for 11) or
    by 9 (19 for 10), the same month and year; None when no such date exists.
    """
    for delta in (10, -10, 9, -9):
        try:
            return dob.replace(day=dob.day + delta)
        except ValueError:
            continue
    return None


def dob_year(dob: dt.date, r: Rand) -> dt.date:
    """``dob`` with the year one out."""
    try:
        return dob.replace(year=dob.year + r.pick((-1, 1)))
    except ValueError:
        return dob.replace(year=dob.year + 1, day=28)


def upn_rekeyed(upn: str, r: Rand) -> str:
    """A valid UPN that is not ``upn``: one digit of its LA number mis-keyed and the check letter
    recomputed by the school's software. The world's UPNs share one LA number, so it is nobody's.
    """
    i = r.randint(1, 3)
    digit = str((int(upn[i]) + r.randint(1, 9)) % 10)
    return ids.make_upn(upn[1:i] + digit + upn[i + 1 :])


def upn_temporary(upn: str, r: Rand) -> str:
    """A temporary UPN (``AnnnnnnnnnnnA``: the last character a letter) issued before the pupil's
    own arrived, and left in place.
    """
    last = r.pick([c for c in ids.UPN_ALPHABET if c not in "IOS"])
    return ids.make_upn(upn[1:12] + last)


ADDRESS_STYLES: dict[str, tuple[tuple[int, float], ...]] = {
    "school_census": ((0, 0.5), (1, 0.3), (3, 0.1), (2, 0.1)),
    "attendance": ((0, 0.45), (1, 0.3), (3, 0.1), (2, 0.1), (5, 0.05)),
    "exclusions": ((0, 0.4), (1, 0.4), (2, 0.1), (6, 0.1)),
    "youth_offending": ((4, 0.4), (2, 0.3), (5, 0.2), (1, 0.1)),
    "asb": ((4, 0.3), (2, 0.3), (5, 0.2), (0, 0.2)),
    "benefits": ((4, 0.7), (1, 0.2), (3, 0.1)),
    "social_care": ((0, 0.6), (1, 0.3), (3, 0.1)),
    "domestic_abuse": ((4, 0.4), (2, 0.4), (6, 0.2)),
    "health": ((1, 0.4), (3, 0.2), (2, 0.2), (6, 0.2)),
    # the optional sources of contract 1.2 (tfident.synth.supporting)
    "housing": ((0, 0.5), (1, 0.3), (4, 0.2)),
    "early_years": ((1, 0.5), (3, 0.3), (6, 0.2)),
    "neet": ((0, 0.5), (2, 0.3), (5, 0.2)),
    "early_help": ((0, 0.6), (1, 0.3), (3, 0.1)),
    "missing_exploitation": ((4, 0.4), (2, 0.4), (6, 0.2)),
    "probation": ((4, 0.5), (2, 0.3), (5, 0.2)),
    "employment": ((4, 0.6), (1, 0.3), (3, 0.1)),
}
"""How each source writes addresses: (style number of :func:`address_lines`, share)."""

N_STYLES = 7


def typo(value: str, r: Rand) -> str:
    """``value`` with one keying error: a neighbouring key, a dropped, doubled or swapped letter."""
    if len(value) < 3:
        return value + value[-1].lower() if value else value
    i = r.randint(1, len(value) - 1)  # keep the first letter: clerks rarely get it wrong
    op = r.randint(0, 3)
    ch = value[i]
    if op == 0 and ch.lower() in KEYBOARD_NEIGHBOURS:
        new = r.pick(KEYBOARD_NEIGHBOURS[ch.lower()])
        return value[:i] + (new.upper() if ch.isupper() else new) + value[i + 1 :]
    if op == 1:
        return value[:i] + value[i + 1 :]
    if op == 2:
        return value[:i] + ch + value[i:]
    if i < len(value) - 1:
        return value[:i] + value[i + 1] + ch + value[i + 2 :]
    return value[:i] + ch + value[i:]


def transposed(dob: dt.date) -> dt.date | None:
    """``dob`` with day and month swapped, or None when that is not a different valid date."""
    if dob.day > 12 or dob.day == dob.month:
        return None
    return dt.date(dob.year, dob.day, dob.month)


def dob_typo(dob: dt.date, r: Rand) -> dt.date:
    """``dob`` with one digit wrong: the day or the year off by one."""
    if r.chance(0.5):
        return dob + dt.timedelta(days=r.pick((-1, 1)))
    try:
        return dob.replace(year=dob.year + r.pick((-1, 1)))
    except ValueError:
        return dob.replace(year=dob.year + 1, day=28)


def hyphen_variant(surname: str, r: Rand) -> str:
    """A hyphenated surname as agencies hold it: one part only, or a space for the hyphen."""
    parts = surname.split("-")
    return r.weighted(((parts[0], 0.35), (parts[-1], 0.35), (" ".join(parts), 0.3)))


def wrong_postcode(postcode: str, r: Rand) -> str:
    """``postcode`` with one character of the inward part wrong."""
    outward, inward = postcode.split(" ")
    i = r.randint(0, 2)
    if i == 0:
        new = str((int(inward[0]) + r.randint(1, 8)) % 10)
    else:
        new = r.pick([c for c in nm.INWARD_LETTERS if c != inward[i]])
    return f"{outward} {inward[:i]}{new}{inward[i + 1 :]}"


def upn_typo(upn: str, r: Rand) -> str:
    """``upn`` with one digit mistyped, so its check letter no longer agrees."""
    i = r.randint(4, 12)
    return upn[:i] + str((int(upn[i]) + r.randint(1, 9)) % 10) + upn[i + 1 :]


def nhs_typo(number: str, r: Rand) -> str:
    """``number`` with two neighbouring digits swapped or one digit changed (fails the check)."""
    for _ in range(20):
        i = r.randint(0, 8)
        new = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        if new != number and not ids.nhs_is_valid(new):
            return new
    return number[:9] + str((int(number[9]) + 1) % 10)


def nino_typo(nino: str, r: Rand) -> str:
    """``nino`` with a letter O keyed for a zero, or a digit changed (the format may still pass)."""
    if "0" in nino[2:8] and r.chance(0.5):
        return nino[:2] + nino[2:8].replace("0", "O", 1) + nino[8:]
    i = r.randint(2, 7)
    return nino[:i] + str((int(nino[i]) + r.randint(1, 9)) % 10) + nino[i + 1 :]


def pnc_typo(pnc: str, r: Rand) -> str:
    """``pnc`` with one serial digit changed, so its check character no longer agrees."""
    i = r.randint(5, 11)
    return pnc[:i] + str((int(pnc[i]) + r.randint(1, 9)) % 10) + pnc[i + 1 :]


def address_lines(
    style: int, flat: int | None, number: int, street: str, stype: int, locality: str, town: str
) -> tuple[str, str, str, str]:
    """An address as lines 1-3 and town in one of :data:`N_STYLES` house styles.

    0 gazetteer (``Flat 2`` / ``14 High Street``), 1 one line with commas
    (``Flat 2, 14 High Street``), 2 abbreviated (``2/14 High St``), 3 flat last
    (``14 High Street Flat 2``), 4 upper case without punctuation, 5 abbreviated with a
    full stop and the locality as town, 6 lower case.
    """
    full, short = nm.STREET_TYPES[stype]
    street_full, street_short = f"{street} {full}", f"{street} {short}"
    if style == 0:
        if flat is None:
            return f"{number} {street_full}", locality, "", town
        return f"Flat {flat}", f"{number} {street_full}", locality, town
    if style == 1:
        line = f"{number} {street_full}" if flat is None else f"Flat {flat}, {number} {street_full}"
        return line, locality, "", town
    if style == 2:
        return (f"{number} {street_short}" if flat is None else f"{flat}/{number} {street_short}"), "", "", town
    if style == 3:
        line = f"{number}, {street_full}" if flat is None else f"{number} {street_full} Flat {flat}"
        return line, locality, "", town
    if style == 4:
        line = f"{number} {street_full}" if flat is None else f"FLAT {flat} {number} {street_full}"
        return line.upper().replace("'", ""), locality.upper(), "", town.upper()
    if style == 5:
        dot = "" if short == full else "."
        line = f"{number} {street_short}{dot}" if flat is None else f"Flat {flat} {number} {street_short}{dot}"
        return line, "", "", locality or town
    line = f"{number} {street_full}" if flat is None else f"flat {flat}, {number} {street_full}"
    return line.lower(), locality.lower(), "", town.lower()
