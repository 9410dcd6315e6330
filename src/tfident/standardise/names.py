"""Person name standardisation: upper-case ASCII names, nickname canonicalisation, metaphone.

Every function has a scalar form (for one value, used in tests and by hand) and works
column-wise through :func:`names_frame`, which computes over the *distinct* values of a
column only, so half a million records cost a few thousand Python calls.

Rules:

- ``std``: accents folded to ASCII (``Zoë`` -> ``ZOE``), upper case, apostrophes and
  full stops dropped (``O'Neil`` -> ``ONEIL``, ``St. John`` -> ``STJOHN`` as a surname),
  hyphens and other separators become one space. ``Mc``/``Mac`` prefixes are kept as
  written (``McDonald`` -> ``MCDONALD``).
- surname ``std`` has no spaces at all, so ``Smith-Jones``, ``Smith Jones`` and
  ``SMITH JONES`` agree; ``surname_tokens`` keeps the parts (``["SMITH", "JONES"]``),
  with one-letter parts joined to the next (``O Brien`` -> ``["OBRIEN"]``).
- forename ``std`` keeps spaces between given names (``MARY JANE``); the canonical
  form and the metaphone are of the first given name.
- ``canonical``: the formal name a nickname stands for (``Bob`` -> ``ROBERT``), from the
  ``nicknames`` package plus a short table of British and transliteration variants;
  only formal names longer than the nickname count; when there are several the choice
  is deterministic (a list of common formal names first, then the one with most
  nicknames, then alphabetical).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import jellyfish

_APOSTROPHES = re.compile(r"['’‘`´.]")
_NON_LETTERS = re.compile(r"[^A-Z]+")

SUPPLEMENTARY_CANONICALS: dict[str, str] = {
    # British nicknames the nicknames package lacks
    "GAZZA": "GARY",
    "GAZ": "GARY",
    "BAZ": "BARRY",
    "BAZZA": "BARRY",
    "DAZ": "DARREN",
    "DAZZA": "DARREN",
    "HAZ": "HARRY",
    "KEV": "KEVIN",
    "KEZ": "KERRY",
    "SHAZ": "SHARON",
    "TEL": "TERENCE",
    "DEL": "DEREK",
    "BILL": "WILLIAM",
    "BILLY": "WILLIAM",
    "WILL": "WILLIAM",
    "WILLIE": "WILLIAM",
    "MICK": "MICHAEL",
    "MICKY": "MICHAEL",
    "MIKEY": "MICHAEL",
    "ALFIE": "ALFRED",
    "FREDDIE": "FREDERICK",
    "FREDDY": "FREDERICK",
    "FRED": "FREDERICK",
    "CHARLIE": "CHARLES",
    "ARCHIE": "ARCHIBALD",
    "MANNY": "EMMANUEL",
    "CHRIS": "CHRISTOPHER",
    "KATE": "KATHERINE",
    "KATIE": "KATHERINE",
    "KATY": "KATHERINE",
    "KATHY": "KATHERINE",
    "CATHY": "CATHERINE",
    "TONY": "ANTHONY",
    "JIM": "JAMES",
    "JIMMY": "JAMES",
    "JAMIE": "JAMES",
    "DAN": "DANIEL",
    "DANNY": "DANIEL",
    "SAM": "SAMUEL",
    "SAMMY": "SAMUEL",
    "ALEX": "ALEXANDER",
    "ANDY": "ANDREW",
    "STEVE": "STEPHEN",
    "STEVIE": "STEPHEN",
    "NICK": "NICHOLAS",
    "NICKY": "NICHOLAS",
    "MATT": "MATTHEW",
    "JACKIE": "JACQUELINE",
    "TRACY": "TRACEY",
    "SUE": "SUSAN",
    "LIZ": "ELIZABETH",
    "LIZZIE": "ELIZABETH",
    "BETH": "ELIZABETH",
    "BECKY": "REBECCA",
    "BECCA": "REBECCA",
    "VICKY": "VICTORIA",
    "VIKKI": "VICTORIA",
    "NIKKI": "NICOLA",
    "MANDY": "AMANDA",
    "DEBBIE": "DEBORAH",
    "DEBS": "DEBORAH",
    "JESS": "JESSICA",
    "JESSIE": "JESSICA",
    # transliteration and anglicised variants
    "MOHAMMAD": "MOHAMMED",
    "MOHAMED": "MOHAMMED",
    "MUHAMMAD": "MOHAMMED",
    "MUHAMMED": "MOHAMMED",
    "MOHAMMUD": "MOHAMMED",
    "MO": "MOHAMMED",
    "AYESHA": "AISHA",
    "AYSHA": "AISHA",
    "FATEMA": "FATIMA",
    "FATIMAH": "FATIMA",
    "YOUSUF": "YUSUF",
    "YOUSEF": "YUSUF",
    "YUSEF": "YUSUF",
    "EBRAHIM": "IBRAHIM",
    "ZAYNAB": "ZAINAB",
    "MARIAM": "MARYAM",
    "KUBA": "JAKUB",
    "TOMEK": "TOMASZ",
    "KASIA": "KATARZYNA",
    "MAGDA": "MAGDALENA",
    "AGA": "AGNIESZKA",
    "KRZYS": "KRZYSZTOF",
    "KWAMI": "KWAME",
}
"""Nickname or variant -> canonical form, consulted before the ``nicknames`` package."""

_PREFERRED_TEXT = """
    ROBERT WILLIAM JOHN JAMES DAVID MICHAEL RICHARD THOMAS CHARLES JOSEPH DANIEL MATTHEW ANTHONY
    ANDREW STEPHEN CHRISTOPHER NICHOLAS EDWARD PETER PAUL MARK GEORGE HENRY ALEXANDER BENJAMIN
    SAMUEL JONATHAN TIMOTHY PATRICK FREDERICK ALFRED ARTHUR ALBERT FRANCIS GERALD GARY KENNETH
    RONALD DONALD RAYMOND TERENCE LAWRENCE PHILIP SIMON STUART DOUGLAS GREGORY JEFFREY VINCENT
    ELIZABETH KATHERINE CATHERINE MARGARET SUSAN PATRICIA DEBORAH JENNIFER REBECCA VICTORIA
    SAMANTHA AMANDA JACQUELINE CHRISTINE JESSICA ALEXANDRA ABIGAIL NATALIE NICOLA LOUISE HELEN
    JOANNE DOROTHY BARBARA MARY SARAH EMMA ELEANOR CAROLINE CHARLOTTE STEPHANIE THERESA ANNE
    HARRY OLIVER JACK LEO MAX GRACE LUCY SOPHIE ELLA ELLIE
"""
PREFERRED_FORMAL: frozenset[str] = frozenset(_PREFERRED_TEXT.split())
"""Formal names preferred when a nickname stands for several."""


def fold(value: str) -> str:
    """``value`` with accents folded to ASCII and upper-cased (``Zoë`` -> ``ZOE``)."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def name_std(value: str | None) -> str | None:
    """A name upper case, ASCII, without apostrophes; other separators one space; None if empty.

    >>> name_std(" O'Neil-smith ")
    'ONEIL SMITH'
    """
    if value is None:
        return None
    text = _APOSTROPHES.sub("", fold(value))
    text = _NON_LETTERS.sub(" ", text).strip()
    return text or None


def surname_std(value: str | None) -> str | None:
    """A surname with every separator removed: ``Smith-Jones`` and ``SMITH JONES`` -> ``SMITHJONES``."""
    std = name_std(value)
    return None if std is None else std.replace(" ", "")


def surname_tokens(value: str | None) -> list[str]:
    """The parts of a surname; a one-letter part joins the next (``O Brien`` -> ``["OBRIEN"]``)."""
    std = name_std(value)
    if std is None:
        return []
    tokens: list[str] = []
    pending = ""
    for part in std.split(" "):
        if len(part) == 1:
            pending += part
            continue
        tokens.append(pending + part)
        pending = ""
    if pending:
        if tokens:
            tokens[-1] += pending
        else:
            tokens.append(pending)
    return tokens


def forename_first(value: str | None) -> str | None:
    """The first given name of a forename, standardised."""
    std = name_std(value)
    return None if std is None else std.split(" ")[0]


@cache
def _namer() -> object:
    from nicknames import NickNamer

    return NickNamer()


@cache
def canonical_forename(first: str) -> str:
    """The formal name a (standardised, single) forename stands for; itself when none.

    >>> canonical_forename("BOB"), canonical_forename("GAZZA"), canonical_forename("KATE")
    ('ROBERT', 'GARY', 'KATHERINE')
    """
    if first in SUPPLEMENTARY_CANONICALS:
        return SUPPLEMENTARY_CANONICALS[first]
    if first in PREFERRED_FORMAL or len(first) < 2:
        return first
    namer = _namer()
    # a formal name is longer than its nicknames; the package also lists the reverse
    candidates = sorted(
        c.upper()
        for c in namer.canonicals_of(first.lower())  # type: ignore[attr-defined]
        if len(c) > len(first)
    )
    if not candidates:
        return first
    preferred = [c for c in candidates if c in PREFERRED_FORMAL]
    if not preferred and len(namer.nicknames_of(first.lower())) >= 3:  # type: ignore[attr-defined]
        return first  # itself a formal name with nicknames of its own

    def rank(name: str) -> tuple[int, int, str]:
        return (0 if name in PREFERRED_FORMAL else 1, -len(namer.nicknames_of(name.lower())), name)  # type: ignore[attr-defined]

    return min(candidates, key=rank)


@cache
def forename_variants(first: str) -> tuple[str, ...]:
    """Every formal name a forename may stand for, with its canonical form and itself (sorted).

    Two forenames are nickname-compatible when their variant sets meet: ``KATE`` and
    ``KATHRYN`` do, ``KATHERINE`` and ``KATHRYN`` do not.
    """
    found = {first, canonical_forename(first)}
    if len(first) >= 2:
        found.update(c.upper() for c in _namer().canonicals_of(first.lower()))  # type: ignore[attr-defined]
    return tuple(sorted(found))


@cache
def metaphone(value: str) -> str | None:
    """Metaphone code of a standardised name (spaces ignored); None when it has no letters."""
    letters = value.replace(" ", "")
    if not letters:
        return None
    code = jellyfish.metaphone(letters)
    return code or None
