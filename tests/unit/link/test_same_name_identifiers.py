"""Two keying errors in an identifier between two records of one first forename and surname
(``same_name_identifier_errors``, issue 12: pseudopeople's W2 forms carry SSNs read or keyed
twice wrong, ``220263447`` / ``Z202G3447``), while twins, whose numbers are often two keying
errors apart, and a father and his namesake son stay apart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.link.test_guards_evidence import _clusters
from tests.unit.link.test_link_splink import person
from tfident.link.clustering import _ids_conflict
from tfident.link.config import Guards
from tfident.synth.identifiers import make_upn

Maker = Callable[..., pl.DataFrame]

NINO = "JK123456C"
TWO_ERRORS = "JK125476C"  # two digits wrong
THREE_ERRORS = "JK925476C"  # three


@pytest.mark.parametrize(
    ("a", "b", "errors", "conflict"),
    [
        ({"399722317"}, {"399742318"}, 1, True),  # two keying errors: another number, by default
        ({"399722317"}, {"399742318"}, 2, False),  # tolerated
        ({"220263447"}, {"Z202G3447"}, 2, False),  # read twice wrong (OCR)
        ({"399722317"}, {"399712328"}, 2, True),  # three
        ({"39972231"}, {"3997223177"}, 2, True),  # lengths differ
        ({"U1234"}, {"U1243"}, 2, True),  # a short code
    ],
)
def test_keying_errors_tolerated(a: set[str], b: set[str], errors: int, conflict: bool) -> None:
    assert _ids_conflict(a, b, errors) is conflict


@pytest.mark.parametrize(
    ("second", "errors", "one_person"),
    [
        ({"nino": TWO_ERRORS}, 2, True),  # one name, a number keyed twice wrong
        ({"nino": TWO_ERRORS}, 1, False),  # the option at one: a veto, as before
        ({"nino": THREE_ERRORS}, 2, False),  # three errors: another number
        ({"nino": TWO_ERRORS, "surname": "Smyth"}, 2, False),  # not the same surname
        ({"nino": TWO_ERRORS, "forename": "Rob"}, 2, False),  # not the same first forename
        # twins: one surname, one date of birth, one address, numbers two errors apart
        ({"nino": TWO_ERRORS, "forename": "Richard", "address_line_1": "1 High Street"}, 2, False),
        # a father and his namesake son: the dob guard still holds them apart
        ({"nino": TWO_ERRORS, "date_of_birth": date(1979, 2, 3)}, 2, False),
    ],
)
def test_two_keying_errors_between_records_of_one_name(
    make_persons: Maker, second: dict[str, Any], errors: int, one_person: bool
) -> None:
    # B at another address (a mailing address): not one identity, which would override any identifier
    rows = [person("benefits", "A", nino=NINO), person("benefits", "B", **{"address_line_1": "9 Low Road", **second})]
    clusters = _clusters(make_persons(rows), Guards(same_name_identifier_errors=errors))
    assert (frozenset({"A", "B"}) in clusters) is one_person


def test_a_chain_through_a_record_without_the_identifier(make_persons: Maker) -> None:
    """A tax form (no date of birth, one number), the census record (no number) and the social
    security record (the number read twice wrong) of one name: the census record carries no
    number, so the two numbers meet only when clusters merge; the pair merging them is of one name.
    """
    rows = [
        person("benefits", "W2", nino=NINO, date_of_birth=None),
        person("school_census", "CENSUS"),
        person("benefits", "SSA", nino=TWO_ERRORS, address_line_1=None, town=None, postcode=None),
    ]
    assert _clusters(make_persons(rows), Guards()) == {frozenset({"W2", "CENSUS", "SSA"})}
    apart = _clusters(make_persons(rows), Guards(same_name_identifier_errors=1))
    assert frozenset({"W2", "CENSUS", "SSA"}) not in apart


def test_not_for_an_identifier_with_a_check_character(make_persons: Maker) -> None:
    """Two valid UPNs two keying errors apart (a digit and the check letter) are two numbers, often
    issued in sequence: the tolerance is for identifiers without a check character only.
    """
    upn_a, upn_b = make_upn("997200123001"), make_upn("997200123002")
    rows = [
        person("school_census", "A", upn=upn_a),
        person("school_census", "B", upn=upn_b, address_line_1="9 Low Road"),
    ]
    assert frozenset({"A", "B"}) not in _clusters(make_persons(rows), Guards(same_name_identifier_errors=2))
