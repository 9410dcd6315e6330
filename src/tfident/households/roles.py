"""Age and roles: the one definition of a person's age at a date and of who is an adult or a child.

A person's age is their completed years on a date (a birthday on 29 February is reached on
1 March in a year without one). At the batch date D a person is an ``adult`` at
:data:`ADULT_AGE` or over, a ``child`` under it, and ``unknown`` without a date of birth.
Households give members their :data:`Role` here; criteria filter rule members by the same
age groups (``tfident.criteria.pack.Member``); the review app shows the same age
(:func:`age_on`). Households is the lowest layer that needs the fact, so it lives here.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import polars as pl

ADULT_AGE = 18
"""Completed years at which a person is an adult."""

AgeGroup = Literal["adult", "child"]
"""A person with a date of birth: ``adult`` (:data:`ADULT_AGE` or over) or ``child``."""
Role = Literal[AgeGroup, "unknown"]
"""A household member's role at the batch date: an age group, or ``unknown`` without a date of birth."""
ROLES: tuple[Role, ...] = ("adult", "child", "unknown")
"""Every :data:`Role`, in that order."""


def age_expr(dob: pl.Expr, at: pl.Expr | date) -> pl.Expr:
    """Age in completed years (Int32) on ``at`` of someone born on ``dob`` (null if either is null)."""
    at = pl.lit(at, dtype=pl.Date) if isinstance(at, date) else at
    before_birthday = (at.dt.month().cast(pl.Int32) * 100 + at.dt.day().cast(pl.Int32)) < (
        dob.dt.month().cast(pl.Int32) * 100 + dob.dt.day().cast(pl.Int32)
    )
    return at.dt.year().cast(pl.Int32) - dob.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)


def age_on(date_of_birth: date | None, on: date) -> int | None:
    """Age in completed years on ``on`` (None without a date of birth): :func:`age_expr` for one person."""
    if date_of_birth is None:
        return None
    return on.year - date_of_birth.year - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))


def is_adult(age: pl.Expr) -> pl.Expr:
    """Whether an age (:func:`age_expr`) is an adult's; false when the age is unknown."""
    return (age >= ADULT_AGE).fill_null(False)


def is_child(age: pl.Expr) -> pl.Expr:
    """Whether an age (:func:`age_expr`) is a child's; false when the age is unknown."""
    return (age < ADULT_AGE).fill_null(False)


def role_expr(dob: pl.Expr, at: pl.Expr | date) -> pl.Expr:
    """A person's :data:`Role` on ``at``, from their date of birth."""
    age = age_expr(dob, at)
    return (
        pl.when(dob.is_null())
        .then(pl.lit("unknown"))
        .when(age >= ADULT_AGE)
        .then(pl.lit("adult"))
        .otherwise(pl.lit("child"))
    )
