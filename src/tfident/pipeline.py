"""The one place that orders the stages of a monthly identification run.

Each ``*_stage`` function is a thin, pure wrapper over a stage package. :data:`NODES`
declares them once, in order, each a :class:`Stage` with its function and the names of
its inputs and outputs (as Kedro declares nodes). Everything that runs stages is driven
from that list: :func:`run_graph` calls them in order (plain, or through ``execute``: the
Prefect flow ``tfident.flows.monthly`` makes one task per node), optionally with
:class:`Checkpoints` that save each stage's frames and restore those of stages already
done (how ``tfident run --resume`` works, with or without Prefect); :func:`run_pipeline`
is the plain run without a server. :data:`FRAME_SCHEMAS` declares every output frame's
columns and types.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from tfident import __version__
from tfident.config import config_hash, config_path
from tfident.criteria import (
    EVIDENCE_SCHEMA,
    NON_CRITERION_COLUMNS,
    RulePack,
    evaluate_criteria,
    household_criteria_schema,
    load_pack,
)
from tfident.errors import StopRun
from tfident.households import (
    HOUSEHOLDS_SCHEMA,
    NOT_CANDIDATE_STATUSES,
    RESIDENTS_SCHEMA,
    HouseholdsConfig,
    assign_households,
    load_households_config,
    open_record_starts,
)
from tfident.households.incremental import INDEX_SCHEMA, PARSES_SCHEMA, HouseholdsCache, empty_index, parser_for
from tfident.identity import IDENTITY_EVENTS_SCHEMA, carry_over_ids, empty_events
from tfident.ingest import Batch, SourcesMapping, read_batch
from tfident.ingest import load_sources_mapping as load_sources_mapping  # re-exported: the runner reads it from here
from tfident.ingest.checks import CheckReport, ChecksConfig, Manifests, PreviousMonth, raise_on_stop, run_checks
from tfident.link import (
    LINKS_SCHEMA,
    NOT_SAME_PERSON_RULES,
    PERSON_INDEX_SCHEMA,
    LinkageConfig,
    LinkCache,
    link_persons_cached,
    load_linkage_config,
)
from tfident.link.components import CLUSTER_CACHE_SCHEMA
from tfident.link.incremental import PAIR_CACHE_SCHEMA, PROFILE_CACHE_SCHEMA
from tfident.rank import CANDIDATE_SCHEMA, RankingConfig, load_ranking_config, rank_candidates
from tfident.standardise import (
    RECORDS_SCHEMA,
    AddressConfig,
    address_match_summary,
    load_address_config,
)
from tfident.standardise.incremental import StandardiseCache, standardise_records


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
    link_cache: LinkCache | None = None
    """What the next run's linkage reuses (:mod:`tfident.link.incremental`)."""
    standardised: pl.DataFrame | None = None
    """The standardise stage's frame: what the next run's standardisation reuses
    (:mod:`tfident.standardise.incremental`)."""
    household_parses: pl.DataFrame | None = None
    """The households stage's parses of address texts: what the next run's households stage reuses
    (:mod:`tfident.households.incremental`)."""
    household_index: pl.DataFrame | None = None
    """The households stage's gazetteer input and index: the next run's households stage reuses the
    index when its gazetteer input is the same (:mod:`tfident.households.incremental`)."""

    def summary(self) -> dict[str, Any]:
        """Counts for the run summary (no personal data)."""
        criteria_columns = [c for c in self.household_criteria.columns if c not in NON_CRITERION_COLUMNS]
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
    UPRN), households flagged for review by reason (the moved-alone rule, ``flat_from_surname``), and
    persons no record could place. No personal data.
    """
    status = households.get_column("address_status") if "address_status" in households.columns else None
    reason = households.get_column("review_reason") if "review_reason" in households.columns else None
    by_status = status.fill_null("uprn").value_counts().sort(status.name).rows() if status is not None else []
    review = reason.drop_nulls().value_counts().sort(reason.name).rows() if reason is not None else []
    return {
        "by_status": {name: int(n) for name, n in by_status} if status is not None else {"uprn": households.height},
        "review": {name: int(n) for name, n in review},
        "persons_unplaced": int(persons["household_id"].null_count()) if "household_id" in persons.columns else 0,
    }


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
    :class:`~tfident.errors.DataCheckFailed` listing every ``stop`` check that failed.
    """
    report = run_checks(batch, as_of, config, previous, manifests)
    raise_on_stop(report)
    return report


def standardise_stage(
    batch: Batch,
    as_of: date,
    addresses: AddressConfig | None = None,
    standardise_cache: StandardiseCache | None = None,
) -> pl.DataFrame:
    """Standardise every person record and match its address to the gazetteer.

    With ``standardise_cache`` (the previous published run's, :mod:`tfident.standardise.incremental`)
    records unchanged since keep their standardised rows; the result is the same.
    """
    records, _ = standardise_records(batch.extracts, as_of, addresses, standardise_cache)
    return records


def link_stage(
    records: pl.DataFrame,
    linkage: LinkageConfig,
    constraints: pl.DataFrame | None = None,
    link_cache: LinkCache | None = None,
    batch: Batch | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Link person records across sources into persons, respecting reviewers' link rulings and
    the slots of the batch's extracts (two attendance rows of one school and term are two pupils).

    With ``link_cache`` (the previous published run's, :mod:`tfident.link.incremental`) only
    the pairs of new or changed profiles are blocked and compared; the result is the same.
    Returns the person index, the links, and this run's cache (its profiles, pairs and clusters).
    """
    extracts = None if batch is None else batch.extracts
    person_index, links, cache = link_persons_cached(records, linkage, constraints, link_cache, extracts=extracts)
    return person_index, links, cache.profiles, cache.pairs, cache.clusters


def households_stage(
    records: pl.DataFrame,
    person_index: pl.DataFrame,
    batch: Batch,
    as_of: date,
    config: HouseholdsConfig | None = None,
    households_cache: HouseholdsCache | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Place every person at an address at the batch date (the batch's gazetteer); group them
    into households (``config/households.yaml``, defaults when None).

    With ``households_cache`` (the previous published run's, :mod:`tfident.households.incremental`)
    address texts parsed then are not parsed again, and its gazetteer index is reused when the
    gazetteer's UPRNs, texts and outward codes are exactly the same; the result is the same.
    When each open claim was opened is read from the batch's extracts (``stale_claims``).
    Returns the records with ``person_id`` and ``household_id``, the persons, the
    households, and this run's parses of address texts and gazetteer index (the next run's cache).
    """
    parses = parser_for(households_cache)
    opened = open_record_starts(batch.extracts, (config or HouseholdsConfig()).stale_claims)
    residents, households = assign_households(
        records,
        person_index,
        as_of,
        gazetteer=batch.extracts["gazetteer"],
        config=config,
        parses=parses,
        opened=opened,
    )
    if households_cache is not None:
        parses.log_reuse()
    placed = records.join(person_index.select("record_key", "person_id"), on="record_key", how="left").join(
        residents.select("person_id", "household_id"), on="person_id", how="left"
    )
    index = parses.index if parses.index is not None else empty_index()
    return placed, residents, households, parses.table(), index


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
    are formed and counted but never candidates.
    """
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


@dataclass(frozen=True)
class Stage:
    """One node of the stage graph: ``func`` called with the values named by ``inputs`` (in that
    order), its result bound to the names in ``outputs`` (a tuple result when there are several).

    A value's name is a frame or object a stage produces (``batch``, ``records`` ...), a run
    input (:func:`run_inputs`: ``extracts_dir``, ``as_of``, ``constraints``, ``previous`` ...)
    or a slice of the configuration (``params:linkage`` ...), as Kedro names its datasets.
    """

    name: str
    func: Callable[..., Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    checkpointed: bool = True
    """Whether its outputs are saved as checkpoints (frames only); those of ``ingest`` and
    ``checks`` are not: a resumed run reads and checks its extracts again."""
    retries: int = 0
    """Prefect task retries: only where a fault can be transient (a file share briefly
    unreachable); bad data fails at once and is never retried."""
    only_with: str | None = None
    """The stage runs only when this input is given (not None); else its outputs are None."""


NODES: tuple[Stage, ...] = (
    Stage("ingest", ingest_stage, ("extracts_dir", "params:sources"), ("batch",), checkpointed=False, retries=2),
    Stage(
        "checks",
        check_stage,
        ("batch", "as_of", "params:checks", "last_month", "manifests"),
        ("check_report",),
        checkpointed=False,
        only_with="params:checks",
    ),
    Stage(
        "standardise",
        standardise_stage,
        ("batch", "as_of", "params:addresses", "standardise_cache"),
        ("standardised",),
    ),
    Stage(
        "link",
        link_stage,
        ("standardised", "params:linkage", "constraints", "link_cache", "batch"),
        ("person_index", "links", "link_profiles", "link_pairs", "link_clusters"),
    ),
    Stage(
        "households",
        households_stage,
        ("standardised", "person_index", "batch", "as_of", "params:households", "households_cache"),
        ("placed_records", "residents", "assigned_households", "household_parses", "household_index"),
    ),
    Stage(
        "identity",
        identity_stage,
        ("placed_records", "residents", "assigned_households", "previous", "as_of"),
        ("records", "persons", "households", "identity_events"),
    ),
    Stage(
        "criteria",
        criteria_stage,
        ("batch", "records", "persons", "params:pack", "as_of"),
        ("evidence", "household_criteria"),
    ),
    Stage(
        "rank",
        rank_stage,
        ("household_criteria", "evidence", "households", "records", "links", "params:ranking"),
        ("candidates",),
    ),
)
"""The stages of a monthly run, in order: the one declaration the plain run, its checkpoints
and resume, and the Prefect flow (one task per stage) are all driven from."""

STAGES: tuple[str, ...] = tuple(stage.name for stage in NODES)
"""The stages' names, in order."""

CHECKPOINTED_STAGES: tuple[str, ...] = tuple(stage.name for stage in NODES if stage.checkpointed)
"""The stages whose frames a run saves as checkpoints, in order."""

STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {stage.name: stage.outputs for stage in NODES if stage.checkpointed}
"""The frames each checkpointed stage produces, by name: what a checkpoint holds."""


def _candidates_schema() -> dict[str, pl.DataType]:
    households = {name: HOUSEHOLDS_SCHEMA[name] for name in ("uprn", "address", "postcode", "n_members")}
    return {**CANDIDATE_SCHEMA, **households, "min_link_probability": pl.Float64()}


FRAME_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "standardised": RECORDS_SCHEMA,
    "person_index": PERSON_INDEX_SCHEMA,
    "links": LINKS_SCHEMA,
    "link_profiles": PROFILE_CACHE_SCHEMA,
    "link_pairs": PAIR_CACHE_SCHEMA,
    "link_clusters": CLUSTER_CACHE_SCHEMA,
    "placed_records": {**RECORDS_SCHEMA, "person_id": pl.String(), "household_id": pl.String()},
    "residents": RESIDENTS_SCHEMA,
    "assigned_households": HOUSEHOLDS_SCHEMA,
    "household_parses": PARSES_SCHEMA,
    "household_index": INDEX_SCHEMA,
    "records": {**RECORDS_SCHEMA, "person_id": pl.String(), "household_id": pl.String()},
    "persons": RESIDENTS_SCHEMA,
    "households": HOUSEHOLDS_SCHEMA,
    "identity_events": IDENTITY_EVENTS_SCHEMA,
    "evidence": EVIDENCE_SCHEMA,
    "candidates": _candidates_schema(),
}
"""The columns (in order) and types of every frame a stage outputs, by name, each from the
stage package that makes it; ``household_criteria`` depends on the rule pack
(:func:`household_criteria_schema`)."""


def frame_schema(name: str, config: RunConfig) -> dict[str, pl.DataType]:
    """The declared schema of the stage output ``name`` for a run with ``config``."""
    if name == "household_criteria":
        return household_criteria_schema(config.pack)
    return FRAME_SCHEMAS[name]


def run_inputs(
    extracts_dir: Path,
    as_of: date,
    config: RunConfig,
    constraints: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
    checks: ChecksConfig | None = None,
    last_month: PreviousMonth | None = None,
    manifests: Manifests | None = None,
    link_cache: LinkCache | None = None,
    standardise_cache: StandardiseCache | None = None,
    households_cache: HouseholdsCache | None = None,
) -> dict[str, Any]:
    """The values a run starts from, by the names stages take them as (:class:`Stage`).

    ``constraints`` are reviewers' link rulings (``tfident.link.CONSTRAINTS_SCHEMA``),
    ``previous`` the previous run's identity index (:func:`identity_stage`); with ``checks``
    the data checks run after ingest, against ``last_month`` and the batch's ``manifests``;
    ``link_cache``, ``standardise_cache`` and ``households_cache`` (the previous published run's) make
    the run incremental.
    """
    return {
        "extracts_dir": extracts_dir,
        "as_of": as_of,
        "constraints": constraints,
        "previous": previous,
        "last_month": last_month,
        "manifests": manifests,
        "link_cache": link_cache,
        "standardise_cache": standardise_cache,
        "households_cache": households_cache,
        "params:sources": config.sources,
        "params:checks": checks,
        "params:addresses": config.addresses,
        "params:linkage": config.linkage,
        "params:households": config.households,
        "params:pack": config.pack,
        "params:ranking": config.ranking,
    }


class Checkpoints(Protocol):
    """Where :func:`run_graph` keeps each stage's output frames, so a killed run can resume.

    ``load`` returns the frames saved for a stage (keyed by its ``outputs``), or None when
    the stage must be computed; ``save`` keeps them.
    :class:`tfident.checkpoints.StageCheckpoints` keeps them as Parquet files.
    """

    def load(self, stage: str) -> Mapping[str, pl.DataFrame] | None:
        """The frames saved for ``stage``, or None."""
        ...

    def save(self, stage: str, frames: Mapping[str, pl.DataFrame]) -> None:
        """Keep ``stage``'s frames."""
        ...


StartHook = Callable[[Mapping[str, Any], Mapping[str, float]], "Checkpoints | None"]
"""Called once, with the values so far and the timings, before the first checkpointed stage (once
the extracts are read and checked): the runner derives the run id there, records the run as
running and returns its checkpoints; raising :class:`StopRun` ends the run there."""

Execute = Callable[[Stage, tuple[Any, ...]], Any]
"""How a stage's function is called with its inputs: directly (:func:`call_stage`), or as a
Prefect task (``tfident.flows.monthly``)."""


def call_stage(stage: Stage, args: tuple[Any, ...]) -> Any:
    """Call a stage's function in this process."""
    return stage.func(*args)


def no_progress(stage: str, seconds: float | None) -> None:
    """A :data:`ProgressCallback` that shows nothing."""
    return None


@contextmanager
def timed(timings: dict[str, float], stage: str, progress: ProgressCallback = no_progress) -> Iterator[None]:
    """Time the block as ``stage`` into ``timings``, telling ``progress`` when it starts and ends."""
    progress(stage, None)
    started = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - started, 3)
    progress(stage, timings[stage])


def run_graph(
    values: Mapping[str, Any],
    *,
    execute: Execute = call_stage,
    checkpoints: Checkpoints | None = None,
    start: StartHook | None = None,
    progress: ProgressCallback = no_progress,
    timings: dict[str, float] | None = None,
    nodes: Sequence[Stage] | None = None,
) -> dict[str, Any]:
    """Run the stages (:data:`NODES` unless ``nodes``) in order on ``values`` (:func:`run_inputs`);
    return every value, the run's inputs and each stage's outputs, by name.

    With ``checkpoints`` (or those ``start`` returns), a stage whose frames ``checkpoints.load``
    returns is not computed, and a computed stage's frames are passed to ``checkpoints.save``;
    the result is the same either way. ``timings`` (seconds per stage) is filled in.
    """
    stages = NODES if nodes is None else nodes
    catalogue = dict(values)
    timings = {} if timings is None else timings
    started = start is None
    for stage in stages:
        if stage.only_with is not None and catalogue.get(stage.only_with) is None:
            catalogue.update(dict.fromkeys(stage.outputs))
            continue
        if stage.checkpointed and not started:
            started = True
            checkpoints = (start(catalogue, timings) if start is not None else None) or checkpoints
        with timed(timings, stage.name, progress):
            saved = checkpoints.load(stage.name) if checkpoints is not None and stage.checkpointed else None
            if saved is not None:
                outputs: tuple[Any, ...] = tuple(saved[name] for name in stage.outputs)
            else:
                result = execute(stage, tuple(catalogue[name] for name in stage.inputs))
                outputs = tuple(result) if len(stage.outputs) > 1 else (result,)
                if len(outputs) != len(stage.outputs):
                    raise ValueError(f"stage {stage.name} returned {len(outputs)} values for {stage.outputs}")
                if checkpoints is not None and stage.checkpointed:
                    checkpoints.save(stage.name, dict(zip(stage.outputs, outputs, strict=True)))
        catalogue.update(zip(stage.outputs, outputs, strict=True))
    return catalogue


def result_from(catalogue: Mapping[str, Any], timings: dict[str, float] | None = None) -> PipelineResult:
    """The run's frames for the store, from the values :func:`run_graph` returned."""
    return PipelineResult(
        as_of=catalogue["as_of"],
        batch=catalogue["batch"],
        records=catalogue["records"],
        links=catalogue["links"],
        persons=catalogue["persons"],
        households=catalogue["households"],
        evidence=catalogue["evidence"],
        household_criteria=catalogue["household_criteria"],
        candidates=catalogue["candidates"],
        identity_events=catalogue["identity_events"],
        timings={} if timings is None else timings,
        checks=catalogue.get("check_report"),
        link_cache=LinkCache(catalogue["link_profiles"], catalogue["link_pairs"], catalogue["link_clusters"])
        if catalogue.get("link_profiles") is not None
        else None,
        standardised=catalogue.get("standardised"),
        household_parses=catalogue.get("household_parses"),
        household_index=catalogue.get("household_index"),
    )


def execute_pipeline(
    values: Mapping[str, Any],
    *,
    execute: Execute = call_stage,
    start: StartHook | None = None,
    progress: ProgressCallback = no_progress,
) -> PipelineResult | None:
    """Run every stage on ``values`` (:func:`run_inputs`) and return the frames for the store, or
    None when ``start`` stopped the run (:class:`StopRun`). The plain run and the Prefect flow
    (``execute`` a task per stage) both come here.
    """
    timings: dict[str, float] = {}
    try:
        catalogue = run_graph(values, execute=execute, start=start, progress=progress, timings=timings)
    except StopRun:
        return None
    return result_from(catalogue, timings)


def run_pipeline(
    extracts_dir: Path,
    as_of: date,
    config: RunConfig,
    progress: ProgressCallback = no_progress,
    constraints: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
) -> PipelineResult:
    """Run every stage in order, without Prefect or checkpoints, and return the frames for the store.

    ``constraints`` are reviewers' link rulings (``tfident.link.CONSTRAINTS_SCHEMA``),
    and ``previous`` the previous run's identity index (:func:`identity_stage`), both
    read from the store by the caller.
    """
    timings: dict[str, float] = {}
    catalogue = run_graph(
        run_inputs(extracts_dir, as_of, config, constraints, previous), progress=progress, timings=timings
    )
    return result_from(catalogue, timings)


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
    previous run that ids are carried over from), same id.
    """
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
