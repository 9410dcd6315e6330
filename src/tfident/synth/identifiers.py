"""Synthetic identifiers with correct check characters (domain-research section 7).

UPN, NHS number and PNC ID carry check characters; NINO has none but a format; UPRN is
a plain integer. Every function here is pure; the generator draws the random parts.
"""

from __future__ import annotations

UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"
"""Check letters of a UPN, indexed 0..22 (I, O and S are never used)."""

PNC_ALPHABET = "ZABCDEFGHJKLMNPQRTUVWXY"
"""Check characters of a PNC ID, indexed 0..22."""

NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
"""Letters allowed first in a NINO prefix (not D, F, I, Q, U, V)."""

NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
"""Letters allowed second in a NINO prefix (not D, F, I, O, Q, U, V)."""

NINO_BANNED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
"""NINO prefixes that are never allocated."""


def upn_check_letter(body: str) -> str:
    """Return the check letter for the 12 characters after a UPN's first."""
    total = 0
    for weight, char in enumerate(body, start=2):
        total += weight * (int(char) if char.isdigit() else UPN_ALPHABET.index(char))
    return UPN_ALPHABET[total % 23]


def upn_is_valid(upn: str) -> bool:
    """Whether ``upn`` is a permanent UPN (letter and 12 digits) with the right check letter."""
    return len(upn) == 13 and upn[1:].isdigit() and upn[0] == upn_check_letter(upn[1:])


def make_upn(body: str) -> str:
    """Return the full UPN for a 12-digit body."""
    return upn_check_letter(body) + body


def nhs_check_digit(stem: str) -> int | None:
    """Return the modulus 11 check digit for a 9-digit NHS number stem (None when it would be 10)."""
    total = sum(int(c) * w for c, w in zip(stem, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def nhs_is_valid(number: str) -> bool:
    """Whether ``number`` is 10 digits with a correct modulus 11 check digit."""
    if len(number) != 10 or not number.isdigit():
        return False
    return nhs_check_digit(number[:9]) == int(number[9])


def pnc_check_char(year: int, serial: int) -> str:
    """Return the PNC ID check character for a 4-digit year and a serial."""
    return PNC_ALPHABET[int(f"{year % 100:02d}{serial:07d}") % 23]


def make_pnc(year: int, serial: int) -> str:
    """Return a PNC ID in the canonical ``YYYY/NNNNNNNA`` form."""
    return f"{year:04d}/{serial:07d}{pnc_check_char(year, serial)}"


def pnc_is_valid(pnc: str) -> bool:
    """Whether ``pnc`` is a canonical ``YYYY/NNNNNNNA`` PNC ID with the right check character."""
    if len(pnc) != 13 or pnc[4] != "/" or not pnc[:4].isdigit() or not pnc[5:12].isdigit():
        return False
    return pnc[12] == pnc_check_char(int(pnc[:4]), int(pnc[5:12]))


def nino_is_valid(nino: str) -> bool:
    """Whether ``nino`` has the NINO format: allowed prefix, six digits, suffix A to D."""
    return (
        len(nino) == 9
        and nino[0] in NINO_FIRST
        and nino[1] in NINO_SECOND
        and nino[:2] not in NINO_BANNED
        and nino[2:8].isdigit()
        and nino[8] in "ABCD"
    )
