"""Training the person-linkage model without labels and freezing it as a versioned JSON file.

``tfident train`` standardises a batch as a run does, then estimates the model
(:func:`train`: the prior, u by random sampling, m by EM) and writes the model file
(``tfident.link.model``): ``{"format", "version", "description", "training_data",
"splink_version", "settings"}``: ``settings`` is Splink's own model dictionary (the
comparisons with their m and u probabilities and the prior); ``training_data`` says
what it was trained on (the extracts' file hashes, record and profile counts, the batch
date, the training date). Never train on batches whose results tests assert on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl

from tfident.link.backends import database, linker, quiet_splink
from tfident.link.blocking import blocking_rules_setting
from tfident.link.comparisons import NEUTRAL_PROBABILITY, comparisons
from tfident.link.config import LinkageConfig
from tfident.link.model import MODEL_FORMAT
from tfident.link.profiles import build_profiles, splink_input, tf_tables

log = logging.getLogger(__name__)


def settings_for_training(config: LinkageConfig) -> Any:
    """The Splink settings a new model starts from (m/u unknown), in the SQL of ``config.backend``."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="pid",
        blocking_rules_to_generate_predictions=list(blocking_rules_setting(config)),
        comparisons=comparisons(),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
    )


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
    with quiet_splink(logging.ERROR), database(config) as db_api:
        trainer = linker(frame, settings_for_training(config), db_api, tf)
        trainer.training.estimate_probability_two_random_records_match([block_on(*PRIOR_BLOCK)], recall=PRIOR_RECALL)
        prior_scale = prior_correction(frame, PRIOR_BLOCK)
        trainer.training.estimate_u_using_random_sampling(max_pairs=config.em_max_pairs, seed=config.seed)
        for columns in em_blocks:
            if any(frame[c].null_count() >= frame.height - 1 for c in columns):
                log.debug("EM block %s skipped: no values", columns)
                continue
            try:
                trainer.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*columns), estimate_without_term_frequencies=True
                )
            except EMTrainingException:
                log.debug("EM block %s skipped: no pairs", columns)
        settings: dict[str, Any] = trainer.misc.save_model_to_json()
    prior = settings.get("probability_two_random_records_match")
    if prior:
        recall = block_recall_from_m(settings, PRIOR_EXACT_LEVELS)
        log.debug("prior block recall from m: %s", recall)
        scale = prior_scale * (PRIOR_RECALL / recall if recall else 1.0)
        settings["probability_two_random_records_match"] = min(prior * scale, MAX_PRIOR)
        _u_without_matches(settings["comparisons"], settings["probability_two_random_records_match"])
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if not m or not u:
                level["m_probability"] = level["u_probability"] = m or u or NEUTRAL_PROBABILITY
        _floor_at_else(comparison["comparison_levels"])
    return settings


PRIOR_RECALL = 0.8
"""The recall of the prior's block assumed before EM has estimated it (:func:`block_recall_from_m`)."""

PRIOR_EXACT_LEVELS: tuple[tuple[str, str], ...] = (
    ("forename", "forename_first"),
    ("surname", "surname_std"),
    ("dob", "date_of_birth"),
)
"""The exact-match levels (comparison, column) whose agreement makes up :data:`PRIOR_BLOCK`."""

MIN_BLOCK_RECALL = 0.1


def block_recall_from_m(settings: dict[str, Any], levels: Sequence[tuple[str, str]]) -> float | None:
    """The share of true pairs (holding every field) that agree exactly on every field of ``levels``,
    as the trained model says: the product of the exact-match levels' m probabilities
    (the fields' errors independent given a match, the model's own assumption).

    The prior is first estimated assuming the block finds :data:`PRIOR_RECALL` of the true
    pairs; on noisy data it finds fewer (pseudopeople at five times its default noise),
    so the prior, and every match probability, came out too low. ``None`` when a level is
    missing or untrained (m = u, the neutral fill). Never below :data:`MIN_BLOCK_RECALL`.
    """
    recall = 1.0
    by_name = {c["output_column_name"]: c for c in settings.get("comparisons", [])}
    for name, column in levels:
        comparison = by_name.get(name)
        exact = None
        for level in (comparison or {}).get("comparison_levels", []):
            condition = str(level.get("sql_condition", "")).replace('"', "").replace("`", "")
            if condition == f"{column}_l = {column}_r":
                exact = level
                break
        if exact is None or not exact.get("m_probability") or exact.get("m_probability") == exact.get("u_probability"):
            return None
        recall *= float(exact["m_probability"])
    return max(recall, MIN_BLOCK_RECALL)


MAX_PRIOR = 0.5
"""The corrected prior never exceeds this (a batch where almost nobody has a date of birth)."""


def prior_correction(frame: pl.DataFrame, columns: Sequence[str]) -> float:
    """The factor that turns the prior estimated on ``columns`` into one over every pair.

    The prior is estimated from the pairs agreeing on ``columns`` (full name and date of
    birth) divided by every pair of profiles; but only profiles holding all of
    ``columns`` can agree on them. When a share of the sources records no date of birth
    (a tax record, an address list), their true pairs are never counted and the prior
    comes out too low by the ratio of all pairs to the pairs of complete profiles
    (pseudopeople: W2 records have no date of birth, the prior came out at 0.5 of what
    the complete profiles say). Assuming people are as often recorded twice whether or
    not a source holds their date of birth, the estimate is scaled by that ratio: ``1``
    when every profile is complete, as in a batch where every source records names and
    dates of birth.
    """
    n = frame.height
    complete = frame.select(columns).drop_nulls().height
    if complete < 2 or n < 2:
        return 1.0
    return (n * (n - 1)) / (complete * (complete - 1))


IDENTIFIER_COMPARISONS: tuple[str, ...] = ("upn", "nino", "nhs_number", "pnc_id")
"""The comparisons whose agreement level :func:`_u_without_matches` corrects."""

MIN_U_SHARE = 0.1
""":func:`_u_without_matches` never lowers a level's u below this share of the agreement rate
random sampling measured (at most log2(10) = 3.3 bits more weight)."""


def _u_without_matches(comparisons: list[dict[str, Any]], prior: float) -> None:
    """Take the true matches out of each identifier's agreement u.

    u is estimated by sampling random pairs of profiles, and a random pair is a match with
    probability ``prior``: the rate measured is ``prior * m + (1 - prior) * u``, not u. An
    identifier that random pairs share almost only when they are one person (a national
    insurance or social security number) measures mostly matches: on pseudopeople its u
    came out at 4.3e-5 against a prior of 4.1e-5, so an agreeing SSN weighed no more than
    the prior against it, and a W2 and a Social Security record sharing the SSN and the
    forename but not the surname scored 0.87. Each identifier's agreement level gets ``u =
    (rate - prior * m) / (1 - prior)``, never below :data:`MIN_U_SHARE` of the rate (the
    sample cannot tell rarer). Only identifiers (:data:`IDENTIFIER_COMPARISONS`): for a name,
    a date of birth or a postcode the matches' share of the rate is small in a council's
    batch, and on FEBRL3 (up to nine records a person in 5,000) correcting those levels too
    raised their weights by up to 3.3 bits and added 13 false links (precision 0.9989 to
    0.9969), where the identifier alone changed nothing.
    """
    for comparison in comparisons:
        if comparison["output_column_name"] not in IDENTIFIER_COMPARISONS:
            continue
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level") or level.get("sql_condition") == "ELSE" or level.get("fix_u_probability"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if not m or not u or m == u:
                continue
            level["u_probability"] = max((u - prior * m) / (1 - prior), u * MIN_U_SHARE)


MIN_LEVEL_WEIGHT = -10.0
"""No level weighs less than this (bits: a likelihood ratio of 1/1024). EM on training data
that never makes an error (no record of a person with the wrong sex among the pairs it
learns from) drives that level's m to nothing (-33 bits for a disagreeing sex), a veto
that real data, where agencies do record the wrong sex, would pay for in missed links."""


def _floor_at_else(levels: list[dict[str, Any]]) -> None:
    """Raise m of the else level to :data:`MIN_LEVEL_WEIGHT`, and of any partial-agreement
    level weighing less than the else level to the else level's weight (see :func:`train`).
    """
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


def train_model(
    persons: pl.DataFrame,
    config: LinkageConfig,
    training_data: dict[str, Any],
    version: str | None = None,
    description: str = "",
    em_blocks: Sequence[Sequence[str]] = EM_BLOCKS,
) -> dict[str, Any]:
    """Estimate the model on ``persons`` (standardised, address-matched) and return the model file's content.

    ``em_blocks``: the blocks EM runs over (:data:`EM_BLOCKS` by default).
    """
    import splink

    profiles, _ = build_profiles(persons)
    settings = train(profiles, tf_tables(persons), config, em_blocks)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return {
        "format": MODEL_FORMAT,
        "version": version or f"person-{date.today():%Y%m%d}-{digest}",
        "description": description
        or "Fellegi-Sunter person model: u by random sampling, m by EM"
        " (blocks: each identifier; full name and date of birth)",
        "training_data": {**training_data, "records": persons.height, "profiles": profiles.height},
        "splink_version": splink.__version__,
        "settings": settings,
    }
