"""Frequency-capped blocking: a key value shared by too many profiles is skipped in its rule.

Each case builds a small profile frame, caps the configuration's rules at a block size,
and checks both the key values found crowded and, by running the generated SQL on
DuckDB, which pairs the rules then bring together.
"""

from __future__ import annotations

import datetime as dt
from itertools import combinations
from typing import Any

import duckdb
import polars as pl
import pytest
import sqlglot  # Splink's SQL parser

from tfident.link import BlockingRule, LinkageConfig, load_linkage_config
from tfident.link.blocking import blocking_rule_sql, crowded_keys
from tfident.link.config import KEY_COLUMNS

SHIPPED_CAP = 500
"""``blocking_max_block`` of the shipped ``config/linkage.yaml`` (checked below)."""


def _config(rules: list[tuple[str, ...]], max_block: int | None) -> LinkageConfig:
    return LinkageConfig(
        version="test",
        blocking_rules=tuple(BlockingRule(name=f"r{i}", block_on=keys) for i, keys in enumerate(rules)),
        blocking_max_block=max_block,
    )


def _pairs(frame: pl.DataFrame, sql: list[str]) -> set[tuple[int, int]]:
    """The pid pairs (l < r) that any of the rules ``sql`` brings together, on DuckDB."""
    con = duckdb.connect()
    con.register("p", frame.to_arrow())
    found: set[tuple[int, int]] = set()
    for condition in sql:
        rows = con.execute(f"SELECT l.pid, r.pid FROM p AS l JOIN p AS r ON l.pid < r.pid AND {condition}").fetchall()
        found.update((int(a), int(b)) for a, b in rows)
    return found


# a placeholder postcode on five of seven profiles; two real postcodes
POSTCODES = pl.DataFrame(
    {
        "pid": [1, 2, 3, 4, 5, 6, 7],
        "postcode_std": ["00000", "00000", "00000", "00000", "00000", "LS6 1AB", "LS6 1AB"],
        "forename_initial": ["J", "J", "J", "M", "J", "A", "A"],
        "surname_std": ["SMITH", "SMITH", "JONES", "JONES", "O'NEILL", "O'NEILL", "BROWN"],
        "date_of_birth": [dt.date(2010, 1, 2)] * 3 + [None, dt.date(2011, 5, 6), dt.date(2011, 5, 6), None],
        "uprn_matched": [10, 10, 10, 11, None, None, None],
    }
)

CASES: list[tuple[str, list[tuple[str, ...]], int | None, list[list[tuple[Any, ...]]], set[tuple[int, int]]]] = [
    (
        "no cap: every block scored",
        [("postcode_std",)],
        None,
        [[]],
        {(a, b) for a, b in combinations([1, 2, 3, 4, 5], 2)} | {(6, 7)},
    ),
    (
        "placeholder postcode on 5 profiles, cap 4: skipped; the real postcode kept",
        [("postcode_std",)],
        4,
        [[("00000",)]],
        {(6, 7)},
    ),
    (
        "cap 5: a block of exactly 5 is kept",
        [("postcode_std",)],
        5,
        [[]],
        {(a, b) for a, b in combinations([1, 2, 3, 4, 5], 2)} | {(6, 7)},
    ),
    (
        "two-column key: only the crowded combination (00000, J: 4 profiles) is skipped",
        [("postcode_std", "forename_initial")],
        3,
        [[("00000", "J")]],
        {(6, 7)},
    ),
    (
        "a skipped pair is still found by another rule (same surname)",
        [("postcode_std",), ("surname_std",)],
        4,
        [[("00000",)], []],
        {(6, 7), (1, 2), (3, 4), (5, 6)},
    ),
    (
        "a quote in a value is escaped; nulls are in no block",
        [("surname_std",)],
        1,
        [[("JONES",), ("O'NEILL",), ("SMITH",)]],
        set(),
    ),
    (
        "date and integer values: crowded dob 2010-01-02 and UPRN 10 skipped",
        [("date_of_birth",), ("uprn_matched",)],
        2,
        [[(dt.date(2010, 1, 2),)], [(10,)]],
        {(5, 6)},
    ),
    (
        "a date and an integer in one rule: the crowded pair of values skipped",
        [("date_of_birth", "uprn_matched")],
        2,
        [[(dt.date(2010, 1, 2), 10)]],
        set(),
    ),
    (
        "a date and an integer in one rule, under the cap: paired",
        [("date_of_birth", "uprn_matched")],
        3,
        [[]],
        {(1, 2), (1, 3), (2, 3)},
    ),
    (
        "a rule crossing two columns is never capped",
        [("forename_initial=postcode_std",)],
        1,
        [[]],
        set(),
    ),
]


@pytest.mark.parametrize(("rules", "max_block", "crowded", "pairs"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_capped_blocking(
    rules: list[tuple[str, ...]],
    max_block: int | None,
    crowded: list[list[tuple[Any, ...]]],
    pairs: set[tuple[int, int]],
) -> None:
    """The crowded key values are those above the cap; the generated SQL skips exactly them."""
    config = _config(rules, max_block)
    if max_block is not None:
        assert [crowded_keys(rule, POSTCODES, max_block) for rule in config.blocking_rules] == crowded
    assert _pairs(POSTCODES, blocking_rule_sql(config, POSTCODES)) == pairs


def test_without_frame_nothing_is_capped() -> None:
    """Without the profiles (a configuration check, the training settings) the rules are plain."""
    config = _config([("postcode_std", "forename_initial")], 2)
    assert blocking_rule_sql(config) == ["l.postcode_std = r.postcode_std AND l.forename_initial = r.forename_initial"]


def _shipped_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Profiles with every blocking column (null unless given), numbered by ``pid``."""
    schema: dict[str, pl.DataType] = {c: pl.String() for c in KEY_COLUMNS}
    schema.update({"date_of_birth": pl.Date(), "dob_transposed": pl.Date(), "uprn_matched": pl.Int64()})
    schema.update({c: pl.Int32() for c in ("dob_year", "dob_month", "dob_day")})
    full = [{c: row.get(c) for c in schema} | {"pid": i} for i, row in enumerate(rows)]
    return pl.DataFrame(full, schema={**schema, "pid": pl.Int64()}, orient="row")


def _person(forename: str | None, surname: str, dob: dt.date | None, postcode: str | None) -> dict[str, Any]:
    parts = {"dob_year": dob.year, "dob_month": dob.month, "dob_day": dob.day} if dob else {}
    if dob and dob.day <= 12 and dob.day != dob.month:
        parts["dob_transposed"] = dt.date(dob.year, dob.day, dob.month)
    return {
        "forename_first": forename,
        "forename_canonical": forename,
        "forename_initial": forename[0] if forename else None,
        "surname_std": surname,
        "surname_metaphone": surname[:3],
        "date_of_birth": dob,
        "postcode_std": postcode,
        **parts,
    }


SHIPPED_CASES: list[tuple[str, list[dict[str, Any]], set[tuple[int, int]]]] = [
    (
        "same full name, dates of birth years apart, no postcode on one: the full-name rule",
        [_person("MARY", "JONES", dt.date(1980, 3, 4), "LS6 1AB"), _person("MARY", "JONES", dt.date(1975, 9, 1), None)],
        {(0, 1)},
    ),
    (
        "different surnames, no date of birth in common, different postcodes: not compared",
        [_person("MARY", "JONES", dt.date(1980, 3, 4), "LS6 1AB"), _person("MARY", "SMITH", None, "LS7 2CD")],
        set(),
    ),
    (
        "day and month transposed, surnames that sound different, same initial: transposed_initial",
        [_person("MARY", "JONES", dt.date(1980, 3, 4), None), _person("MARY", "BROWN", dt.date(1980, 4, 3), None)],
        {(0, 1)},
    ),
    (
        "day and month transposed, no forename on one, same surname: transposed_surname",
        [_person("MARY", "JONES", dt.date(1980, 3, 4), None), _person(None, "JONES", dt.date(1980, 4, 3), None)],
        {(0, 1)},
    ),
    (
        "day and month transposed, different initial and surname: not compared",
        [_person("MARY", "JONES", dt.date(1980, 3, 4), None), _person("ANNE", "BROWN", dt.date(1980, 4, 3), None)],
        set(),
    ),
    (
        "a placeholder postcode above the cap no longer pairs everyone with the same initial",
        [_person("MARY", f"SURNAME{i}", None, "ZZ99 9ZZ") for i in range(SHIPPED_CAP + 1)],
        set(),
    ),
    (
        "a real postcode (three profiles, under the cap) still pairs the same initials",
        [_person("MARY", f"SURNAME{i}", None, "LS6 1AB") for i in range(3)],
        {(0, 1), (0, 2), (1, 2)},
    ),
]


@pytest.mark.parametrize(("rows", "pairs"), [c[1:] for c in SHIPPED_CASES], ids=[c[0] for c in SHIPPED_CASES])
def test_shipped_rules(rows: list[dict[str, Any]], pairs: set[tuple[int, int]]) -> None:
    """The shipped rules, capped on the profiles, pair exactly these profiles."""
    frame = _shipped_frame(rows)
    assert _pairs(frame, blocking_rule_sql(load_linkage_config(with_model=False), frame)) == pairs


def test_shipped_cap() -> None:
    """The shipped configuration caps blocks at :data:`SHIPPED_CAP` profiles."""
    assert load_linkage_config(with_model=False).blocking_max_block == SHIPPED_CAP


@pytest.mark.parametrize(
    ("rule_cap", "config_cap", "pairs"),
    [
        (2, None, {(3, 4)}),  # the rule's own cap applies without a general one
        (2, 10, {(3, 4)}),  # and over the general one
        (None, 2, {(3, 4)}),
        (None, 10, {(0, 1), (0, 2), (1, 2), (3, 4)}),
        (3, 2, {(0, 1), (0, 2), (1, 2), (3, 4)}),  # a looser rule cap wins too
    ],
)
def test_a_rule_caps_its_own_blocks(rule_cap: int | None, config_cap: int | None, pairs: set[tuple[int, int]]) -> None:
    """``max_block`` on a rule replaces ``blocking_max_block`` for that rule only."""
    frame = pl.DataFrame({"pid": [0, 1, 2, 3, 4], "surname_std": ["SMITH"] * 3 + ["JONES"] * 2})
    rule = BlockingRule(name="surname", block_on=("surname_std",), max_block=rule_cap)
    config = LinkageConfig(version="test", blocking_rules=(rule,), blocking_max_block=config_cap)
    assert _pairs(frame, blocking_rule_sql(config, frame)) == pairs


def test_the_shipped_full_name_rule_has_a_tighter_cap() -> None:
    """Common full names are left to the other rules (the 1M-record pair count)."""
    (full_name,) = [r for r in load_linkage_config().blocking_rules if r.name == "full_name"]
    assert full_name.max_block == 50


def _depth(node: Any) -> int:
    """The nesting depth of a sqlglot expression tree (iteratively: a deep tree must not overflow the test)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in current.iter_expressions())
    return deepest


@pytest.mark.parametrize("columns", [("surname_std",), ("forename_initial", "surname_std")])
def test_many_crowded_values_stay_shallow(columns: tuple[str, ...]) -> None:
    """Thousands of crowded values (a national batch) give a shallow expression, one flat ``IN`` list
    whatever the rule's columns: a chain of n ORs nests n deep, and Spark's executors overflowed their
    stacks walking it at 3M records. The rule still skips exactly the crowded values (on DuckDB).
    """
    n = 3_000
    frame = pl.DataFrame(
        {
            "pid": list(range(2 * n + 2)),
            "forename_initial": ["J"] * (2 * n + 2),
            # n crowded surnames (two profiles each, cap 1) and one pair under a cap of 2
            "surname_std": [f"S{i // 2}" for i in range(2 * n)] + ["LONE", "LONE"],
        }
    )
    rule = BlockingRule(name="r", block_on=columns, max_block=1)
    (sql,) = blocking_rule_sql(LinkageConfig(version="test", blocking_rules=(rule,)), frame)
    assert len(crowded_keys(rule, frame, 1)) == n + 1
    for dialect in ("duckdb", "spark"):  # Splink reads blocking rules with sqlglot
        assert _depth(sqlglot.parse_one(sql, read=dialect)) < 20
    assert _pairs(frame, [sql]) == set()
    looser = BlockingRule(name="r", block_on=columns, max_block=2)
    assert _pairs(frame, blocking_rule_sql(LinkageConfig(version="test", blocking_rules=(looser,)), frame)) == {
        (2 * i, 2 * i + 1) for i in range(n + 1)
    }


def test_a_key_value_holding_the_separator_is_still_skipped() -> None:
    """A value with the unit separator in it (which joining the columns' text cannot tell apart) is
    excluded by plain conditions instead, and exactly it is skipped.
    """
    frame = pl.DataFrame(
        {
            "pid": [0, 1, 2, 3, 4],
            "forename_initial": ["J", "J", "J", "M", "M"],
            "surname_std": ["A\x1fB", "A\x1fB", "A\x1fB", "SMITH", "SMITH"],
        }
    )
    rule = BlockingRule(name="r", block_on=("forename_initial", "surname_std"), max_block=2)
    (sql,) = blocking_rule_sql(LinkageConfig(version="test", blocking_rules=(rule,)), frame)
    assert "concat_ws" not in sql
    assert _pairs(frame, [sql]) == {(3, 4)}
