"""An impossible date of birth is no date of birth to linkage (issue 12, pseudopeople: ``7016``
for ``2016``, ``1099`` for ``1999``): before 1900, or more than a year after the record's own date
(a child not yet born may carry an expected date a few months ahead).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl
import pytest

from tests.unit.link.test_link_splink import person
from tfident.link.clustering import EDGE_SCHEMA, cluster_profiles
from tfident.link.config import Guards
from tfident.link.profiles import build_profiles, possible_dob

Maker = Callable[..., pl.DataFrame]

RECORDED = date(2026, 10, 31)


@pytest.mark.parametrize(
    ("dob", "recorded", "kept"),
    [
        (date(2016, 6, 1), RECORDED, True),
        (date(1900, 1, 1), RECORDED, True),  # the earliest kept
        (date(1899, 12, 31), RECORDED, False),
        (date(1099, 11, 22), RECORDED, False),  # 1999 keyed wrong
        (date(2027, 3, 1), RECORDED, True),  # an unborn child's expected date, months ahead
        (date(2027, 11, 1), RECORDED, True),  # a year and a day after: still kept
        (date(2027, 11, 2), RECORDED, False),
        (date(7016, 6, 8), RECORDED, False),  # 2016 keyed wrong
        (date(7016, 6, 8), None, True),  # no record date: only the earliest is checked
        (None, RECORDED, False),
    ],
)
def test_a_date_of_birth_no_one_could_have_is_none(dob: date | None, recorded: date | None, kept: bool) -> None:
    frame = pl.DataFrame(
        {"date_of_birth": [dob], "evidence_date": [recorded]},
        schema={"date_of_birth": pl.Date, "evidence_date": pl.Date},
    )
    got = frame.select(possible_dob(frame))["date_of_birth"][0]
    assert got == (dob if kept else None)


def test_an_impossible_date_of_birth_does_not_hold_a_person_apart(make_persons: Maker) -> None:
    """Daniel's census record and his health record whose year was keyed 7016: one person (the
    date of birth is left out, the records agree on the rest); a real other date keeps the dob guard.
    """
    for health_dob, one_person in ((date(7016, 6, 8), True), (date(1980, 6, 8), False)):
        rows = [
            person("school_census", "CENSUS", forename="Daniel", date_of_birth=date(2016, 6, 1)),
            person("health", "HEALTH", forename="Daniel", date_of_birth=health_dob),
        ]
        profiles, _ = build_profiles(make_persons(rows))
        edges = pl.DataFrame(
            [(0, 1, 0.99, "splink", 0, 10.0)], schema={**EDGE_SCHEMA, "weight": pl.Float64}, orient="row"
        )
        clusters = cluster_profiles(profiles, edges, Guards())
        assert (clusters["cluster"].n_unique() == 1) is one_person
