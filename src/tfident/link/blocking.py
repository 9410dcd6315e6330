"""Blocking: which pairs of profiles the model scores (``blocking_rules`` of ``config/linkage.yaml``).

A blocking rule's key value shared by more than ``blocking_max_block`` profiles is
skipped in that rule (:func:`crowded_keys`): a placeholder value (a postcode such as
``00000`` or ``ZZ99 9ZZ`` typed for every unknown address, an address of a hostel or a
large institution) says nothing about who is who, and a block of ``n`` profiles costs
``n(n-1)/2`` comparisons. Pairs in a skipped block are still scored when another rule
(names, date of birth, an identifier) brings them together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl

from tfident.link.config import BlockingRule, LinkageConfig


def _literal(value: Any) -> str:
    """``value`` as an SQL literal that DuckDB and Spark SQL both read."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def key_sides(key: str) -> tuple[str, str]:
    """A blocking key's ``(left, right)`` columns: ``a=b`` -> ``(a, b)``, ``a`` -> ``(a, a)``."""
    left, _, right = key.partition("=")
    return left, right or left


def crowded_keys(rule: BlockingRule, frame: pl.DataFrame, max_block: int) -> list[tuple[Any, ...]]:
    """The key values of ``rule`` that more than ``max_block`` rows of ``frame`` share.

    Only rules comparing each column with itself are capped (a rule such as
    ``dob_transposed=date_of_birth`` crosses two columns, so no single value is a block).
    Rows with a null in any key column are in no block and not counted.
    """
    sides = [key_sides(key) for key in rule.block_on]
    if any(left != right for left, right in sides):
        return []
    columns = [left for left, _ in sides]
    if any(c not in frame.columns for c in columns):
        return []
    counts = frame.select(columns).drop_nulls().group_by(columns).len().filter(pl.col("len") > max_block)
    return [tuple(row) for row in counts.sort(columns).select(columns).iter_rows()]


def _exclusion(columns: Sequence[str], values: list[tuple[Any, ...]]) -> str:
    """``NOT (...)``: the left record's key is none of ``values`` (the right's equals it).

    A flat ``IN`` list however many values there are: one column, ``NOT (l.c IN (...))``; several,
    their text joined by a unit separator, ``NOT (concat_ws(chr(31), CAST(l.a AS STRING), ...) IN
    (...))``. A national batch has thousands of crowded values, and the conditions joined by OR
    instead (as this was written first) nest thousands deep: Spark's executors overflowed their
    stacks walking that tree (``StackOverflowError`` in ``TreeNode.height``, at 3M records on a
    standalone cluster), and a balanced tree of the same ORs ran its heap out; Spark keeps a long
    ``IN`` list as a hash set. A key column's text is the same in DuckDB and Spark (dates
    ``YYYY-MM-DD``, integers in decimal); a value holding the separator itself falls back to the
    ORs. (Joining text that holds a null differs from the key, but a null key pairs with nothing.)
    """
    if len(columns) == 1:
        return f"NOT (l.{columns[0]} IN ({', '.join(_literal(row[0]) for row in values)}))"
    texts = ["\x1f".join(_text(v) for v in row) for row in values]
    if any(text.count("\x1f") != len(columns) - 1 for text in texts):  # no standardised key holds it
        terms = [" AND ".join(f"l.{c} = {_literal(v)}" for c, v in zip(columns, row, strict=True)) for row in values]
        return "NOT (" + " OR ".join(f"({t})" for t in terms) + ")"
    joined = ", ".join(f"CAST(l.{c} AS STRING)" for c in columns)
    return f"NOT (concat_ws(chr(31), {joined}) IN ({', '.join(_literal(t) for t in texts)}))"


def _text(value: Any) -> str:
    """A key value as DuckDB and Spark SQL both cast it to text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def rule_cap(rule: BlockingRule, config: LinkageConfig) -> int | None:
    """The most profiles a key value of ``rule`` may be shared by: the rule's ``max_block``, else the
    configuration's ``blocking_max_block`` (``None``: no cap).
    """
    return rule.max_block if rule.max_block is not None else config.blocking_max_block


def blocking_rule_sql(config: LinkageConfig, frame: pl.DataFrame | None = None) -> list[str]:
    """The prediction blocking rules of the configuration as SQL conditions.

    A key ``column`` is ``l.column = r.column``; a key ``left=right`` is ``l.left = r.right``.
    With ``frame`` (the profiles Splink scores) and ``config.blocking_max_block`` set, the
    key values of a rule shared by more profiles than that are excluded from the rule
    (:func:`crowded_keys`).
    """
    rules = []
    for rule in config.blocking_rules:
        parts = []
        for key in rule.block_on:
            left, right = key_sides(key)
            parts.append(f"l.{left} = r.{right}")
        cap = rule_cap(rule, config)
        if frame is not None and cap is not None:
            crowded = crowded_keys(rule, frame, cap)
            if crowded:
                parts.append(_exclusion([key_sides(k)[0] for k in rule.block_on], crowded))
        rules.append(" AND ".join(parts))
    return rules


def blocking_rules_setting(config: LinkageConfig, frame: pl.DataFrame | None = None) -> list[dict[str, Any]]:
    """Splink's ``blocking_rules_to_generate_predictions`` for ``config`` (see :func:`blocking_rule_sql`)."""
    return [{"blocking_rule": sql, "sql_dialect": config.backend} for sql in blocking_rule_sql(config, frame)]
