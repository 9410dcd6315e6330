"""One definition of each fact (age, roles, decision statuses, identity event kinds) and one exception tree."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import date

import polars as pl
import pytest

import tfident
from tfident import errors
from tfident.households.roles import ADULT_AGE, ROLES, age_expr, age_on, is_adult, is_child, role_expr

BIRTHS = [date(2008, 10, 31), date(2008, 11, 1), date(2008, 2, 29), date(2010, 3, 1), date(1970, 1, 1), None]
DAYS = [date(2026, 10, 31), date(2026, 2, 28), date(2026, 3, 1), date(2028, 2, 29), date(2026, 10, 30)]


def test_age_is_the_same_fact_in_frames_and_for_one_person() -> None:
    """It gives the same completed years from the polars expression (a date or a column) and the scalar
    function, with 29 February birthdays reached on 1 March in a year without one.
    """
    frame = pl.DataFrame({"dob": BIRTHS}, schema={"dob": pl.Date})
    for day in DAYS:
        by_date = frame.select(age_expr(pl.col("dob"), day)).to_series().to_list()
        by_column = (
            (frame.with_columns(at=pl.lit(day, dtype=pl.Date)).select(age_expr(pl.col("dob"), pl.col("at"))))
            .to_series()
            .to_list()
        )
        assert by_date == by_column == [age_on(dob, day) for dob in BIRTHS]
    assert age_on(date(2008, 10, 31), date(2026, 10, 31)) == 18
    assert age_on(date(2008, 11, 1), date(2026, 10, 31)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


def test_roles_follow_the_age_of_adulthood() -> None:
    """It makes an 18-year-old an adult, a 17-year-old a child, and a person without a date of birth unknown
    (neither adult nor child for the criteria's member filters).
    """
    frame = pl.DataFrame({"dob": BIRTHS}, schema={"dob": pl.Date})
    day = date(2026, 10, 31)
    roles = frame.select(role_expr(pl.col("dob"), day)).to_series().to_list()
    assert roles == ["adult", "child", "adult", "child", "adult", "unknown"]
    assert set(roles) <= set(ROLES)
    assert ADULT_AGE == 18
    ages = frame.select(age_expr(pl.col("dob"), day).alias("age"))
    assert ages.select(is_adult(pl.col("age"))).to_series().to_list() == [r == "adult" for r in roles]
    assert ages.select(is_child(pl.col("age"))).to_series().to_list() == [r == "child" for r in roles]


def test_the_criteria_members_are_the_households_age_groups() -> None:
    """It lets a rule pack name exactly the age groups households give roles by, plus ``any``."""
    from typing import get_args

    from tfident.criteria.pack import Member
    from tfident.households import HouseholdsConfig

    def flat(alias: object) -> set[str]:
        return {v for arg in get_args(alias) for v in (flat(arg) if get_args(arg) else {arg})}

    assert flat(Member) == {"any", *(set(ROLES) - {"unknown"})}
    assert set(HouseholdsConfig().mover_roles) == set(ROLES)


def test_each_status_and_event_kind_has_one_home() -> None:
    """It finds the store's decision statuses and identity event kinds to be the very objects their home
    modules define, and the review app labelling every status.
    """
    from tfident import identity
    from tfident.review import service, web
    from tfident.store import review, tables

    assert tables.IDENTITY_EVENT_KINDS is identity.IDENTITY_EVENT_KINDS
    assert review.STATUSES is tables.STATUSES
    assert review.STATUS_NEW is tables.STATUS_NEW
    assert set(tables.SETTLED_DECISIONS) <= set(tables.DECISIONS)
    assert set(service.DECISION_LABELS) == set(tables.STATUSES)
    assert set(web.DECISION_TAGS) == set(tables.STATUSES)
    assert set(service.DECISION_OPTIONS) == set(tables.DECISIONS)


NOT_TFIDENT_ERRORS = {
    "tfident.errors.StopRun": "not an error: a run already stored ends early; never reaches the command line",
    "tfident.review.web.LoginRequired": "the review app's redirect to the sign-in page, not an error",
}
DEFINED_ELSEWHERE = {"tfident.link.explanation.RecordNotFound": "a LinkageError, defined where it is raised"}


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(tfident.__path__, "tfident."):
        if ".migrations" in info.name:
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional extra (pyspark) not installed here
            continue
        names.append(info.name)
    return names


def test_every_exception_class_is_in_the_one_tree() -> None:
    """It imports every module of tfident and finds each exception class defined in ``tfident.errors`` (or one
    of the documented exceptions) and a ``TfidentError`` (or one of the documented non-errors).
    """
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException):
                continue
            qualified = f"{name}.{cls.__name__}"
            found.append(qualified)
            if qualified not in NOT_TFIDENT_ERRORS:
                assert issubclass(cls, errors.TfidentError), qualified
            if qualified not in DEFINED_ELSEWHERE and qualified not in NOT_TFIDENT_ERRORS:
                assert name == "tfident.errors", f"{qualified} belongs in tfident.errors"
    assert {*NOT_TFIDENT_ERRORS, *DEFINED_ELSEWHERE} <= set(found)
    assert len(found) > 20


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("tfident.checkpoints", "CannotResume"),
        ("tfident.runner", "RunStopped"),
        ("tfident.store.review", "DecisionRefused"),
    ],
)
def test_moved_exceptions_keep_their_old_names(module: str, name: str) -> None:
    """It still imports each exception from the module that defined it before, as the same class."""
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)
