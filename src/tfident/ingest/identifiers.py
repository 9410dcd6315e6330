"""Identifier validators and normalisers: UPN, NINO, NHS number, PNC ID, UPRN, postcode.

Each identifier has a scalar function (for one value, used in tests and by hand) and
a polars expression (for a whole column, used by ingest: no per-row Python). The two
always agree; the unit tests check that they do. Rules follow domain.md
("Identifiers") and domain-research.md section 7:

- UPN: 13 characters, a check letter then 12 digits (a temporary UPN has a letter in
  the last position). The check letter is the weighted sum of characters 2 to 13
  (weights 2..13, a final letter counting as its index in the alphabet) modulo 23,
  mapped to ``ABCDEFGHJKLMNPQRTUVWXYZ``.
- NINO: two prefix letters (D, F, I, Q, U, V never used; O never second; BG, GB, KN,
  NK, NT, TN, ZZ never), six digits, an optional suffix A to D. No check character.
- NHS number: 10 digits, the last a modulus 11 check digit (a remainder giving 10
  means the number is invalid).
- PNC ID: ``YYYY/NNNNNNNA`` or the short ``YY/NNNA``; the check letter is the 2-digit
  year and 7-digit serial, as one number, modulo 23, mapped to
  ``ZABCDEFGHJKLMNPQRTUVWXY``. Normalised to the long form (a 2-digit year of 60 or
  more is taken as 19YY, otherwise 20YY; the century does not affect the check).
- UPRN: a positive integer of up to 12 digits (leading zeros allowed), no check digit.
- Postcode: the six formats ``AN NAA``, ``ANN NAA``, ``AAN NAA``, ``AANN NAA``,
  ``ANA NAA``, ``AANA NAA`` (Q, V, X never first; I, J, Z never second), plus
  ``GIR 0AA``; normalised upper case with one space before the inward code.

Normalisers return ``None`` (or null) for a value that fails its format or check: an
identifier that fails is treated as absent, and ingest counts it.
"""

from __future__ import annotations

import re

import polars as pl

UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"
"""Check letters of a UPN (and the final letters of temporary UPNs): A-Z without I, O, S."""

PNC_ALPHABET = "ZABCDEFGHJKLMNPQRTUVWXY"
"""PNC ID check letters: remainder 0 -> Z, 1 -> A, ... (I, O, S not used)."""

NINO_BANNED_PREFIXES = ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ")

_UPN_RE = re.compile(r"^[A-Z][0-9]{11}[0-9A-Z]$")
_NINO_RE = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]?$")
_NHS_RE = re.compile(r"^[0-9]{10}$")
_PNC_RE = re.compile(r"^([0-9]{2}|[0-9]{4})/([0-9]{1,7})([A-Z])$")
_PNC_COMPACT_RE = re.compile(r"^([0-9]{4})([0-9]{7})([A-Z])$")
_UPRN_RE = re.compile(r"^[0-9]{1,12}$")
_SPACES_RE = re.compile(r"[\s\-]+")

_OUTWARD = (
    r"(?:[A-PR-UWYZ][0-9]|[A-PR-UWYZ][0-9][0-9]|[A-PR-UWYZ][A-HK-Y][0-9]|[A-PR-UWYZ][A-HK-Y][0-9][0-9]"
    r"|[A-PR-UWYZ][0-9][A-Z]|[A-PR-UWYZ][A-HK-Y][0-9][A-Z])"
)
_INWARD = r"[0-9][A-Z]{2}"
POSTCODE_COMPACT_PATTERN = rf"^(?:{_OUTWARD}{_INWARD}|GIR0AA)$"
"""Regex for a full postcode with all spaces removed, upper case."""
OUTWARD_PATTERN = rf"^(?:{_OUTWARD}|GIR)$"
"""Regex for an outward code on its own (upper case, no spaces)."""
_POSTCODE_COMPACT_RE = re.compile(POSTCODE_COMPACT_PATTERN)
_OUTWARD_RE = re.compile(OUTWARD_PATTERN)


def _compact(value: str) -> str:
    """Upper-case ``value`` and drop spaces, tabs and hyphens."""
    return _SPACES_RE.sub("", value).upper()


def _compact_expr(expr: pl.Expr) -> pl.Expr:
    """The polars version of ``_compact``."""
    return expr.str.replace_all(r"[\s\-]+", "").str.to_uppercase()


# --- UPN --------------------------------------------------------------------------


def upn_check_letter(body: str) -> str:
    """Return the check letter for the 12 characters of a UPN after the check letter.

    >>> upn_check_letter("801200005001")
    'B'
    >>> upn_check_letter("80120001200A")
    'P'
    """
    total = 0
    for weight, char in zip(range(2, 14), body, strict=True):
        total += weight * (int(char) if char.isdigit() else UPN_ALPHABET.index(char))
    return UPN_ALPHABET[total % 23]


def is_valid_upn(value: str | None) -> bool:
    """Whether ``value`` (any case and spacing) is a valid permanent or temporary UPN."""
    return normalise_upn(value) is not None


def normalise_upn(value: str | None) -> str | None:
    """Return the UPN upper case without spaces, or ``None`` if it fails its format or check.

    >>> normalise_upn(" b801 2000 05001 ")
    'B801200005001'
    >>> normalise_upn("A801200005001") is None
    True
    """
    if value is None:
        return None
    upn = _compact(value)
    if not _UPN_RE.match(upn):
        return None
    if upn[0] not in UPN_ALPHABET or not (upn[-1].isdigit() or upn[-1] in UPN_ALPHABET):
        return None
    return upn if upn_check_letter(upn[1:]) == upn[0] else None


def upn_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression: normalised UPN, or null when it fails its format or check."""
    upn = _compact_expr(expr)
    total = pl.lit(0, dtype=pl.Int64)
    for position in range(1, 12):
        total = total + (position + 1) * upn.str.slice(position, 1).cast(pl.Int64, strict=False)
    last = upn.str.slice(12, 1)
    last_value = (
        pl.when(last.str.contains(r"^[0-9]$"))
        .then(last.cast(pl.Int64, strict=False))
        .otherwise(last.replace_strict({c: i for i, c in enumerate(UPN_ALPHABET)}, default=None, return_dtype=pl.Int64))
    )
    total = total + 13 * last_value
    check = upn.str.slice(0, 1).replace_strict(
        {c: i for i, c in enumerate(UPN_ALPHABET)}, default=None, return_dtype=pl.Int64
    )
    ok = upn.str.contains(_UPN_RE.pattern) & (check == total % 23)
    return pl.when(ok).then(upn).otherwise(None)


# --- NINO -------------------------------------------------------------------------


def normalise_nino(value: str | None) -> str | None:
    """Return the NINO upper case without spaces, or ``None`` if it fails the format rules.

    The suffix is optional (domain-research 7.2: a missing suffix is a valid submission).

    >>> normalise_nino("ab 12 34 56 c")
    'AB123456C'
    >>> normalise_nino("BG123456A") is None
    True
    """
    if value is None:
        return None
    nino = _compact(value)
    if not _NINO_RE.match(nino) or nino[:2] in NINO_BANNED_PREFIXES:
        return None
    return nino


def is_valid_nino(value: str | None) -> bool:
    """Whether ``value`` (any case and spacing) is a well-formed NINO."""
    return normalise_nino(value) is not None


def nino_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression: normalised NINO, or null when it fails the format rules."""
    nino = _compact_expr(expr)
    ok = nino.str.contains(_NINO_RE.pattern) & ~nino.str.slice(0, 2).is_in(list(NINO_BANNED_PREFIXES))
    return pl.when(ok).then(nino).otherwise(None)


# --- NHS number -------------------------------------------------------------------


def normalise_nhs_number(value: str | None) -> str | None:
    """Return the 10 digits of a valid NHS number, or ``None`` if it fails format or check.

    >>> normalise_nhs_number("943 476 5919")
    '9434765919'
    """
    if value is None:
        return None
    digits = _compact(value)
    if not _NHS_RE.match(digits):
        return None
    remainder = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    check = 11 - remainder
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        return None
    return digits


def is_valid_nhs_number(value: str | None) -> bool:
    """Whether ``value`` is a 10-digit NHS number whose modulus 11 check digit is right."""
    return normalise_nhs_number(value) is not None


def nhs_number_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression: the 10 digits of a valid NHS number, or null."""
    digits = _compact_expr(expr)
    total = pl.lit(0, dtype=pl.Int64)
    for position in range(9):
        total = total + (10 - position) * digits.str.slice(position, 1).cast(pl.Int64, strict=False)
    check = (11 - total % 11) % 11  # 11 -> 0; 10 stays 10 and never equals a digit
    ok = digits.str.contains(_NHS_RE.pattern) & (check == digits.str.slice(9, 1).cast(pl.Int64, strict=False))
    return pl.when(ok).then(digits).otherwise(None)


# --- PNC ID -----------------------------------------------------------------------


def _pnc_century(year2: int) -> int:
    """The 4-digit year for a 2-digit PNC year (60-99 -> 19YY, else 20YY)."""
    return 1900 + year2 if year2 >= 60 else 2000 + year2


def normalise_pnc_id(value: str | None) -> str | None:
    """Return a PNC ID in the long form ``YYYY/NNNNNNNA``, or ``None`` if it fails its check.

    >>> normalise_pnc_id("99/123456X")
    '1999/0123456X'
    >>> normalise_pnc_id("20/9N")
    '2020/0000009N'
    """
    if value is None:
        return None
    pnc = _compact(value)
    match = _PNC_RE.match(pnc) or _PNC_COMPACT_RE.match(pnc)
    if not match:
        return None
    year, serial, letter = match.groups()
    if PNC_ALPHABET[int(year[-2:] + serial.zfill(7)) % 23] != letter:
        return None
    full_year = int(year) if len(year) == 4 else _pnc_century(int(year))
    return f"{full_year:04d}/{serial.zfill(7)}{letter}"


def is_valid_pnc_id(value: str | None) -> bool:
    """Whether ``value`` is a PNC ID (long or short form) with a correct check letter."""
    return normalise_pnc_id(value) is not None


def pnc_id_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression: PNC ID in the long form ``YYYY/NNNNNNNA``, or null."""
    pnc = _compact_expr(expr)
    pattern = r"^([0-9]{2}|[0-9]{4})/?([0-9]{1,7})([A-Z])$"
    year = pnc.str.extract(pattern, 1)
    serial = pnc.str.extract(pattern, 2).str.zfill(7)
    letter = pnc.str.extract(pattern, 3)
    # the slash may be left out only in the compact long form YYYYNNNNNNNA
    shape_ok = pnc.str.contains(_PNC_RE.pattern) | pnc.str.contains(_PNC_COMPACT_RE.pattern)
    year2 = year.str.slice(-2, 2)
    number = (year2 + serial).cast(pl.Int64, strict=False)
    expected = (number % 23).replace_strict(dict(enumerate(PNC_ALPHABET)), default=None, return_dtype=pl.String)
    year2_int = year2.cast(pl.Int64, strict=False)
    full_year = (
        pl.when(year.str.len_chars() == 4)
        .then(year)
        .otherwise(pl.when(year2_int >= 60).then(pl.lit("19") + year2).otherwise(pl.lit("20") + year2))
    )
    ok = shape_ok & (expected == letter)
    return pl.when(ok).then(full_year + "/" + serial + letter).otherwise(None)


# --- UPRN -------------------------------------------------------------------------


def parse_uprn(value: str | int | None) -> int | None:
    """Return a UPRN as an int (a positive integer of up to 12 digits), or ``None``.

    Leading zeros are allowed (``000000199356``), and a trailing ``.0`` from a
    spreadsheet number is tolerated.

    >>> parse_uprn(" 100023336956 ")
    100023336956
    >>> parse_uprn("0") is None
    True
    """
    if value is None:
        return None
    if isinstance(value, int):
        return value if 0 < value < 10**12 else None
    text = re.sub(r"\.0+$", "", value.strip())
    if not _UPRN_RE.match(text):
        return None
    number = int(text)
    return number if number > 0 else None


def uprn_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression: UPRN as Int64, or null when not a positive integer of <= 12 digits."""
    text = expr.cast(pl.String).str.strip_chars().str.replace(r"\.0+$", "")
    number = text.cast(pl.Int64, strict=False)
    ok = text.str.contains(_UPRN_RE.pattern) & (number > 0)
    return pl.when(ok).then(number).otherwise(None)


# --- postcodes --------------------------------------------------------------------


def normalise_postcode(value: str | None) -> str | None:
    """Return a full postcode as ``AA9A 9AA`` (upper case, one space), or ``None``.

    ``None`` means the value is not in a valid full-postcode format (partial
    postcodes, such as an outward code alone, give ``None``).

    >>> normalise_postcode(" sw1a2aa")
    'SW1A 2AA'
    >>> normalise_postcode("SW1A") is None
    True
    """
    if value is None:
        return None
    compact = _compact(value)
    if not _POSTCODE_COMPACT_RE.match(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


def is_valid_postcode(value: str | None) -> bool:
    """Whether ``value`` (any case and spacing) is a full postcode in a valid format."""
    return normalise_postcode(value) is not None


def postcode_outward(value: str | None) -> str | None:
    """The outward code (``SW1A``) of a full postcode or of an outward code given alone."""
    if value is None:
        return None
    full = normalise_postcode(value)
    if full is not None:
        return full.split(" ")[0]
    compact = _compact(value)
    return compact if _OUTWARD_RE.match(compact) else None


def postcode_sector(value: str | None) -> str | None:
    """The postcode sector (``SW1A 2``) of a full postcode, or ``None``."""
    full = normalise_postcode(value)
    return None if full is None else full[:-2]


def postcode_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression: postcode as ``AA9A 9AA``, or null when not a valid full postcode."""
    compact = _compact_expr(expr)
    ok = compact.str.contains(POSTCODE_COMPACT_PATTERN)
    return pl.when(ok).then(compact.str.head(-3) + " " + compact.str.tail(3)).otherwise(None)


def postcode_outward_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression: outward code of a full postcode or of an outward code alone."""
    compact = _compact_expr(expr)
    full = compact.str.contains(POSTCODE_COMPACT_PATTERN)
    alone = compact.str.contains(OUTWARD_PATTERN)
    return pl.when(full).then(compact.str.head(-3)).when(alone).then(compact).otherwise(None)


def postcode_sector_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression: postcode sector (``SW1A 2``) of a full postcode, or null."""
    return postcode_expr(expr).str.head(-2)


IDENTIFIER_EXPRS = {
    "upn": upn_expr,
    "nino": nino_expr,
    "nhs_number": nhs_number_expr,
    "pnc_id": pnc_id_expr,
}
"""Column name -> normalising expression for the String identifier columns (``uprn`` is Int64)."""
