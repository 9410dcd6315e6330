"""The one place that orders the stages of a monthly identification run.

Each ``*_stage`` function is a thin, pure wrapper over a stage package and is what the
Prefect flow (``tfident.flows``) wraps as a task. ``run_pipeline`` calls them in order
without Prefect, so everything runs and tests without a server; ``run_stages`` is the
same after ``ingest``, optionally with :class:`Checkpoints` that save each stage's
frames and restore those of stages already done (how ``tfident run --resume`` works).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from tfident import __version__
from tfident.config import config_hash, config_path
from tfident.criteria import RulePack, evaluate_criteria, load_pack
from tfident.households import NOT_CANDIDATE_STATUSES, HouseholdsConfig, assign_households, load_households_config
from tfident.identity import carry_over_ids, empty_events
from tfident.ingest import Batch, SourcesMapping, load_sources_mapping, read_batch
from tfident.ingest.checks import CheckReport, ChecksConfig, Manifests, PreviousMonth, raise_on_stop, run_checks
from tfident.link import NOT_SAME_PERSON_RULES, LinkageConfig, link_persons, load_linkage_config
from tfident.rank import RankingConfig, load_ranking_config, rank_candidates
from tfident.standardise import (
    AddressConfig,
    address_match_summary,
    load_address_config,
    match_addresses,
    standardise_persons,
)

STAGES: tuple[str, ...] = ("ingest", "standardise", "link", "households", "criteria", "rank")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides the extracts, resolved from ``config/``."""

    sources: SourcesMapping
    linkage: LinkageConfig
    pack: RulePack
    ranking: RankingConfig
    addresses: AddressConfig = field(default_factory=AddressConfig)
    households: HouseholdsConfig = field(default_factory=HouseholdsConfig)

    @property
    def hash(self) -> str:
        """SHA-256 of the resolved configuration."""
        return config_hash(
            {
                "sources": self.sources,
                "linkage": self.linkage,
                "criteria": self.pack,
                "ranking": self.ranking,
                "addresses": self.addresses,
                "households": self.households,
            }
        )

    def as_json(self) -> str:
        """The resolved configuration as canonical JSON, stored with every run."""
        payload = {
            "sources": self.sources.model_dump(mode="json"),
            "linkage": self.linkage.model_dump(mode="json"),
            "criteria": self.pack.model_dump(mode="json"),
            "ranking": self.ranking.model_dump(mode="json"),
            "addresses": self.addresses.model_dump(mode="json"),
            "households": self.households.model_dump(mode="json"),
        }
        return json.dumps(payload, sort_keys=True)


def load_run_config(criteria: str = "phase1") -> RunConfig:
    """Load and validate every configuration file a run uses, from the config folders (:mod:`tfident.config`)."""
    return RunConfig(
        sources=load_sources_mapping(config_path("sources.yaml")),
        linkage=load_linkage_config(config_path("linkage.yaml")),
        pack=load_pack(criteria),
        ranking=load_ranking_config(config_path("ranking.yaml")),
        addresses=load_address_config(config_path("addresses.yaml")),
        households=load_households_config(config_path("households.yaml")),
    )


@dataclass
class PipelineResult:
    """The frames a run produces, ready for the store."""

    as_of: date
    batch: Batch
    records: pl.DataFrame
    links: pl.DataFrame
    persons: pl.DataFrame
    households: pl.DataFrame
    evidence: pl.DataFrame
    household_criteria: pl.DataFrame
    candidates: pl.DataFrame
    identity_events: pl.DataFrame = field(default_factory=empty_events)
    """Persons and households that merged, split or moved since the previous run."""
    timings: dict[str, float] = field(default_factory=dict)
    checks: CheckReport | None = None
    """The data checks' report, when they ran (they stop the run before this result on a ``stop``)."""

    def summary(self) -> dict[str, Any]:
        """Counts for the run summary (no personal data)."""
        criteria_columns = [c for c in self.household_criteria.columns if c not in _NON_CRITERIA]
        by_criteria = (
            self.candidates.group_by("criteria_met").len().sort(["len", "criteria_met"], descending=[True, False])
        )
        return {
            "sources": {
                name: {
                    "rows_read": q.rows_read,
                    "rows_accepted": q.rows_accepted,
                    "rows_quarantined": q.rows_quarantined,
                }
                for name, q in sorted(self.batch.quality.items())
            },
            "records": self.records.height,
            "persons": self.persons.height,
            "households": self.households.height,
            "candidates": self.candidates.height,
            "criteria_met_households": {c: int(self.household_criteria[c].sum()) for c in criteria_columns},
            "candidates_by_criteria": dict(zip(by_criteria["criteria_met"], by_criteria["len"], strict=True)),
            "links": dict(sorted(self.links.group_by("match_rule").len().iter_rows())),
            "addresses": address_match_summary(self.records),
            "identity_events": dict(sorted(self.identity_events.group_by("kind").len().iter_rows())),
            "household_addresses": household_address_summary(self.households, self.persons),
        }


def household_address_summary(households: pl.DataFrame, persons: pl.DataFrame) -> dict[str, Any]:
    """Counts for the run summary: households by address status (``uprn``: at a gazetteer
    UPRN), households flagged by the moved-alone rule by reason, and persons no record could
    place. No personal data."""
    status = households.get_column("address_status") if "address_status" in households.columns else None
    reason = households.get_column("review_reason") if "review_reason" in households.columns else None
    by_status = status.fill_null("uprn").value_counts().sort(status.name).rows() if status is not None else []
    review = reason.drop_nulls().value_counts().sort(reason.name).rows() if reason is not None else []
    return {
        "by_status": {name: int(n) for name, n in by_status} if status is not None else {"uprn": households.height},
        "review": {name: int(n) for name, n in review},
        "persons_unplaced": int(persons["household_id"].null_count()) if "household_id" in persons.columns else 0,
    }


_NON_CRITERIA = {"household_id", "n_national", "eligible", "eligibility"}


def ingest_stage(extracts_dir: Path, sources: SourcesMapping) -> Batch:
    """Read and validate every extract of the batch."""
    return read_batch(extracts_dir, sources)


def check_stage(
    batch: Batch,
    as_of: date,
    config: ChecksConfig,
    previous: PreviousMonth | None = None,
    manifests: Manifests | None = None,
) -> CheckReport:
    """Every data check of the batch (:mod:`tfident.ingest.checks`); raises
    :class:`~tfident.errors.DataCheckFailed` listing every ``stop`` check that failed."""
    report = run_checks(batch, as_of, config, previous, manifests)
    raise_on_stop(report)
    return report


def standardise_stage(batch: Batch, as_of: date, addresses: AddressConfig | None = None) -> pl.DataFrame:
    """Standardise every person record and match its address to the gazetteer."""
    persons = standardise_persons(batch.extracts, as_of)
    return match_addresses(persons, batch.extracts["gazetteer"], addresses)


def link_stage(
    records: pl.DataFrame, linkage: LinkageConfig, constraints: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Link person records across sources into persons, respecting reviewers' link rulings."""
    return link_persons(records, linkage, constraints)


def households_stage(
    records: pl.DataFrame,
    person_index: pl.DataFrame,
    gazetteer: pl.DataFrame,
    as_of: date,
    config: HouseholdsConfig | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Place every person at an address at the batch date; group them into households
    (``config/households.yaml``, defaults when None).

    Returns the records with ``person_id`` and ``household_id``, the persons and the
    households.
    """
    residents, households = assign_households(records, person_index, as_of, gazetteer=gazetteer, config=config)
    placed = records.join(person_index.select("record_key", "person_id"), on="record_key", how="left").join(
        residents.select("person_id", "household_id"), on="person_id", how="left"
    )
    return placed, residents, households


def identity_stage(
    records: pl.DataFrame,
    persons: pl.DataFrame,
    households: pl.DataFrame,
    previous: pl.DataFrame | None,
    as_of: date,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Carry person and household ids over from the previous run (``tfident.identity``).

    ``previous`` is that run's index (``tfident.identity.PREVIOUS_INDEX_SCHEMA``), read
    from the store by the caller, or None for a first run (ids stay as they are).
    Returns the records, persons and households with carried ids, and the identity events.
    """
    carried = carry_over_ids(records, persons, households, previous, as_of)
    return carried.records, carried.residents, carried.households, carried.events


def criteria_stage(
    batch: Batch, records: pl.DataFrame, persons: pl.DataFrame, pack: RulePack, as_of: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply the rule pack; return evidence rows and one row of criteria per household."""
    record_index = records.select("source", "record_id", "person_id", "household_id")
    people = persons.select("person_id", "household_id", "date_of_birth")
    return evaluate_criteria(batch.extracts, record_index, people, pack, as_of)


def rank_stage(
    household_criteria: pl.DataFrame,
    evidence: pl.DataFrame,
    households: pl.DataFrame,
    records: pl.DataFrame,
    links: pl.DataFrame,
    ranking: RankingConfig,
) -> pl.DataFrame:
    """Rank eligible households and add what the candidate export shows about each.

    Households outside the council's area (``tfident.households.NOT_CANDIDATE_STATUSES``)
    are formed and counted but never candidates."""
    if "address_status" in households.columns:
        outside = households.filter(pl.col("address_status").is_in(list(NOT_CANDIDATE_STATUSES)))
        household_criteria = household_criteria.join(outside.select("household_id"), on="household_id", how="anti")
    ranked = rank_candidates(household_criteria, evidence, households, ranking)
    confidence = record_link_probability(records, links)
    weakest = (
        records.select("record_key", "household_id")
        .join(confidence, on="record_key", how="left")
        .group_by("household_id")
        .agg(pl.col("link_probability").min().alias("min_link_probability"))
    )
    return (
        ranked.join(households.select("household_id", "uprn", "address", "postcode", "n_members"), on="household_id")
        .join(weakest, on="household_id", how="left")
        .sort("rank")
    )


def record_link_probability(records: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """Each record's strongest link to another record of its person (1.0 when it stands alone)."""
    links = links.filter(~pl.col("match_rule").is_in(list(NOT_SAME_PERSON_RULES)))
    ends = pl.concat(
        [
            links.select(pl.col("record_key_l").alias("record_key"), "match_probability"),
            links.select(pl.col("record_key_r").alias("record_key"), "match_probability"),
        ]
    )
    best = ends.group_by("record_key").agg(pl.col("match_probability").max().alias("link_probability"))
    return (
        records.select("record_key")
        .join(best, on="record_key", how="left")
        .with_columns(pl.col("link_probability").fill_null(1.0))
    )


ProgressCallback = Callable[[str, float | None], None]
"""Called with (stage, None) when a stage starts and (stage, seconds) when it ends."""


class Checkpoints(Protocol):
    """Where :func:`run_stages` keeps each stage's output frames, so a killed run can resume.

    ``load`` returns the frames saved for a stage (keyed by the names in
    ``STAGE_OUTPUTS``), or None when the stage must be computed; ``save`` keeps them.
    :class:`tfident.checkpoints.StageCheckpoints` keeps them as Parquet files.
    """

    def load(self, stage: str) -> Mapping[str, pl.DataFrame] | None:
        """The frames saved for ``stage``, or None."""
        ...

    def save(self, stage: str, frames: Mapping[str, pl.DataFrame]) -> None:
        """Keep ``stage``'s frames."""
        ...


STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "standardise": ("records",),
    "link": ("person_index", "links"),
    "households": ("records", "persons", "households", "identity_events"),
    "criteria": ("evidence", "household_criteria"),
    "rank": ("candidates",),
}
"""The frames each stage after ``ingest`` produces, by name: what a checkpoint holds."""


def _no_progress(stage: str, seconds: float | None) -> None:
    return None


@contextmanager
def timed(timings: dict[str, float], stage: str, progress: ProgressCallback = _no_progress) -> Iterator[None]:
    """Time the block as ``stage`` into ``timings``, telling ``progress`` when it starts and ends."""
    progress(stage, None)
    started = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - started, 3)
    progress(stage, timings[stage])


def run_pipeline(
    extracts_dir: Path,
    as_of: date,
    config: RunConfig,
    progress: ProgressCallback = _no_progress,
    constraints: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
) -> PipelineResult:
    """Run every stage in order, without Prefect, and return the frames for the store.

    ``constraints`` are reviewers' link rulings (``tfident.link.CONSTRAINTS_SCHEMA``),
    and ``previous`` the previous run's identity index (:func:`identity_stage`), both
    read from the store by the caller.
    """
    timings: dict[str, float] = {}
    with timed(timings, "ingest", progress):
        batch = ingest_stage(extracts_dir, config.sources)
    return run_stages(
        batch, as_of, config, progress=progress, constraints=constraints, timings=timings, previous=previous
    )


def run_stages(
    batch: Batch,
    as_of: date,
    config: RunConfig,
    progress: ProgressCallback = _no_progress,
    constraints: pl.DataFrame | None = None,
    checkpoints: Checkpoints | None = None,
    timings: dict[str, float] | None = None,
    previous: pl.DataFrame | None = None,
) -> PipelineResult:
    """Run the stages after ``ingest`` on a batch already read: what :func:`run_pipeline` does next.

    With ``checkpoints``, a stage whose frames ``checkpoints.load`` returns is not
    computed, and a computed stage's frames are passed to ``checkpoints.save``; the
    result is the same either way. ``timings`` (seconds per stage) is filled in.
    """
    timings = {} if timings is None else timings

    def stage(name: str, compute: Callable[[], tuple[pl.DataFrame, ...]]) -> tuple[pl.DataFrame, ...]:
        with timed(timings, name, progress):
            saved = checkpoints.load(name) if checkpoints is not None else None
            if saved is not None:
                return tuple(saved[frame] for frame in STAGE_OUTPUTS[name])
            frames = compute()
            if checkpoints is not None:
                checkpoints.save(name, dict(zip(STAGE_OUTPUTS[name], frames, strict=True)))
            return frames

    (standardised,) = stage("standardise", lambda: (standardise_stage(batch, as_of, config.addresses),))
    person_index, links = stage("link", lambda: link_stage(standardised, config.linkage, constraints))
    # the identity carry-over runs inside the households stage: ids are final before criteria
    records, persons, households, identity_events = stage(
        "households",
        lambda: identity_stage(
            *households_stage(standardised, person_index, batch.extracts["gazetteer"], as_of, config.households),
            previous,
            as_of,
        ),
    )
    evidence, household_criteria = stage(
        "criteria", lambda: criteria_stage(batch, records, persons, config.pack, as_of)
    )
    (candidates,) = stage(
        "rank", lambda: (rank_stage(household_criteria, evidence, households, records, links, config.ranking),)
    )
    return PipelineResult(
        as_of=as_of,
        batch=batch,
        records=records,
        links=links,
        persons=persons,
        households=households,
        evidence=evidence,
        household_criteria=household_criteria,
        candidates=candidates,
        identity_events=identity_events,
        timings=timings,
    )


def store_frames(result: PipelineResult) -> dict[str, pl.DataFrame]:
    """The run's frames keyed by the store table they go to (see ``tfident.store.writer``)."""
    batch = result.batch
    input_files = pl.DataFrame(
        [
            {"source": name, "path": info.path, "sha256": info.sha256, "format": info.format, "rows": info.rows}
            for name, info in sorted(batch.files.items())
        ],
        schema={"source": pl.String, "path": pl.String, "sha256": pl.String, "format": pl.String, "rows": pl.Int64},
    )
    quality = pl.DataFrame(
        [
            {"source": name, "report_json": json.dumps(report.model_dump(mode="json"), sort_keys=True)}
            for name, report in sorted(batch.quality.items())
        ],
        schema={"source": pl.String, "report_json": pl.String},
    )
    return {
        "input_files": input_files,
        "quality": quality,
        "quarantine": batch.quarantine,
        "source_records": result.records,
        "persons": result.persons,
        "links": result.links,
        "households": result.households,
        "candidates": result.candidates,
        "criteria_evidence": result.evidence,
        "identity_events": result.identity_events,
    }


def run_id_for(
    as_of: date,
    batch: Batch,
    config: RunConfig,
    criteria: str,
    constraints: pl.DataFrame | None = None,
    previous_run_id: str | None = None,
) -> str:
    """A run id derived from what determines the output: same inputs (and link rulings, and
    previous run that ids are carried over from), same id."""
    digest = hashlib.sha256()
    for name in sorted(batch.files):
        digest.update(f"{name}={batch.files[name].sha256};".encode())
    digest.update(f"config={config.hash};criteria={criteria};code={__version__}".encode())
    if constraints is not None and not constraints.is_empty():
        rulings = constraints.select("record_key_l", "record_key_r", "kind").sort(
            "record_key_l", "record_key_r", "kind"
        )
        digest.update(f"rulings={rulings.write_csv()}".encode())
    if previous_run_id is not None:
        digest.update(f"previous={previous_run_id}".encode())
    return f"R{as_of:%Y%m%d}-{digest.hexdigest()[:10]}"
