"""Why two records are (or are not) one person: the model's waterfall for any pair.

``explain_pair`` standardises the records as a run does, computes the term frequencies
over all the records given (a stored run's source records, so they equal the run's),
and scores the pair with the frozen model whatever the blocking rules say: the prior,
each comparison's level and match weight, the total and the probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tfident.errors import LinkageError
from tfident.link.config import LinkageConfig
from tfident.link.model import COMPARISONS, compare_records, level_labels, prior_weight, tf_tables
from tfident.link.rules import build_profiles
from tfident.standardise.persons import RAW_COLUMNS, add_standard_columns


class RecordNotFound(LinkageError):
    """A record key named for an explanation is not among the records."""


@dataclass(frozen=True)
class WaterfallStep:
    """One bar of the waterfall: a comparison, the level the pair reached, its weight."""

    field: str
    level: str
    weight: float


@dataclass(frozen=True)
class Explanation:
    """The model's waterfall for one pair of records."""

    record_key_a: str
    record_key_b: str
    model_version: str
    prior: float
    steps: tuple[WaterfallStep, ...]
    total: float
    probability: float

    def band(self, config: LinkageConfig) -> str:
        """``match``, ``uncertain`` or ``non-match`` by the configuration's thresholds."""
        if self.probability >= config.thresholds.match:
            return "match"
        return "uncertain" if self.probability >= config.thresholds.uncertain else "non-match"

    def as_dict(self) -> dict[str, float]:
        """``{"prior", <field>..., "total", "probability"}`` like ``links.match_weights_json``."""
        return {
            "prior": round(self.prior, 4),
            **{s.field: round(s.weight, 4) for s in self.steps},
            "total": round(self.total, 4),
            "probability": round(self.probability, 6),
        }


def persons_from_stored(records: pl.DataFrame) -> pl.DataFrame:
    """A persons frame (standardised) from stored ``source_records`` rows.

    Identifiers are not stored with source records, so they are absent here.
    """
    raw = records.with_columns(
        *(
            pl.lit(None, dtype=pl.String).alias(c)
            for c in ("upn", "nino", "pnc_id", "nhs_number")
            if c not in records.columns
        )
    )
    persons = add_standard_columns(raw.select(RAW_COLUMNS))
    matched = records.select("record_key", pl.col("uprn_matched").cast(pl.Int64))
    return persons.join(matched, on="record_key", how="left", maintain_order="left")


def explain_pair(persons: pl.DataFrame, record_key_a: str, record_key_b: str, config: LinkageConfig) -> Explanation:
    """The waterfall for two records of ``persons`` (standardised, with ``uprn_matched``)."""
    if record_key_a == record_key_b:
        raise RecordNotFound("name two different records to explain")
    model = config.model_data
    pair = persons.filter(pl.col("record_key").is_in([record_key_a, record_key_b]))
    for key in (record_key_a, record_key_b):
        if key not in pair["record_key"].to_list():
            raise RecordNotFound(f"record {key} is not in the run")
    profiles, _ = build_profiles(pair, solo_keys=[record_key_a, record_key_b])
    left = profiles.filter(pl.col("rep_key") == record_key_a)
    right = profiles.filter(pl.col("rep_key") == record_key_b)
    scored = compare_records(left, right, tf_tables(persons, model), model, config).row(0, named=True)
    labels = level_labels(model)
    steps = []
    for name in COMPARISONS:
        gamma = scored[f"gamma_{name}"]
        label = labels.get(name, {}).get(int(gamma), str(gamma)) if gamma is not None else "?"
        steps.append(WaterfallStep(name, label, float(scored[f"mw_{name}"])))
    return Explanation(
        record_key_a=record_key_a,
        record_key_b=record_key_b,
        model_version=str(model.get("version", "")),
        prior=prior_weight(model),
        steps=tuple(steps),
        total=float(scored["match_weight"]),
        probability=float(scored["match_probability"]),
    )
