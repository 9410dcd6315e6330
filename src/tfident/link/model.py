"""The probabilistic scorer: Splink (Fellegi-Sunter) comparisons, training, prediction, weights.

Splink scores candidate pairs of *profiles* (see ``tfident.link.rules.build_profiles``)
found by the blocking rules of ``config/linkage.yaml``. The comparisons are fixed here
and frozen, with their m and u probabilities, in the model file ``tfident train``
writes; a monthly run loads that file and only predicts, so the same inputs always
give the same scores.

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

Term frequencies for ``forename_first`` and ``surname_std`` are computed over the
*records* of the batch (not profiles) and registered with Splink, so ``tfident
explain`` recomputes exactly the same weights from a stored run's records.

Everything goes through ``splink.Linker`` with a database API chosen by
``LinkageConfig.backend`` (DuckDB, or Spark through ``tfident.link.spark``). The SQL
written here (equalities, ``length``, ``substr``, ``CASE``) is the same in both; the
levels from Splink's library are written for each backend by Splink (array
intersection), except Jaro-Winkler, which on Spark is tfident's own SQL function
computing exactly what DuckDB's does (:func:`comparison_dicts`). A model trained on one
backend predicts on the other with its comparison SQL rewritten for it
(:func:`comparisons_for_dialect`).
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

from tfident.errors import ConfigError
from tfident.link.config import LinkageConfig

log = logging.getLogger(__name__)

NEUTRAL_PROBABILITY = 1e-6
"""m and u of a level that counts for nothing (weight 0)."""

COMPARISONS: tuple[str, ...] = ("forename", "surname", "dob", "address", "sex", "upn", "nino", "nhs_number", "pnc_id")
"""The comparison names, in waterfall order."""

INPUT_COLUMNS: tuple[str, ...] = (
    "pid",
    "forename_first",
    "forename_canonical",
    "forename_variant",
    "forename_initial",
    "forename_middles",
    "surname_std",
    "surname_tokens",
    "surname_metaphone",
    "date_of_birth",
    "dob_digits",
    "dob_year",
    "dob_month",
    "dob_day",
    "dob_transposed",
    "sex",
    "uprn_matched",
    "address_key",
    "postcode_std",
    "upn",
    "nino",
    "nhs_number",
    "pnc_id",
)
"""The columns of the frame Splink reads (``pid`` is the unique id)."""

TF_COLUMNS: tuple[str, ...] = ("forename_first", "surname_std")


@contextmanager
def quiet_splink(level: int = logging.WARNING) -> Iterator[None]:
    """Splink's own logging below ``level`` and its user warnings silenced, for the calls inside."""
    loggers = [logging.getLogger(name) for name in ("splink", "duckdb", "py4j")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"splink(\.|$)")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"splink(\.|$)")
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"splink(\.|$)")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def splink_input(profiles: pl.DataFrame) -> pl.DataFrame:
    """The Splink input frame from profiles (``build_profiles``' output)."""
    dob = pl.col("date_of_birth")
    no_names = pl.lit([], dtype=pl.List(pl.String))
    middles = pl.col("forename_middles").fill_null(no_names) if "forename_middles" in profiles.columns else no_names
    return profiles.select(
        "pid",
        "forename_first",
        "forename_canonical",
        pl.col("forename_variant"),
        pl.col("forename_first").str.slice(0, 1).alias("forename_initial"),
        middles.alias("forename_middles"),
        "surname_std",
        "surname_tokens",
        "surname_metaphone",
        dob,
        dob.dt.strftime("%Y%m%d").alias("dob_digits"),
        dob.dt.year().cast(pl.Int32).alias("dob_year"),
        dob.dt.month().cast(pl.Int32).alias("dob_month"),
        dob.dt.day().cast(pl.Int32).alias("dob_day"),
        "dob_transposed",
        "sex",
        "uprn_matched",
        pl.col("address_key")
        if "address_key" in profiles.columns
        else pl.lit(None, dtype=pl.String).alias("address_key"),
        "postcode_std",
        "upn",
        "nino",
        "nhs_number",
        "pnc_id",
    )


TF_PSEUDO_RECORDS = 1000
"""Term frequencies are smoothed towards the model's average (the exact level's u) as if
this many records had the average frequency: negligible for a council's batch, and a
batch of a handful of records gets no term-frequency adjustment at all."""


def exact_level_u(model: dict[str, Any], column: str) -> float | None:
    """The u probability of the term-frequency-adjusted exact level on ``column``, if any."""
    for comparison in model.get("settings", {}).get("comparisons", []):
        for level in comparison["comparison_levels"]:
            if level.get("tf_adjustment_column") == column and level.get("u_probability"):
                return float(level["u_probability"])
    return None


def tf_tables(persons: pl.DataFrame, model: dict[str, Any] | None = None) -> dict[str, pl.DataFrame]:
    """Term-frequency lookups (``value, tf_value``) over the records of a batch.

    With ``model``, each frequency is smoothed towards the model's average
    (:data:`TF_PSEUDO_RECORDS`).
    """
    firsts = persons.select(pl.col("forename_std").str.split(" ").list.first().alias("forename_first"))
    surnames = persons.select("surname_std")
    out = {}
    for name, frame in (("forename_first", firsts), ("surname_std", surnames)):
        values = frame.filter(pl.col(name).is_not_null())
        average = exact_level_u(model, name) if model else None
        if average is None:
            prior, weight = 0.0, 0
        else:
            prior, weight = average, TF_PSEUDO_RECORDS
        total = values.height + weight
        out[name] = (
            values.group_by(name)
            .len()
            .select(name, ((pl.col("len") + prior * weight) / max(total, 1)).alias(f"tf_{name}"))
            .sort(name)
        )
    return out


POSTCODE_SIMILARITY = 0.88
"""Jaro-Winkler similarity of the similar-postcode level (``LS6 1AB``/``LS6 1BA``, ``4222``/``4221``)."""

SWAP_SIMILARITY = 0.9
"""Jaro-Winkler similarity both crossed names reach in the swapped-with-a-typo levels."""


def _jaro_winkler_level_class() -> type:
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

    class JaroWinklerSqlLevel(ComparisonLevelCreator):
        """A level whose SQL calls Jaro-Winkler (``{jw}`` in ``template``) in each backend's
        own SQL function."""

        def __init__(self, template: str, label: str) -> None:
            self.template = template
            self.label = label

        def create_sql(self, sql_dialect: Any) -> str:
            return self.template.format(jw=sql_dialect.jaro_winkler_function_name)

        def create_label_for_charts(self) -> str:
            return self.label

    return JaroWinklerSqlLevel


def _jaro_winkler_level(template: str, label: str) -> Any:
    """A level with Jaro-Winkler in its SQL (see :func:`_jaro_winkler_level_class`)."""
    return _jaro_winkler_level_class()(template, label)


def _swapped_level(threshold: float, label: str) -> Any:
    """Forename and surname swapped, each Jaro-Winkler similar to the other record's other
    name (exact swaps included)."""
    t = threshold
    return _jaro_winkler_level(
        f"{{jw}}(forename_first_l, surname_std_r) >= {t} AND {{jw}}(surname_std_l, forename_first_r) >= {t}", label
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
            cll.JaroWinklerLevel("forename_first", 0.92),
            cll.CustomLevel(
                "array_contains(forename_middles_r, forename_first_l)"
                " OR array_contains(forename_middles_l, forename_first_r)",
                label_for_charts="Forename is the other's middle name",
            ),
            cll.JaroWinklerLevel("forename_first", 0.85),
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
            cll.JaroWinklerLevel("surname_std", 0.92),
            cll.JaroWinklerLevel("surname_std", 0.85),
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
            _jaro_winkler_level(
                "address_key_l = address_key_r AND (postcode_std_l IS NULL OR postcode_std_r IS NULL"
                f" OR {{jw}}(postcode_std_l, postcode_std_r) >= {POSTCODE_SIMILARITY})",
                "Same address, not in the gazetteer (text; postcodes agree or one missing)",
            ),
            cll.ExactMatchLevel("postcode_std").configure(label_for_charts="Same postcode"),
            cll.JaroWinklerLevel("postcode_std", POSTCODE_SIMILARITY).configure(
                label_for_charts="Similar postcode (a typo: one character or two transposed)"
            ),
            cll.ElseLevel(),
        ],
    )
    exact = [cl.ExactMatch(name) for name in ("sex", "upn", "nino", "nhs_number", "pnc_id")]
    return [forename, surname, dob, address, *exact]


def blocking_rule_sql(config: LinkageConfig) -> list[str]:
    """The prediction blocking rules of the configuration as SQL conditions."""
    rules = []
    for rule in config.blocking_rules:
        parts = []
        for key in rule.block_on:
            left, _, right = key.partition("=")
            parts.append(f"l.{left} = r.{right or left}")
        rules.append(" AND ".join(parts))
    return rules


@contextmanager
def _database(config: LinkageConfig) -> Iterator[Any]:
    """The Splink database API of ``config.backend`` for the calls inside.

    DuckDB: a new in-memory database. Spark: the process's Spark session with a scratch
    folder for Splink's intermediate tables, deleted on the way out
    (``tfident.link.spark.spark_api``).
    """
    if config.backend == "spark":
        from tfident.link.spark import spark_api

        with spark_api(config) as db_api:
            yield db_api
        return
    from splink import DuckDBAPI

    yield DuckDBAPI()


def _is_spark(db_api: Any) -> bool:
    return bool(db_api.sql_dialect.sql_dialect_str == "spark")


def _as_table(frame: pl.DataFrame, db_api: Any) -> Any:
    """``frame`` as an input table of ``db_api`` (DuckDB: Arrow; Spark: a Spark DataFrame)."""
    if _is_spark(db_api):
        from tfident.link.spark import to_spark

        return to_spark(frame, db_api.spark)
    return frame.to_arrow()


def _to_polars(splink_frame: Any, min_probability: float | None = None) -> pl.DataFrame:
    """A Splink result frame as polars (DuckDB and Spark: through Arrow; other backends: pandas).

    ``min_probability`` (Spark only): the rows whose ``match_probability`` reaches it.
    """
    if _is_spark(splink_frame.db_api):
        from tfident.link.spark import to_polars

        frame = splink_frame.as_spark_dataframe()
        if min_probability is not None:
            frame = frame.filter(frame["match_probability"] >= min_probability)
        return to_polars(frame.select(*_scored_columns(frame.columns)))
    try:
        relation = splink_frame.as_duckdbpyrelation()
    except (AttributeError, NotImplementedError):  # pragma: no cover - other backends
        return pl.from_pandas(splink_frame.as_pandas_dataframe())
    return relation.select(*_scored_columns(relation.columns)).pl()


def _scored_columns(columns: Sequence[str]) -> list[str]:
    """The columns of Splink's scored pairs that :func:`field_weights` reads: the matching
    columns (each pair's names, dates, addresses), which Splink keeps only so that the
    levels (``gamma_<c>``) come with them, are left in the database."""
    keep = ("pid_l", "pid_r", "match_weight", "match_probability")
    return [c for c in columns if c in keep or c.startswith(("gamma_", "bf_"))]


def comparison_dicts(dialect: str) -> list[dict[str, Any]]:
    """:func:`comparisons` as Splink comparison dictionaries with SQL for ``dialect``.

    On Spark the Jaro-Winkler levels call tfident's own SQL functions (``tfident.link.spark``:
    ``jaro_winkler(a, b) >= t`` becomes ``tfident_jaro_winkler_at_least(a, b, t)``, DuckDB's
    algorithm exactly), not the function of the jar Splink ships for Spark, which scores
    some name pairs differently.
    """
    out = [c.create_comparison_dict(dialect) for c in comparisons()]
    if dialect == "spark":
        from tfident.link.spark import JARO_WINKLER, JARO_WINKLER_AT_LEAST

        for comparison in out:
            for level in comparison["comparison_levels"]:
                sql = re.sub(
                    r"\bjaro_winkler\(([^()]*)\)\s*>=\s*([0-9.]+)",
                    rf"{JARO_WINKLER_AT_LEAST}(\1, \2)",
                    level["sql_condition"],
                )
                level["sql_condition"] = re.sub(r"\bjaro_winkler\(", f"{JARO_WINKLER}(", sql)
    return out


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


def settings_for_training(config: LinkageConfig) -> Any:
    """The Splink settings a new model starts from (m/u unknown)."""
    from splink import SettingsCreator

    creators: list[Any] = comparisons() if config.backend == "duckdb" else comparison_dicts(config.backend)
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="pid",
        blocking_rules_to_generate_predictions=[
            {"blocking_rule": sql, "sql_dialect": config.backend} for sql in blocking_rule_sql(config)
        ],
        comparisons=creators,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
    )


def _linker(frame: pl.DataFrame, settings: Any, db_api: Any, tf: dict[str, pl.DataFrame]) -> Any:
    from splink import Linker

    linker = Linker(_as_table(frame, db_api), settings, db_api=db_api, set_up_basic_logging=False)
    for name, table in tf.items():
        # overwrite: a Spark session outlives one linker, and the model's linker_uid is fixed
        linker.table_management.register_term_frequency_lookup(_as_table(table, db_api), name, overwrite=True)
    return linker


EM_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("upn",),
    ("nino",),
    ("nhs_number",),
    ("forename_first", "surname_std", "date_of_birth"),
)
"""The blocks EM runs over by default (see :func:`train`)."""

PRIOR_BLOCK: tuple[str, ...] = ("forename_first", "surname_std", "date_of_birth")
"""Pairs agreeing on these columns estimate the prior (at recall 0.8)."""


def train(
    profiles: pl.DataFrame,
    tf: dict[str, pl.DataFrame],
    config: LinkageConfig,
    em_blocks: Sequence[Sequence[str]] = EM_BLOCKS,
) -> dict[str, Any]:
    """Estimate the model without labels; return Splink's settings dictionary.

    The prior from pairs agreeing on full name and date of birth (recall 0.8), u by
    random sampling (``config.em_max_pairs`` pairs, seed ``config.seed``), m by EM over
    each block of ``em_blocks`` in turn. The default blocks are each identifier (these
    train names, date of birth and address without the household confusion of blocks on
    address or date of birth: twins, siblings, a father and his namesake son would
    otherwise pass for matches) and full name with date of birth (trains address, sex
    and the identifiers); data without identifiers or households (FEBRL) may block on
    date of birth and postcode instead. A block that gives no pairs (no identifiers in
    the data) is skipped. Levels that training never observed get a neutral weight
    (m = u), so they count for nothing. A partial-agreement level (any but the null and
    the else level) never weighs less than its comparison's else level: agreeing in part
    is no stronger evidence against a match than disagreeing entirely, but EM drives m
    towards 0 for a kind of error the training data never makes (FEBRL never transposes
    day and month: -21.7 where the else level is -3.7), which would turn that level into
    a veto on data that does make it. No else level weighs less than
    :data:`MIN_LEVEL_WEIGHT` either.
    """
    from splink import block_on
    from splink.internals.exceptions import EMTrainingException

    frame = splink_input(profiles)
    # Splink warns of every level EM never observed: expected, and handled below (m = u)
    with quiet_splink(logging.ERROR), _database(config) as db_api:
        linker = _linker(frame, settings_for_training(config), db_api, tf)
        linker.training.estimate_probability_two_random_records_match([block_on(*PRIOR_BLOCK)], recall=0.8)
        linker.training.estimate_u_using_random_sampling(max_pairs=config.em_max_pairs, seed=config.seed)
        for columns in em_blocks:
            if any(frame[c].null_count() >= frame.height - 1 for c in columns):
                log.debug("EM block %s skipped: no values", columns)
                continue
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*columns), estimate_without_term_frequencies=True
                )
            except EMTrainingException:
                log.debug("EM block %s skipped: no pairs", columns)
        settings: dict[str, Any] = linker.misc.save_model_to_json()
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if not m or not u:
                level["m_probability"] = level["u_probability"] = m or u or NEUTRAL_PROBABILITY
        _floor_at_else(comparison["comparison_levels"])
    return settings


MIN_LEVEL_WEIGHT = -10.0
"""No level weighs less than this (bits: a likelihood ratio of 1/1024). EM on training data
that never makes an error (no record of a person with the wrong sex among the pairs it
learns from) drives that level's m to nothing (-33 bits for a disagreeing sex), a veto
that real data, where agencies do record the wrong sex, would pay for in missed links."""


def _floor_at_else(levels: list[dict[str, Any]]) -> None:
    """Raise m of the else level to :data:`MIN_LEVEL_WEIGHT`, and of any partial-agreement
    level weighing less than the else level to the else level's weight (see :func:`train`)."""
    if not levels or levels[-1].get("sql_condition") != "ELSE":
        return
    last = levels[-1]
    if not last.get("m_probability") or not last.get("u_probability"):
        return
    if not last.get("fix_m_probability") and last["m_probability"] / last["u_probability"] < 2**MIN_LEVEL_WEIGHT:
        last["m_probability"] = last["u_probability"] * 2**MIN_LEVEL_WEIGHT
    floor = last["m_probability"] / last["u_probability"]
    for level in levels[:-1]:
        if level.get("is_null_level") or level.get("fix_m_probability"):
            continue
        m, u = level.get("m_probability"), level.get("u_probability")
        if m is not None and u and m / u < floor:
            level["m_probability"] = min(1.0, u * floor)


def prediction_settings(model: dict[str, Any], config: LinkageConfig) -> dict[str, Any]:
    """The model's Splink settings with the configuration's blocking rules."""
    settings = dict(model["settings"])
    settings["comparisons"] = comparisons_for_dialect(model, config.backend)
    settings["sql_dialect"] = config.backend
    settings["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": sql, "sql_dialect": config.backend} for sql in blocking_rule_sql(config)
    ]
    settings["retain_intermediate_calculation_columns"] = True
    # Splink keeps each comparison's level (gamma_<c>) only with the matching columns: the
    # run stores the levels with the weights, for `tfident explain`
    settings["retain_matching_columns"] = True
    settings["linker_uid"] = "tfident"
    return settings


def prior_weight(model: dict[str, Any]) -> float:
    """The prior match weight, log2 of the prior odds."""
    p = float(model["settings"]["probability_two_random_records_match"])
    return math.log2(p / (1 - p))


def predict(
    profiles: pl.DataFrame, tf: dict[str, pl.DataFrame], model: dict[str, Any], config: LinkageConfig
) -> pl.DataFrame:
    """Score the blocked pairs of profiles: ``pid_l, pid_r, match_weight, match_probability``,
    ``gamma_<c>`` and ``mw_<c>`` (the field's match weight) per comparison; pairs at or
    above the uncertain threshold only."""
    frame = splink_input(profiles)
    if frame.height < 2:
        return empty_scores()
    settings = prediction_settings(model, config)
    threshold = config.thresholds.uncertain
    with quiet_splink(), _database(config) as db_api:
        linker = _linker(frame, settings, db_api, tf)
        if _is_spark(db_api):
            # Spark would push the threshold's filter below the comparison levels, inlining
            # every level (each Jaro-Winkler) into it many times over: filter the stored scores
            result = linker.inference.predict()
            scored = _to_polars(result, min_probability=threshold)
        else:
            result = linker.inference.predict(threshold_match_probability=threshold)
            scored = _to_polars(result)
    return field_weights(scored).sort("pid_l", "pid_r")


def empty_scores() -> pl.DataFrame:
    """The scored-pairs frame with no rows."""
    schema: dict[str, pl.DataType] = {
        "pid_l": pl.Int64(),
        "pid_r": pl.Int64(),
        "match_weight": pl.Float64(),
        "match_probability": pl.Float64(),
    }
    for name in COMPARISONS:
        schema[f"gamma_{name}"] = pl.Int32()
        schema[f"mw_{name}"] = pl.Float64()
    return pl.DataFrame(schema=schema)


def field_weights(scored: pl.DataFrame) -> pl.DataFrame:
    """``pid_l, pid_r, match_weight, match_probability, gamma_<c>, mw_<c>`` from Splink's output
    (``mw_<c>`` = log2 of the Bayes factor times its term-frequency adjustment)."""
    columns: list[pl.Expr] = [
        pl.col("pid_l").cast(pl.Int64),
        pl.col("pid_r").cast(pl.Int64),
        pl.col("match_weight").cast(pl.Float64),
        pl.col("match_probability").cast(pl.Float64),
    ]
    for name in COMPARISONS:
        weight = pl.col(f"bf_{name}").cast(pl.Float64).log(2)
        if f"bf_tf_adj_{name}" in scored.columns:
            weight = weight + pl.col(f"bf_tf_adj_{name}").cast(pl.Float64).log(2)
        gamma = pl.col(f"gamma_{name}") if f"gamma_{name}" in scored.columns else pl.lit(None)
        columns += [gamma.cast(pl.Int32).alias(f"gamma_{name}"), weight.alias(f"mw_{name}")]
    return scored.select(columns)


def without_identifiers(identifiers: Sequence[str]) -> pl.Expr:
    """A scored pair's match weight less the weights of the ``identifiers`` comparisons
    (the prior and every other field): how strong the pair is without them."""
    total = pl.col("match_weight")
    for name in identifiers:
        total = total - pl.col(f"mw_{name}").fill_null(0.0)
    return total


def weights_json(scores: pl.DataFrame, prior: float) -> pl.Expr:
    """The ``match_weights_json`` expression over a scored-pairs frame: the prior, each
    comparison's weight, the total and the probability, and ``levels``: each comparison's
    level (its comparison vector value, -1 for the null level), so ``tfident explain`` can
    show what the run computed."""
    fields = [pl.lit(round(prior, 4)).alias("prior")]
    fields += [pl.col(f"mw_{name}").round(4).alias(name) for name in COMPARISONS]
    fields += [
        pl.col("match_weight").round(4).alias("total"),
        pl.col("match_probability").round(6).alias("probability"),
        pl.struct([pl.col(f"gamma_{name}").alias(name) for name in COMPARISONS]).alias("levels"),
    ]
    return pl.struct(fields).struct.json_encode()


def level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Per comparison, the label of each comparison vector value."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["settings"]["comparisons"]:
        levels = comparison["comparison_levels"]
        name = comparison["output_column_name"]
        values: dict[int, str] = {}
        n_non_null = sum(1 for level in levels if not level.get("is_null_level"))
        value = n_non_null - 1
        for level in levels:
            label = level.get("label_for_charts") or level["sql_condition"]
            if level.get("is_null_level"):
                values[-1] = label
            else:
                values[value] = label
                value -= 1
        labels[name] = values
    return labels


def compare_records(
    left: pl.DataFrame, right: pl.DataFrame, tf: dict[str, pl.DataFrame], model: dict[str, Any], config: LinkageConfig
) -> pl.DataFrame:
    """Score one profile row against another with the model, whatever the blocking rules say."""
    both = pl.concat([splink_input(left), splink_input(right)])
    settings = prediction_settings(model, config)
    with quiet_splink(), _database(config) as db_api:
        linker = _linker(both, settings, db_api, tf)
        result = linker.inference.compare_two_records(
            _as_table(splink_input(left), db_api), _as_table(splink_input(right), db_api)
        )
        scored = _to_polars(result)
    return field_weights(scored)
