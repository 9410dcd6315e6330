"""Person name standardisation: upper-case ASCII names, nickname canonicalisation, metaphone.

Every function has a scalar form (for one value, used in tests and by hand) and works
column-wise through :func:`names_frame`, which computes over the *distinct* values of a
column only, so half a million records cost a few thousand Python calls.

Rules:

- ``std``: transliterated to ASCII with ``anyascii`` (``Zoë`` -> ``ZOE``, ``Łukasz`` ->
  ``LUKASZ``, ``Søren`` -> ``SOREN``, ``Иван`` -> ``IVAN``: no letter is dropped), upper case, apostrophes and
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
- ``variants``: every formal name a forename may stand for: the ``nicknames`` package,
  the project's own tables (:data:`SUPPLEMENTARY_CANONICALS`, and :data:`DIMINUTIVES` for
  British diminutives the package lacks, such as Florrie, Liv, Sammie), and the same for
  the other spellings of a diminutive ending (``SAMMIE``, ``SAMMY``, ``SAMMI``, ``SAMMEY``).
"""

from __future__ import annotations

import re
from functools import cache

import jellyfish
from anyascii import anyascii

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

_DIMINUTIVES_TEXT = """
    FLORRIE FLOSSIE FLO: FLORENCE
    LIV LIVVY LIVVIE LIVIA: OLIVIA
    OLLIE: OLIVER OLIVIA
    SAMMIE SAMMI: SAMANTHA SAMUEL
    SAM SAMMY: SAMUEL SAMANTHA
    EVIE: EVELYN EVA
    MAISIE MAISY: MARGARET
    MILLIE MILLY: AMELIA MILDRED CAMILLA
    TILLY TILLIE: MATILDA
    LOTTIE LOTTY: CHARLOTTE
    IZZY IZZIE BELLA ISSY: ISABELLA ISABEL ISABELLE ELIZABETH
    ELLIE ELLY NELL NELLIE: ELEANOR ELLEN HELEN ELLA
    GRACIE: GRACE
    ROSIE: ROSE ROSALIND ROSEMARY
    JOSIE: JOSEPHINE
    HATTIE: HARRIET
    KITTY: KATHERINE CATHERINE
    POLLY: MARY
    DOLLY: DOROTHY
    FRANKIE: FRANCES FRANCIS FRANKLIN
    GABBY GABBIE GABI: GABRIELLE GABRIELLA GABRIEL
    ABBIE ABBY ABI: ABIGAIL
    LEXI LEXIE LEXY: ALEXANDRA ALEXIS
    MADDIE MADDY: MADISON MADELEINE MADELINE
    TEDDY TED: EDWARD THEODORE
    THEO: THEODORE
    ZAK ZAC ZACK: ZACHARY
    JOSH: JOSHUA
    NATE: NATHAN NATHANIEL
    BENNY BEN: BENJAMIN
    TOMMY TOM: THOMAS
    HARRY: HENRY HAROLD
    ALFIE: ALFRED
    ARCHIE: ARCHIBALD
    FREDDIE FREDDY: FREDERICK ALFRED
    JACK: JOHN
    PADDY: PATRICK
    JONNY JONNIE: JONATHAN JOHN
    GEORGIE: GEORGE GEORGINA
    ROBBIE ROBBY: ROBERT
    DANI DANNI: DANIELLE DANIELA
    NIKKI NICKI: NICOLA NICOLE
    STEPH STEFF: STEPHANIE
    CHARLIE: CHARLES CHARLOTTE
    MIMI: AMELIA MIRIAM
    BEX BECKS: REBECCA
    TALLY: NATALIE
    MO MOE: MOHAMMED MOHAMMAD MUHAMMAD
    IBBY IBI: IBRAHIM
    MAGDA MADZIA: MAGDALENA
"""
DIMINUTIVES: dict[str, tuple[str, ...]] = {
    diminutive: tuple(line.split(":")[1].split())
    for line in _DIMINUTIVES_TEXT.strip().splitlines()
    for diminutive in line.split(":")[0].split()
}
"""British diminutives the ``nicknames`` package lacks (or gives only in part) -> the formal
names each may stand for. Consulted by :func:`forename_variants`; a diminutive with one
formal name (and none from the package) also takes it as its canonical form."""

_ENDINGS: tuple[str, ...] = ("IE", "Y", "I", "EY")
"""Spellings of a diminutive ending that agencies use interchangeably (Sammie, Sammy, Sammi)."""


def ending_spellings(first: str) -> tuple[str, ...]:
    """``first`` with each other spelling of a diminutive ending (``SAMMIE`` -> ``SAMMY``, ``SAMMI``...).

    >>> ending_spellings("SAMMIE")
    ('SAMMEY', 'SAMMI', 'SAMMY')
    """
    for ending in sorted(_ENDINGS, key=len, reverse=True):
        stem = first[: -len(ending)]
        if first.endswith(ending) and len(stem) >= 2:
            return tuple(sorted(stem + e for e in _ENDINGS if e != ending))
    return ()


def fold(value: str) -> str:
    """``value`` transliterated to ASCII and upper-cased (``Zoë`` -> ``ZOE``, ``Łukasz`` -> ``LUKASZ``)."""
    return anyascii(value).upper()


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


PLACEHOLDER_FORENAMES: frozenset[str] = frozenset(
    {
        *[
            "BABY",
            "BOY",
            "GIRL",
            "CHILD",
            "INFANT",
            "NEWBORN",
            "UNBORN",
            "MALE",
            "FEMALE",
            "UNKNOWN",
            "NK",
            "NONE",
            "ANON",
            "ANONYMOUS",
        ],
        *[
            "REFUSED",
            "WITHHELD",
            "TEST",
            "XX",
            "XXX",
            "MR",
            "MRS",
            "MS",
            "MISS",
            "MASTER",
            "MX",
            "DR",
            "SIR",
            "LADY",
            "LORD",
        ],
        *["MUM", "MOTHER", "DAD", "FATHER", "SON", "DAUGHTER", "TWIN"],
        *("BABY BOY", "BABY GIRL", "UNBORN BABY", "UNBORN CHILD", "NOT KNOWN", "N K", "NO NAME"),
        *("TWIN 1", "TWIN 2", "TWIN ONE", "TWIN TWO", "MALE CHILD", "FEMALE CHILD"),
        # a relationship or a role written where the name was not given (a household
        # form filled in by one member, a call handler's note): "Wife", "Grandson", "Resident"
        *["MOM", "WIFE", "HUSBAND", "GRANDSON", "GRANDDAUGHTER", "GRANDCHILD", "NEPHEW", "NIECE"],
        *["BROTHER", "SISTER", "MINOR", "KID", "PERSON", "ADULT", "RESIDENT", "OCCUPIER", "OCCUPANT"],
        *["RESPONDENT", "HOUSEHOLDER", "GENTLEMAN", "WOMAN", "OLDEST", "YOUNGEST", "FRIEND", "INMATE"],
        *("ADULT MALE", "ADULT FEMALE", "CHILD F", "CHILD M", "LADY OF HOUSE", "MAN OF HOUSE"),
        # the plural and the short forms of a role already here ("Gentlemen", "Gent"), and "Dau",
        # the census enumerator's abbreviation of daughter
        *["GENTLEMEN", "GENT", "DAU"],
    }
)
"""Standardised forenames that name no one: what a maternity ward, a call handler or a form
writes for a person whose name is not known (``Baby``, ``Unborn``, ``Girl``, ``Unknown``,
a title alone). Compared as a real forename, ``BABY`` would make every unnamed newborn one
person; and a child's later record (``Olivia``) would disagree with it. Treated as missing."""

PLACEHOLDER_FORENAME_PREFIXES: tuple[str, ...] = (
    *("BABY OF ", "SON OF ", "DAUGHTER OF ", "CHILD OF ", "UNBORN OF ", "WIFE OF ", "HUSBAND OF "),
    *("MAN OF ", "LADY OF ", "MAN IN THE ", "LADY IN THE ", "GENTLEMAN OF "),
)
"""``Baby of Smith``: a placeholder naming the parent, not the child; ``Lady of the house``,
``Man in the ...`` (with or without the rest of the phrase): a role, not a name."""

PLACEHOLDER_SURNAMES: frozenset[str] = frozenset(
    {
        *["UNKNOWN", "NOT KNOWN", "NK", "N K", "NONE", "NO NAME", "ANON", "ANONYMOUS", "REFUSED", "WITHHELD"],
        *["XX", "XXX", "UNK", "DONT KNOW", "DECLINED", "LAST NAME", "NO LAST NAME", "SURNAME", "NO SURNAME"],
        *["OCCUPIER", "OCCUPANT", "RESIDENT", "HOUSEHOLDER", "RESPONDENT", "RESPONDANT", "THE OCCUPIER"],
        *["OF THE HOUSE", "OF HOUSE", "LADY OF THE HOUSE", "LADY OF HOUSE", "MAN OF THE HOUSE", "THE HOUSE"],
        *["OF THE HOME", "HOUSEHOLD", "HOUSEHOLD MEMBER"],
        # a relationship or a sex written where the surname was not given ("Husband", "Female"): words
        # that are forename placeholders too, and no one's surname
        *["HUSBAND", "WIFE", "DAUGHTER", "CHILD", "GIRL", "BOY", "ADULT", "MALE", "FEMALE"],
    }
)
"""Standardised surnames that name no one (before separators are removed; ``The Occupier``,
``Lady of the house``, ``Last name``): treated as missing."""


def forename_std(value: str | None) -> str | None:
    """:func:`name_std` of a forename, or None for a placeholder (:data:`PLACEHOLDER_FORENAMES`).

    >>> forename_std("Baby Girl"), forename_std("Baby of Smith"), forename_std("Olivia")
    (None, None, 'OLIVIA')
    """
    std = name_std(value)
    if std is None or std in PLACEHOLDER_FORENAMES or (std + " ").startswith(PLACEHOLDER_FORENAME_PREFIXES):
        return None
    return std


def surname_std(value: str | None) -> str | None:
    """A surname with every separator removed: ``Smith-Jones`` and ``SMITH JONES`` -> ``SMITHJONES``;
    None for a placeholder (:data:`PLACEHOLDER_SURNAMES`).
    """
    std = name_std(value)
    return None if std is None or std in PLACEHOLDER_SURNAMES else std.replace(" ", "")


def surname_tokens(value: str | None) -> list[str]:
    """The parts of a surname; a one-letter part joins the next (``O Brien`` -> ``["OBRIEN"]``)."""
    std = name_std(value)
    if std is None or std in PLACEHOLDER_SURNAMES:
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
    """The first given name of a forename, standardised (None for a placeholder)."""
    std = forename_std(value)
    return None if std is None else std.split(" ")[0]


def release_caches() -> None:
    """Empty the per-name caches (:func:`canonical_forename`, :func:`forename_variants`,
    :func:`metaphone`): the same results are computed again when next asked for.

    Each cached name is a few small Python objects made while a batch's columns are standardised
    or its clusters formed, among millions of short-lived ones; the few thousand that outlive
    the step keep whole 1 MiB blocks of Python's small-object memory from going back to the
    system (some 600 MiB at a million records, ``tfident.link.link_persons``).
    """
    canonical_forename.cache_clear()
    forename_variants.cache_clear()
    metaphone.cache_clear()


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
    formal = DIMINUTIVES.get(first, ())
    if len(formal) == 1:
        return formal[0]
    namer = _namer()
    # a formal name is longer than its nicknames; the package also lists the reverse
    candidates: list[str] = sorted(
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
        for spelling in (first, *ending_spellings(first)):
            found.update(c.upper() for c in _namer().canonicals_of(spelling.lower()))  # type: ignore[attr-defined]
            found.update(DIMINUTIVES.get(spelling, ()))
            if spelling in SUPPLEMENTARY_CANONICALS:
                found.add(SUPPLEMENTARY_CANONICALS[spelling])
    return tuple(sorted(found))


@cache
def metaphone(value: str) -> str | None:
    """Metaphone code of a standardised name (spaces ignored); None when it has no letters."""
    letters = value.replace(" ", "")
    if not letters:
        return None
    code = jellyfish.metaphone(letters)
    return code or None
