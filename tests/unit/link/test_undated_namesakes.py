"""One worker's tax forms under different numbers (issue 12, pseudopeople: a worker with no SSN
of their own gets another number on each employer's form): ``undated_namesakes_share_ids``. Two
clusters with no date of birth, one full name and one address merge whatever numbers they hold;
another forename, another address or a date of birth on either side leaves the identifier guard
as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.link.test_copied_dob import _record
from tfident.link.clustering import EDGE_SCHEMA, cluster_profiles
from tfident.link.config import Guards
from tfident.link.profiles import build_profiles

Maker = Callable[..., pl.DataFrame]


def _one_person(make_persons: Maker, second: dict[str, Any], on: bool) -> bool:
    """Whether two tax forms of Ryan Crawford (no date of birth, one address), the second with
    ``second`` over another number, end up in one cluster (one edge of 13 bits between them).
    """
    ryan: dict[str, Any] = {"forename": "Ryan", "surname": "Crawford", "date_of_birth": None, "sex": None}
    persons = make_persons(
        [
            _record("benefits", "FORM1", **{**ryan, "nino": "AB123456C"}),
            _record("benefits", "FORM2", **{**ryan, "nino": "JK654321A", **second}),
        ]
    )
    profiles, _ = build_profiles(persons)
    edges = pl.DataFrame([(0, 1, 0.99, "splink", 0, 13.0)], schema={**EDGE_SCHEMA, "weight": pl.Float64}, orient="row")
    guards = Guards(ambiguous_margin=4, undated_namesakes_share_ids=on)
    return cluster_profiles(profiles, edges, guards)["cluster"].n_unique() == 1


@pytest.mark.parametrize(
    ("second", "on", "one_person"),
    [
        ({}, True, True),  # one name, one address, no date of birth: the numbers do not veto
        ({}, False, False),  # the option off: the identifier guard, as before
        ({"forename": "Bryan"}, True, False),  # another forename: not one full name
        ({"surname": "Crawfords"}, True, False),  # another surname
        ({"address_line_1": "9 Low Road", "postcode": "TF2 2BB"}, True, False),  # another address
        ({"date_of_birth": date(1980, 4, 1)}, True, False),  # a date of birth could tell them apart
    ],
)
def test_undated_tax_forms_of_one_name_at_one_address_merge_whatever_their_numbers(
    make_persons: Maker, second: dict[str, Any], on: bool, one_person: bool
) -> None:
    assert _one_person(make_persons, second, on) is one_person
