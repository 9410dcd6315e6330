"""Incremental linkage: reuse the previous run's comparison vectors for unchanged profiles.

A pair's comparison vector (its level ``gamma_<c>`` on every comparison) depends only on
the two profiles' Splink input rows (``profiles.splink_input``), never on the rest of the
batch; what does depend on the batch is the term frequencies of names, which every new
record changes. So linkage is split in two:

1. :func:`pair_gammas`: Splink blocks and computes the comparison vector of every blocked
   pair of profiles (no threshold: a pair below the uncertain threshold this month may
   pass it next month, when the term frequencies moved). With ``dirty`` profiles named,
   only the pairs with at least one dirty profile are blocked and compared (each blocking
   rule gets ``AND (l._dirty OR r._dirty)``), and :func:`reuse_gammas` takes the pairs of
   two clean profiles from the previous run's :class:`LinkCache`;
2. :func:`score_pairs`: every pair's Bayes factors, term-frequency adjustments, match
   weight and probability from its comparison vector, the model and this batch's term
   frequencies, exactly as Splink's ``predict`` writes them in SQL. A full run and an
   incremental run both score this way, so they give the same scores by construction
   (a test checks the scores against Splink's own to 1e-9).

A profile is *clean* when a profile with the same key (:func:`profile_keys`: a 128-bit
hash of its Splink input and, for a profile kept alone by a ruling or missing data, its
record) and the same representative record was in the previous run. Pairs of two clean
profiles are exactly the pairs the blocking rules found between them last time (blocking
is a condition on the two rows only), in the same orientation (profile ids are numbered
in the order of the representative records, which did not change). Every other pair
touches a dirty profile and is computed again.

One part of blocking depends on the batch: a key value shared by more than
``blocking_max_block`` profiles is skipped (:func:`tfident.link.blocking.crowded_keys`).
So the key also holds, for each rule, whether the profile's value of that rule is
crowded this month (:func:`crowded_flags`): when a block grows past the cap, or shrinks
under it, every profile in it becomes dirty and its pairs are blocked again under this
month's rules. The caps are always counted over all of this month's profiles, also when
Splink blocks only the dirty ones.

The cache holds personal data (hashes and levels only, but keyed to record keys): it is
kept like the store's checkpoints (``tfident.runner``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from tfident.link.backends import comparison_vectors, database, linker, quiet_splink
from tfident.link.blocking import crowded_keys, key_sides, rule_cap
from tfident.link.comparisons import COMPARISONS
from tfident.link.components import CLUSTER_CACHE_SCHEMA
from tfident.link.config import LinkageConfig
from tfident.link.prediction import prediction_settings
from tfident.link.profiles import splink_input

KEY_SEEDS: tuple[int, int] = (0x7466, 0x6964)
"""Seeds of the two 64-bit hashes that make a profile's 128-bit key."""

DIRTY = "_dirty"

PROFILE_CACHE_SCHEMA: dict[str, pl.DataType] = {
    "pid": pl.Int64(),
    "key_a": pl.UInt64(),
    "key_b": pl.UInt64(),
    "rep_key": pl.String(),
}
"""The cache's profiles: each profile's id in its run, its key and its representative record."""

GAMMAS_SCHEMA: dict[str, pl.DataType] = {
    "pid_l": pl.Int64(),
    "pid_r": pl.Int64(),
    **{f"gamma_{name}": pl.Int8() for name in COMPARISONS},
}

PAIR_CACHE_SCHEMA: dict[str, pl.DataType] = GAMMAS_SCHEMA
"""The cache's pairs: every blocked pair of profiles by the run's profile ids (left, right as Splink
ordered them) and its levels; the next run finds the profiles by key (:func:`reuse_gammas`)."""


@dataclass(frozen=True)
class LinkCache:
    """What a run keeps for the next one's linkage: its profiles, its blocked pairs' levels and its
    components' clusters (:mod:`tfident.link.components`; empty in a cache of an older run: every
    component is clustered again).
    """

    profiles: pl.DataFrame
    pairs: pl.DataFrame
    clusters: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CLUSTER_CACHE_SCHEMA))

    @staticmethod
    def empty() -> LinkCache:
        """A cache with nothing in it (everything is dirty)."""
        return LinkCache(pl.DataFrame(schema=PROFILE_CACHE_SCHEMA), pl.DataFrame(schema=PAIR_CACHE_SCHEMA))


def crowded_flags(frame: pl.DataFrame, config: LinkageConfig | None) -> pl.DataFrame:
    """``_crowded_<i>`` per blocking rule ``i`` that has crowded key values: whether each row's value of
    the rule is one of them (:func:`tfident.link.blocking.crowded_keys`, counted over ``frame``).
    """
    if config is None:
        return pl.DataFrame()
    flags = []
    for i, rule in enumerate(config.blocking_rules):
        cap = rule_cap(rule, config)
        crowded = crowded_keys(rule, frame, cap) if cap is not None else []
        if not crowded:
            continue
        columns = [key_sides(key)[0] for key in rule.block_on]
        values = pl.DataFrame(crowded, schema={c: frame.schema[c] for c in columns}, orient="row").with_columns(
            pl.lit(True).alias("_hit")
        )
        hit = frame.select(columns).join(values, on=columns, how="left", maintain_order="left", nulls_equal=False)
        flags.append(hit["_hit"].fill_null(False).alias(f"_crowded_{i}"))
    return pl.DataFrame(flags)


def profile_keys(profiles: pl.DataFrame, config: LinkageConfig | None = None) -> pl.DataFrame:
    """``pid, key_a, key_b, rep_key``: each profile's 128-bit key over its Splink input row, solo record
    and, with ``config``, whether its blocking keys are crowded this month (:func:`crowded_flags`).
    """
    frame = splink_input(profiles).drop("pid")
    solo = profiles["solo_key"] if "solo_key" in profiles.columns else pl.Series("solo_key", [None] * profiles.height)
    flags = crowded_flags(splink_input(profiles), config)
    row = frame.with_columns(solo.alias("solo_key"), *flags.get_columns()).select(pl.struct(pl.all()).alias("row"))[
        "row"
    ]
    return pl.DataFrame(
        {
            "pid": profiles["pid"],
            "key_a": row.hash(KEY_SEEDS[0]),
            "key_b": row.hash(KEY_SEEDS[1]),
            "rep_key": profiles["rep_key"],
        }
    )


def dirty_profiles(keys: pl.DataFrame, previous: LinkCache) -> pl.Series:
    """Whether each profile (rows of :func:`profile_keys`) is dirty: no profile of the previous run
    had its key and its representative record.
    """
    known = previous.profiles.select("key_a", "key_b", "rep_key").with_columns(pl.lit(True).alias("_known"))
    joined = keys.join(known, on=["key_a", "key_b", "rep_key"], how="left", maintain_order="left")
    return joined["_known"].is_null().alias(DIRTY)


def reuse_gammas(keys: pl.DataFrame, dirty: pl.Series, previous: LinkCache) -> pl.DataFrame:
    """The previous run's pairs of two clean profiles, by this run's profile ids.

    The previous ids are renumbered by array look-up (previous id -> this run's id, -1 for a profile not
    clean now) and the pairs filtered once: no join over every cached pair (some 19 million at a million
    records), whose hash tables and copies raised an incremental link stage's memory.
    """
    clean = keys.filter(~dirty).select("pid", "key_a", "key_b", "rep_key")
    moved = previous.profiles.select(pl.col("pid").alias("was"), "key_a", "key_b", "rep_key").join(
        clean, on=["key_a", "key_b", "rep_key"]
    )
    pairs = previous.pairs
    if pairs.is_empty() or moved.is_empty():
        return pl.DataFrame(schema=GAMMAS_SCHEMA)
    was, pid_l, pid_r = moved["was"].to_numpy(), pairs["pid_l"].to_numpy(), pairs["pid_r"].to_numpy()
    # int32 ids (profiles number far below 2**31): the two looked-up columns are the step's largest arrays
    now = np.full(int(max(was.max(), pid_l.max(), pid_r.max())) + 1, -1, dtype=np.int32)
    now[was] = moved["pid"].to_numpy()
    left, right = now[pid_l], now[pid_r]
    keep = (left >= 0) & (right >= 0)
    left, right = left[keep], right[keep]
    if np.any(left >= right):  # pragma: no cover - rep order is kept
        raise AssertionError("a reused pair changed orientation")
    # the levels filtered, the ids taken from the look-up (filtering the old ids too would copy them for nothing)
    levels = pairs.select(pl.exclude("pid_l", "pid_r")).filter(pl.Series(keep))
    return levels.with_columns(
        pl.Series("pid_l", left, dtype=pl.Int64), pl.Series("pid_r", right, dtype=pl.Int64)
    ).select(list(GAMMAS_SCHEMA))


def pair_gammas(
    profiles: pl.DataFrame,
    tf: dict[str, pl.DataFrame],
    model: dict[str, Any],
    config: LinkageConfig,
    dirty: pl.Series | None = None,
) -> pl.DataFrame:
    """``pid_l, pid_r, gamma_<c>``: the levels of every blocked pair of profiles (Splink), or with
    ``dirty`` (a boolean per profile) only of the pairs with a dirty profile.
    """
    frame = splink_input(profiles)
    if frame.height < 2 or (dirty is not None and not dirty.any()):
        return pl.DataFrame(schema=GAMMAS_SCHEMA)
    settings = prediction_settings(model, config, frame)  # crowded keys counted over every profile
    if dirty is not None:
        frame = frame.with_columns(dirty.alias(DIRTY)).filter(_could_pair(frame, dirty, config))
        settings["blocking_rules_to_generate_predictions"] = [
            {**rule, "blocking_rule": f"({rule['blocking_rule']}) AND (l.{DIRTY} OR r.{DIRTY})"}
            for rule in settings["blocking_rules_to_generate_predictions"]
        ]
        settings["additional_columns_to_retain"] = [DIRTY]
    with quiet_splink(), database(config) as db_api:
        scorer = linker(frame, settings, db_api, tf)
        scored = comparison_vectors(scorer, narrow_ids=_fits_int32(profiles["pid"]))
    return scored.select(
        pl.col("pid_l").cast(pl.Int64),
        pl.col("pid_r").cast(pl.Int64),
        *[pl.col(f"gamma_{name}").cast(pl.Int8) for name in COMPARISONS],
    )


def _fits_int32(pids: pl.Series) -> bool:
    """Whether every profile id fits a 32-bit integer (DuckDB then returns the pairs' ids as such)."""
    top = pids.max()
    return isinstance(top, int) and top < 2**31


def _could_pair(frame: pl.DataFrame, dirty: pl.Series, config: LinkageConfig) -> pl.Series:
    """The dirty rows and the rows some blocking rule pairs with a dirty row (the only rows a pair with a
    dirty profile can have), so Splink blocks a small frame: a rule pairs ``l`` and ``r`` when every key
    ``left=right`` has ``l.left = r.right`` (non-null), in either orientation.
    """
    keep = dirty.clone()
    indexed = frame.with_row_index("_row")
    dirty_rows = frame.filter(dirty)
    for rule in config.blocking_rules:
        keys = [key_sides(key) for key in rule.block_on]
        names = [f"_k{i}" for i in range(len(keys))]
        for mine, theirs in ((0, 1), (1, 0)):  # a dirty row on the left, then on the right
            wanted = dirty_rows.select(
                [pl.col(pair[mine]).alias(name) for pair, name in zip(keys, names, strict=True)]
            ).drop_nulls()
            candidates = indexed.select(
                "_row", *[pl.col(pair[theirs]).alias(name) for pair, name in zip(keys, names, strict=True)]
            ).drop_nulls()
            rows = candidates.join(wanted.unique(), on=names, how="semi")["_row"]
            keep = keep | pl.Series(DIRTY, [False] * frame.height).scatter(rows, True)
    return keep


def new_cache(keys: pl.DataFrame, gammas: pl.DataFrame, clusters: pl.DataFrame | None = None) -> LinkCache:
    """This run's cache: its profiles' ids and keys, and every blocked pair's levels by profile id
    (kept as they are: keying each pair by its profiles' keys doubled the link stage's memory).

    The pairs are :func:`mapped`: written to disk and read back only when the cache is used
    (saved for the next run), so the caller can drop ``gammas`` at once (at a million records
    they are some 19 million rows, 448 MiB, that the rest of the link stage never reads).
    """
    return LinkCache(
        keys.select(list(PROFILE_CACHE_SCHEMA)),
        mapped(gammas.select(list(GAMMAS_SCHEMA))),
        cache_of_clusters(clusters),
    )


def cache_of_clusters(clusters: pl.DataFrame | None) -> pl.DataFrame:
    """The components' clusters as the cache keeps them (empty when there are none)."""
    return (
        pl.DataFrame(schema=CLUSTER_CACHE_SCHEMA) if clusters is None else clusters.select(list(CLUSTER_CACHE_SCHEMA))
    )


def mapped(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` written to an uncompressed Arrow IPC file and memory-mapped back: the same
    values, whose pages are read from disk when used instead of held in memory.

    The file is in a private temporary folder (``0700``) and is unlinked at once (the mapping
    keeps it until the frame is dropped), so nothing of it outlives the process.
    """
    with tempfile.TemporaryDirectory(prefix="tfident-", ignore_cleanup_errors=True) as folder:
        path = Path(folder) / "frame.arrow"
        frame.write_ipc(path, compression="uncompressed")
        table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
    out = pl.from_arrow(table, rechunk=False)
    if not isinstance(out, pl.DataFrame):  # pragma: no cover - a table gives a frame
        raise TypeError("an Arrow table did not give a frame")
    return out


# ------------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class _Level:
    value: int
    bayes_factor: float
    tf_column: str | None
    tf_weight: float
    tf_minimum_u: float


def _levels(model: dict[str, Any]) -> dict[str, list[_Level]]:
    """Each comparison's levels with Splink's Bayes factor and term-frequency settings."""
    out: dict[str, list[_Level]] = {}
    for comparison in model["settings"]["comparisons"]:
        levels = comparison["comparison_levels"]
        value = sum(1 for level in levels if not level.get("is_null_level")) - 1
        parsed = []
        for level in levels:
            if level.get("is_null_level"):
                parsed.append(_Level(-1, 1.0, None, 0.0, 0.0))
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is None or u is None:
                raise ValueError(f"comparison {comparison['output_column_name']}: a level has no m or u probability")
            bf = float("inf") if float(u) == 0 else float(m) / float(u)
            weight = float(level.get("tf_adjustment_weight", 1.0) or 0.0)
            column = level.get("tf_adjustment_column") if weight else None
            minimum = float(level.get("tf_minimum_u_value") or 0.0)
            parsed.append(_Level(value, bf, column, weight, minimum))
            value -= 1
        out[comparison["output_column_name"]] = parsed
    return out


def _exact_u(model: dict[str, Any], column: str) -> float:
    """The u of the exact level on ``column`` (Splink's ``_u_probability_corresponding_to_exact_match``)."""
    wanted = f'"{column}_l" = "{column}_r"'
    for comparison in model["settings"]["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("sql_condition", "").strip() == wanted:
                return float(level["u_probability"])
    raise ValueError(f"no exact match level on {column} for its term-frequency adjustment")


def score_pairs(
    gammas: pl.DataFrame,
    profiles: pl.DataFrame,
    tf: dict[str, pl.DataFrame],
    model: dict[str, Any],
    threshold: float | None = None,
) -> pl.DataFrame:
    """``pid_l, pid_r, match_weight, match_probability, gamma_<c>, mw_<c>`` of each pair of
    ``gammas``, as Splink's ``predict`` computes them (its SQL written in polars, same order
    of products); the pairs with ``match_probability >= threshold`` when given.
    """
    levels = _levels(model)
    tf_columns = sorted({level.tf_column for ls in levels.values() for level in ls if level.tf_column})
    lookups = {column: _tf_by_pid(profiles, tf[column], column) for column in tf_columns}
    exact_u = {column: _exact_u(model, column) for column in tf_columns}
    # slice by slice: each pair's score is its own row's, and the Bayes factors of all the
    # blocked pairs of a large batch at once (40 floats a pair) would not fit in memory
    chunks = [
        _score_chunk(chunk, lookups, exact_u, levels, model, threshold)
        for chunk in gammas.iter_slices(SCORE_SLICE_ROWS)
    ]
    if not chunks:
        return _score_chunk(gammas, lookups, exact_u, levels, model, threshold)
    return pl.concat(chunks).sort("pid_l", "pid_r")


SCORE_SLICE_ROWS = 1_000_000
"""Pairs scored at a time by :func:`score_pairs`."""


def _tf_by_pid(profiles: pl.DataFrame, table: pl.DataFrame, column: str) -> np.ndarray:
    """Each profile's term frequency of its ``column`` value, indexed by ``pid`` (NaN: none)."""
    found = profiles.select("pid", column).join(table, on=column, how="left").select("pid", f"tf_{column}")
    pids = found["pid"].to_numpy()
    out = np.full(int(pids.max()) + 1 if pids.size else 0, np.nan)
    out[pids] = found[f"tf_{column}"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    return out


def _score_chunk(
    frame: pl.DataFrame,
    lookups: dict[str, np.ndarray],
    exact_u: dict[str, float],
    levels: dict[str, list[_Level]],
    model: dict[str, Any],
    threshold: float | None,
) -> pl.DataFrame:
    """Splink's ``predict`` arithmetic on one slice of pairs, in numpy: per comparison, the Bayes factor
    of its level and the level's term-frequency adjustment, multiplied in Splink's order onto the prior odds.

    Two passes, the same numbers as one: the match weight of every pair is the product of its factors in
    Splink's order, but an adjustment of 1 (every level without term frequencies; a term-frequency level
    of a pair that has none) is skipped (``x * 1.0`` is ``x``, to the bit, NaN and infinity included),
    so only the rows on a term-frequency level are multiplied by theirs; then only the pairs kept by
    ``threshold`` get their per-comparison factors (:func:`_factors`, the same formulas) for ``mw_<c>``.
    """
    prior = float(model["settings"]["probability_two_random_records_match"])
    left, right = frame["pid_l"].to_numpy(), frame["pid_r"].to_numpy()
    product = np.full(frame.height, prior / (1 - prior))
    infinite = np.zeros(frame.height, dtype=bool)
    for name in COMPARISONS:
        table = _LevelTable.of(levels[name])
        gamma, by_value = table.raw_or_indices(frame[f"gamma_{name}"])
        bf = (table.by_byte if by_value else table.bayes_factor)[gamma.view(np.uint8) if by_value else gamma]
        np.multiply(product, bf, out=product)
        if table.infinite:
            infinite |= bf == np.inf
        del bf
        for level in levels[name]:
            if level.value == -1 or level.tf_column is None:
                continue
            hit = np.flatnonzero(gamma == (level.value if by_value else level.value + table.offset))
            lookup = lookups[level.tf_column]
            adj = _tf_adjustment(level, exact_u[level.tf_column], lookup[left[hit]], lookup[right[hit]])
            product[hit] *= adj
            infinite[hit] |= adj == np.inf
    bayes = np.minimum(np.maximum(product, 1e-300), 1e300)
    probability = np.where(infinite, 1.0, bayes / (1 + bayes))
    keep = np.ones(frame.height, dtype=bool) if threshold is None else probability >= threshold
    rows = np.flatnonzero(keep)
    kept = frame[rows] if rows.size < frame.height else frame
    columns: dict[str, Any] = {
        "pid_l": left[rows],
        "pid_r": right[rows],
        "match_weight": _log2(bayes[rows]),
        "match_probability": probability[rows],
    }
    tf_pairs = {column: (lookup[left[rows]], lookup[right[rows]]) for column, lookup in lookups.items()}
    for name in COMPARISONS:
        bf, adj = _factors(kept[f"gamma_{name}"], levels[name], tf_pairs, exact_u)
        columns[f"gamma_{name}"] = kept[f"gamma_{name}"].cast(pl.Int32)
        columns[f"mw_{name}"] = _log2(bf) + _log2(adj)
    return pl.DataFrame(columns, schema=_SCORES_SCHEMA)


@dataclass(frozen=True)
class _LevelTable:
    """One comparison's Bayes factor by level, indexed by ``level + offset`` (index 0: no level, NaN)."""

    offset: int
    bayes_factor: np.ndarray
    adjustment: np.ndarray
    """1 at every level (its term-frequency adjustment, when it has one, is made per pair), NaN elsewhere."""
    infinite: bool
    by_byte: np.ndarray
    """:attr:`bayes_factor` by the level's value as a byte (``value & 0xFF``), NaN where no level is."""

    @staticmethod
    def of(levels: list[_Level]) -> _LevelTable:
        values = [level.value for level in levels]
        offset = 2 - min(values)
        bf_table = np.full(max(values) + offset + 1, np.nan)
        adj_table = np.full(max(values) + offset + 1, np.nan)
        for level in levels:
            bf_table[level.value + offset] = level.bayes_factor
            adj_table[level.value + offset] = 1.0
        # the same Bayes factors by a level's own value read as a byte (an Int8 level -1 is byte 255)
        by_byte = np.full(256, np.nan)
        for value in range(-128, 128):
            if 0 <= value + offset < bf_table.size:
                by_byte[value & 0xFF] = bf_table[value + offset]
        return _LevelTable(offset, bf_table, adj_table, bool(np.any(bf_table == np.inf)), by_byte)

    def raw_or_indices(self, gamma: pl.Series) -> tuple[np.ndarray, bool]:
        """``(levels, True)``: an Int8 column without nulls as it is (look it up in :attr:`by_byte`), else
        ``(indices, False)`` (:meth:`indices`).
        """
        if gamma.dtype == pl.Int8 and gamma.null_count() == 0:
            return gamma.to_numpy(), True
        return self.indices(gamma), False

    def indices(self, gamma: pl.Series) -> np.ndarray:
        """Each pair's index into the tables: ``level + offset``, 0 for a null or a value no level has
        (whose Bayes factor is NaN, which no threshold keeps, as Splink's null).
        """
        index = gamma.cast(pl.Int64).fill_null(-1 - self.offset).to_numpy() + self.offset
        out: np.ndarray = np.where((index >= 0) & (index < self.bayes_factor.size), index, 0)
        return out


def _tf_adjustment(level: _Level, exact_u: float, tf_l: np.ndarray, tf_r: np.ndarray) -> np.ndarray:
    """The term-frequency adjustment of pairs on ``level`` from their two term frequencies (NaN: none)."""
    lr = np.where(np.isnan(tf_l), tf_r, tf_l)
    rl = np.where(np.isnan(tf_r), tf_l, tf_r)
    if level.tf_minimum_u == 0.0:
        divisor = np.where(lr >= rl, lr, rl)
    else:
        floor = level.tf_minimum_u
        divisor = np.where((lr >= rl) & (lr > floor), lr, np.where(rl > floor, rl, floor))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.power(exact_u / divisor, level.tf_weight)
    out: np.ndarray = np.where(np.isnan(lr), 1.0, value)
    return out


def _factors(
    gamma: pl.Series,
    levels: list[_Level],
    tf_pairs: dict[str, tuple[np.ndarray, np.ndarray]],
    exact_u: dict[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """``(bayes factor, term-frequency adjustment)`` of each pair on one comparison (``tf_pairs``: the
    pairs' term frequencies, left and right, per column).
    """
    table = _LevelTable.of(levels)
    index = table.indices(gamma)
    bf, adj = table.bayes_factor[index], table.adjustment[index]
    for level in levels:
        if level.value == -1 or level.tf_column is None:
            continue
        hit = np.flatnonzero(index == level.value + table.offset)
        tf_l, tf_r = tf_pairs[level.tf_column]
        adj[hit] = _tf_adjustment(level, exact_u[level.tf_column], tf_l[hit], tf_r[hit])
    return bf, adj


def _log2(values: np.ndarray) -> np.ndarray:
    """log2 as polars' ``Expr.log(2)`` computes it (natural log over ln 2), to the last bit."""
    with np.errstate(divide="ignore"):
        out: np.ndarray = np.log(values) / np.log(2.0)
    return out


_SCORES_SCHEMA: dict[str, pl.DataType] = {
    "pid_l": pl.Int64(),
    "pid_r": pl.Int64(),
    "match_weight": pl.Float64(),
    "match_probability": pl.Float64(),
    **{
        column: dtype
        for name in COMPARISONS
        for column, dtype in ((f"gamma_{name}", pl.Int32()), (f"mw_{name}", pl.Float64()))
    },
}
