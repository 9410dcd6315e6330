"""Why two records are (or are not) one person: the model's waterfall for any pair.

When the run stored a scored link between the two records (``links.match_weights_json``:
the prior, each comparison's weight and level, the total and the probability),
``explain_pair`` shows exactly that: what the run computed, identifiers included, and the
band the run stored. Otherwise (the run scored the pair under other representative
records, or never compared them) it standardises the records as a run does, computes
the term frequencies over all the records given (a stored run's source records, so they
equal the run's) and scores the pair with the frozen model whatever the blocking rules
say. Identifiers are not stored with source records, so a recomputed explanation has
none (``Explanation.recomputed``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from tfident.errors import LinkageError
from tfident.link.comparisons import COMPARISONS
from tfident.link.config import LinkageConfig
from tfident.link.model import level_labels, prior_weight
from tfident.link.prediction import compare_records
from tfident.link.profiles import build_profiles, tf_tables
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
    levels: tuple[int | None, ...] = ()
    """Each step's comparison vector value (-1: the null level), as ``match_weights_json`` stores it."""
    recomputed: bool = True
    """False when the waterfall is the run's stored link; True when scored again here
    (without identifiers, which are not stored with source records)."""
    stored_rule: str | None = None
    """The stored link's ``match_rule`` (``splink``, ``uncertain``, ``held_apart``...), if any."""
    dob_copied: tuple[str, ...] = ()
    """The records of the pair whose date of birth the run's clustering took for a copy of a
    household member's (``dob_copied_from_household``: another person at the record's address
    carries it; with ``dob_copied_seen_on_person``, another person with a record at the address
    holds it on any of theirs), so that the dob guard did not hold them apart on it; stored with
    the link."""

    one_slot: tuple[str, ...] = ()
    """The slots (``source|column values...``: one school and term of attendance) both persons of a
    pair held apart hold a record of, so that the run's ``one_record_per_slot`` guard kept them two
    people; stored with the link."""

    def band(self, config: LinkageConfig) -> str:
        """``match``, ``uncertain`` or ``non-match``: the stored link's band when there is one
        (``uncertain`` and ``held_apart`` are not matches; ``second_pass`` is a match below the
        match threshold, made by the second pass: ``match (second pass)``), else by the
        configuration's thresholds.
        """
        if self.stored_rule == "second_pass":
            return "match (second pass)"
        if self.stored_rule == "uncertain":
            return "uncertain"
        if self.stored_rule == "held_apart":
            return "held apart"
        if self.probability >= config.thresholds.match:
            return "match"
        return "uncertain" if self.probability >= config.thresholds.uncertain else "non-match"

    def notes(self) -> list[str]:
        """What the run's clustering did with the pair beyond its score, one sentence each (``tfident
        explain`` prints them): linked by the second pass, a date of birth taken for a household
        member's copy, held apart by a slot both persons fill.
        """
        notes = []
        if self.stored_rule == "second_pass":
            notes.append(
                "linked by the second pass (thresholds.second_pass): the probability is below the match"
                " threshold; after the first clustering every guard accepted the two persons whole (dates of"
                " birth, forenames, identifiers, twins) and neither had another such candidate it could not be"
                " one person with"
            )
        notes += [
            f"the date of birth of {key} is another person's at its address (a household member's, copied):"
            " the run's dob guard did not hold its person apart on it (the model still weighed it)"
            for key in self.dob_copied
        ]
        for slot in self.one_slot:
            source, *values = slot.split("|")
            notes.append(
                f"held apart: both persons hold a record of {source} for {' '.join(values)}, which one person"
                " fills once (one_record_per_slot: one pupil has one attendance row per school and term)"
            )
        return notes

    def as_dict(self) -> dict[str, Any]:
        """``{"prior", <field>..., "total", "probability", "levels"}`` like ``links.match_weights_json``."""
        return {
            "prior": round(self.prior, 4),
            **{s.field: round(s.weight, 4) for s in self.steps},
            "total": round(self.total, 4),
            "probability": round(self.probability, 6),
            "levels": {s.field: level for s, level in zip(self.steps, self.levels, strict=True)},
            **({"dob_copied": list(self.dob_copied)} if self.dob_copied else {}),
            **({"one_slot": list(self.one_slot)} if self.one_slot else {}),
        }


def persons_from_stored(records: pl.DataFrame) -> pl.DataFrame:
    """A persons frame (standardised) from stored ``source_records`` rows.

    Identifiers are not stored with source records, so they are absent here; middle names
    are (the forename comparison reads them).
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


def _label(labels: dict[str, dict[int, str]], name: str, gamma: int | None) -> str:
    return labels.get(name, {}).get(int(gamma), str(gamma)) if gamma is not None else "?"


def from_stored(link: dict[str, Any], config: LinkageConfig) -> Explanation | None:
    """The explanation a stored link holds (``links`` row with ``match_weights_json``), or None
    when it holds no model waterfall (an identical profile, a reviewer's ruling, a link
    stored before levels were recorded).
    """
    weights = link.get("match_weights_json")
    if isinstance(weights, str):
        try:
            weights = json.loads(weights)
        except ValueError:
            return None
    if not isinstance(weights, dict) or not isinstance(weights.get("levels"), dict):
        return None
    if any(name not in weights for name in COMPARISONS):
        return None
    model = config.model_data
    labels = level_labels(model)
    levels = weights["levels"]
    steps = tuple(
        WaterfallStep(name, _label(labels, name, levels.get(name)), float(weights[name])) for name in COMPARISONS
    )
    left, right = sorted((str(link["record_key_l"]), str(link["record_key_r"])))
    return Explanation(
        record_key_a=left,
        record_key_b=right,
        model_version=str(model.get("version", "")),
        prior=float(weights["prior"]),
        steps=steps,
        total=float(weights["total"]),
        probability=float(weights["probability"]),
        levels=tuple(levels.get(name) for name in COMPARISONS),
        recomputed=False,
        stored_rule=link.get("match_rule"),
        dob_copied=tuple(str(k) for k in weights.get("dob_copied", ())),
        one_slot=tuple(str(k) for k in weights.get("one_slot", ())),
    )


def explain_pair(
    persons: pl.DataFrame,
    record_key_a: str,
    record_key_b: str,
    config: LinkageConfig,
    stored: dict[str, Any] | None = None,
) -> Explanation:
    """The waterfall for two records of ``persons`` (standardised, with ``uprn_matched``).

    ``stored``: the run's stored link between them (a ``links`` row), if any: when it holds
    the model's waterfall, that is the explanation (exactly what the run computed).
    """
    if stored is not None:
        found = from_stored(stored, config)
        if found is not None:
            return found
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
        steps.append(WaterfallStep(name, _label(labels, name, scored[f"gamma_{name}"]), float(scored[f"mw_{name}"])))
    return Explanation(
        record_key_a=record_key_a,
        record_key_b=record_key_b,
        model_version=str(model.get("version", "")),
        prior=prior_weight(model),
        steps=tuple(steps),
        total=float(scored["match_weight"]),
        probability=float(scored["match_probability"]),
        levels=tuple(scored[f"gamma_{name}"] for name in COMPARISONS),
    )
