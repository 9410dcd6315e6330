"""The comparisons the person model is made of, and their SQL for each backend.

Comparisons (first matching level wins; a ``null`` level has weight 0):

- ``forename`` (first given name): missing; exact (term-frequency adjusted); forename
  and surname swapped (``Johnson, Oscar`` / ``Oscar, Johnson``); swapped with a typo
  (each name Jaro-Winkler >= 0.9 to the other record's other name: ``Ryna, Chloe`` /
  ``Chloe, Ryan``); same canonical name
  (Bob/Robert); nickname variants meet (Florrie/Florence, Liv/Olivia); a shortened form
  (one name, of three letters or more, the start of the other: Cal/Callum, Bil/Bilal);
  Jaro-Winkler >= 0.92; one's forename is a middle name of the other (a child known by a middle name in
  one agency: ``forename_middles``); Jaro-Winkler >= 0.85; one side an initial that
  agrees; else.
- ``surname``: missing; exact (term-frequency adjusted); forename and surname swapped,
  exactly or with a typo (weight 0, fixed: a swap is one agreement of both names, weighed once in ``forename``;
  counted in both, a swap alone outweighed a different date of birth, postcode and
  identifier on FEBRL4); a part of a double-barrelled surname shared (array overlap of ``surname_tokens``);
  same metaphone; Jaro-Winkler >= 0.92, >= 0.85; else.
- ``dob``: missing; exact; day and month transposed; one year apart on the same day and
  month; one digit of YYYYMMDD different (a keying error: day 3/13, month 05/06); one of
  day, month, year otherwise off (the other two agree); else.
- ``address``: neither UPRN, nor postcode, nor address text on both; same matched UPRN;
  same address text where neither record has a UPRN (``address_key``: the canonical
  ``address_std`` of a record the gazetteer did not resolve; postcodes equal, similar or
  one missing); same postcode; similar postcode (Jaro-Winkler >= 0.88: a mistyped
  character, two transposed); else.
- ``sex``; ``upn``, ``nino``, ``nhs_number``, ``pnc_id``: missing, exact, else.

The comparisons are fixed here and frozen, with their m and u probabilities, in the
model file (``tfident.link.model``). The SQL written here (equalities, ``length``,
``substr``, ``CASE``) is the same on every backend; the levels from Splink's library are
written for each backend by Splink (array intersection). Every Jaro-Winkler level is
:func:`jaro_winkler_level` (or a level built from :func:`jaro_winkler_at_least`): on
DuckDB it calls DuckDB's ``jaro_winkler_similarity``, exactly as Splink's own
``JaroWinklerLevel`` writes it; on Spark it calls tfident's SQL function
``tfident_jaro_winkler_at_least`` by name, which the Spark backend registers in the
session (``tfident.link.backends.spark``: DuckDB's algorithm exactly, not the function
of the jar Splink ships for Spark, which scores some name pairs differently). A model
trained on one backend predicts on the other with its comparison SQL rendered for it
(:func:`comparisons_for_dialect`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tfident.errors import ConfigError
from tfident.link.backends.spark import JARO_WINKLER_AT_LEAST

NEUTRAL_PROBABILITY = 1e-6
"""m and u of a level that counts for nothing (weight 0)."""

COMPARISONS: tuple[str, ...] = ("forename", "surname", "dob", "address", "sex", "upn", "nino", "nhs_number", "pnc_id")
"""The comparison names, in waterfall order."""

POSTCODE_SIMILARITY = 0.88
"""Jaro-Winkler similarity of the similar-postcode level (``LS6 1AB``/``LS6 1BA``, ``4222``/``4221``)."""

SWAP_SIMILARITY = 0.9
"""Jaro-Winkler similarity both crossed names reach in the swapped-with-a-typo levels."""

JaroWinklerAtLeast = Callable[[str, str, float], str]
"""Renders ``jaro_winkler(left, right) >= threshold`` in one dialect's SQL."""


def jaro_winkler_at_least(sql_dialect: Any) -> JaroWinklerAtLeast:
    """The SQL of "the Jaro-Winkler similarity of ``left`` and ``right`` reaches ``threshold``"
    in ``sql_dialect`` (a Splink ``SplinkDialect``): on Spark a call of tfident's function
    ``tfident_jaro_winkler_at_least(left, right, threshold)`` (registered by
    ``tfident.link.backends.spark``); elsewhere ``<dialect's jaro_winkler>(left, right) >=
    threshold``, as Splink's ``JaroWinklerLevel`` writes it.
    """
    if sql_dialect.sql_dialect_str == "spark":
        return lambda left, right, threshold: f"{JARO_WINKLER_AT_LEAST}({left}, {right}, {threshold})"
    function = sql_dialect.jaro_winkler_function_name
    return lambda left, right, threshold: f"{function}({left}, {right}) >= {threshold}"


def _jaro_winkler_level_class() -> type:
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

    class JaroWinklerSqlLevel(ComparisonLevelCreator):
        """A level whose SQL ``condition(sql_dialect, jw)`` tests Jaro-Winkler similarity
        through ``jw`` (:func:`jaro_winkler_at_least` of the dialect).
        """

        def __init__(self, condition: Callable[[Any, JaroWinklerAtLeast], str], label: str) -> None:
            self.condition = condition
            self.label = label

        def create_sql(self, sql_dialect: Any) -> str:
            return self.condition(sql_dialect, jaro_winkler_at_least(sql_dialect))

        def create_label_for_charts(self) -> str:
            return self.label

    return JaroWinklerSqlLevel


def jaro_winkler_sql_level(condition: Callable[[Any, JaroWinklerAtLeast], str], label: str) -> Any:
    """A level with Jaro-Winkler thresholds in its SQL (see :func:`jaro_winkler_at_least`)."""
    return _jaro_winkler_level_class()(condition, label)


def jaro_winkler_level(column: str, threshold: float) -> Any:
    """The level "Jaro-Winkler similarity of ``column`` at least ``threshold``": on DuckDB the
    SQL and label of Splink's ``JaroWinklerLevel(column, threshold)``; on Spark a call of
    tfident's registered function.
    """
    from splink.internals.column_expression import ColumnExpression

    def condition(sql_dialect: Any, jw: JaroWinklerAtLeast) -> str:
        expression = ColumnExpression(column)
        expression.sql_dialect = sql_dialect
        return jw(expression.name_l, expression.name_r, threshold)

    return jaro_winkler_sql_level(condition, f"Jaro-Winkler distance of {column} >= {threshold}")


def _swapped_level(threshold: float, label: str) -> Any:
    """Forename and surname swapped, each Jaro-Winkler similar to the other record's other
    name (exact swaps included).
    """
    return jaro_winkler_sql_level(
        lambda _, jw: (
            f"{jw('forename_first_l', 'surname_std_r', threshold)}"
            f" AND {jw('surname_std_l', 'forename_first_r', threshold)}"
        ),
        label,
    )


def comparisons() -> list[Any]:
    """The Splink comparisons (see the module docstring)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def initial(col: str) -> Any:
        return cll.CustomLevel(
            f"(length({col}_l) = 1 OR length({col}_r) = 1) AND substr({col}_l, 1, 1) = substr({col}_r, 1, 1)",
            label_for_charts="Initial agrees",
        )

    def one_off() -> Any:
        agree = [f"CASE WHEN dob_{p}_l = dob_{p}_r THEN 1 ELSE 0 END" for p in ("year", "month", "day")]
        return cll.CustomLevel(f"({' + '.join(agree)}) = 2", label_for_charts="One of day, month, year off")

    def one_digit() -> Any:
        differ = [
            f"CASE WHEN substr(dob_digits_l, {i}, 1) = substr(dob_digits_r, {i}, 1) THEN 0 ELSE 1 END"
            for i in range(1, 9)
        ]
        return cll.CustomLevel(f"({' + '.join(differ)}) = 1", label_for_charts="One digit different (typo)")

    swap_sql = "forename_first_l = surname_std_r AND surname_std_l = forename_first_r"
    swapped = cll.CustomLevel(swap_sql, label_for_charts="Forename and surname swapped")
    swapped_typo = _swapped_level(SWAP_SIMILARITY, "Forename and surname swapped, with a typo")
    # a swap is one piece of evidence about both names: weighed once, in forename; in
    # surname the level only keeps a swapped pair out of the else level (fixed m = u)
    swapped_neutral = _swapped_level(SWAP_SIMILARITY, "Forename and surname swapped (weighed in forename)").configure(
        m_probability=NEUTRAL_PROBABILITY,
        u_probability=NEUTRAL_PROBABILITY,
        fix_m_probability=True,
        fix_u_probability=True,
    )
    forename = cl.CustomComparison(
        output_column_name="forename",
        comparison_levels=[
            cll.NullLevel("forename_first"),
            cll.ExactMatchLevel("forename_first", term_frequency_adjustments=True),
            swapped,
            swapped_typo,
            cll.CustomLevel(
                "forename_canonical_l = forename_canonical_r", label_for_charts="Same formal name (nickname)"
            ),
            cll.ArrayIntersectLevel("forename_variant", min_intersection=1).configure(
                label_for_charts="Nickname variants meet"
            ),
            cll.CustomLevel(
                "(length(forename_first_l) >= 3 AND length(forename_first_l) < length(forename_first_r)"
                " AND substr(forename_first_r, 1, length(forename_first_l)) = forename_first_l)"
                " OR (length(forename_first_r) >= 3 AND length(forename_first_r) < length(forename_first_l)"
                " AND substr(forename_first_l, 1, length(forename_first_r)) = forename_first_r)",
                label_for_charts="Shortened form (one is the start of the other: Cal, Callum)",
            ),
            jaro_winkler_level("forename_first", 0.92),
            cll.CustomLevel(
                "array_contains(forename_middles_r, forename_first_l)"
                " OR array_contains(forename_middles_l, forename_first_r)",
                label_for_charts="Forename is the other's middle name",
            ),
            jaro_winkler_level("forename_first", 0.85),
            initial("forename_first"),
            cll.ElseLevel(),
        ],
    )
    surname = cl.CustomComparison(
        output_column_name="surname",
        comparison_levels=[
            cll.NullLevel("surname_std"),
            cll.ExactMatchLevel("surname_std", term_frequency_adjustments=True),
            swapped_neutral,
            cll.ArrayIntersectLevel("surname_tokens", min_intersection=1).configure(
                label_for_charts="Shares a surname part"
            ),
            cll.CustomLevel("surname_metaphone_l = surname_metaphone_r", label_for_charts="Sounds alike (metaphone)"),
            jaro_winkler_level("surname_std", 0.92),
            jaro_winkler_level("surname_std", 0.85),
            cll.ElseLevel(),
        ],
    )
    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("date_of_birth"),
            cll.ExactMatchLevel("date_of_birth"),
            cll.CustomLevel("dob_transposed_l = date_of_birth_r", label_for_charts="Day and month transposed"),
            cll.CustomLevel(
                "dob_month_l = dob_month_r AND dob_day_l = dob_day_r AND abs(dob_year_l - dob_year_r) = 1",
                label_for_charts="One year apart, same day and month",
            ),
            one_digit(),
            one_off(),
            cll.ElseLevel(),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.CustomLevel(
                "(uprn_matched_l IS NULL OR uprn_matched_r IS NULL)"
                " AND (postcode_std_l IS NULL OR postcode_std_r IS NULL)"
                " AND (address_key_l IS NULL OR address_key_r IS NULL)",
                label_for_charts="No address to compare",
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("uprn_matched").configure(label_for_charts="Same UPRN"),
            jaro_winkler_sql_level(
                lambda _, jw: (
                    "address_key_l = address_key_r AND (postcode_std_l IS NULL OR postcode_std_r IS NULL"
                    f" OR {jw('postcode_std_l', 'postcode_std_r', POSTCODE_SIMILARITY)})"
                ),
                "Same address, not in the gazetteer (text; postcodes agree or one missing)",
            ),
            cll.ExactMatchLevel("postcode_std").configure(label_for_charts="Same postcode"),
            jaro_winkler_level("postcode_std", POSTCODE_SIMILARITY).configure(
                label_for_charts="Similar postcode (a typo: one character or two transposed)"
            ),
            cll.ElseLevel(),
        ],
    )
    exact = [cl.ExactMatch(name) for name in ("sex", "upn", "nino", "nhs_number", "pnc_id")]
    return [forename, surname, dob, address, *exact]


def comparison_dicts(dialect: str) -> list[dict[str, Any]]:
    """:func:`comparisons` as Splink comparison dictionaries with SQL for ``dialect``."""
    return [c.create_comparison_dict(dialect) for c in comparisons()]


def _sql_shape(sql: str) -> str:
    """SQL without quoting, spacing or case, to compare two renderings of one condition."""
    return re.sub(r"[\s\"`]", "", sql).lower()


def comparisons_for_dialect(model: dict[str, Any], dialect: str) -> list[dict[str, Any]]:
    """The model's comparisons (m, u, labels, term-frequency settings) with SQL for ``dialect``.

    A model written in another dialect (trained on the other backend) gets each level's
    SQL from :func:`comparisons` rendered for ``dialect``, after checking that the
    model's own SQL is that level's rendering in the model's dialect: a model whose
    comparisons this version of tfident does not write cannot be moved across backends.
    """
    settings = model["settings"]
    saved: list[dict[str, Any]] = settings["comparisons"]
    source = settings.get("sql_dialect", "duckdb")
    if source == dialect:
        return saved
    theirs = {c["output_column_name"]: c for c in comparison_dicts(source)}
    ours = {c["output_column_name"]: c for c in comparison_dicts(dialect)}
    out = []
    for comparison in saved:
        name = comparison["output_column_name"]
        levels = comparison["comparison_levels"]
        expected = [level["sql_condition"] for level in theirs.get(name, {}).get("comparison_levels", [])]
        if [_sql_shape(level["sql_condition"]) for level in levels] != [_sql_shape(sql) for sql in expected]:
            raise ConfigError(
                f"config/linkage.yaml: backend: {dialect}: the model's comparison {name!r} was written for"
                f" {source} with SQL this version of tfident does not write, so it cannot be rewritten for"
                f" {dialect}; retrain the model with backend: {dialect} (tfident train) or use backend: {source}"
            )
        rewritten = [
            {**level, "sql_condition": target["sql_condition"]}
            for level, target in zip(levels, ours[name]["comparison_levels"], strict=True)
        ]
        out.append({**comparison, "comparison_levels": rewritten})
    return out
