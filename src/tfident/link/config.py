"""The linkage configuration (``config/linkage.yaml``): blocking, thresholds, guards, model.

Person linkage is probabilistic (Fellegi-Sunter, scored by Splink): the comparisons and
their m/u probabilities live in the frozen model file that ``model`` names (trained by
``tfident train``); this file says which candidate pairs are scored (``blocking_rules``),
where the match and uncertain bands start (``thresholds``) and which merges clustering
refuses (``guards``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tfident.config import StrictModel, config_path, load_model
from tfident.link.model import read_model

KEY_COLUMNS: tuple[str, ...] = (
    "upn",
    "nino",
    "nhs_number",
    "pnc_id",
    "forename_std",
    "forename_first",
    "forename_canonical",
    "forename_metaphone",
    "forename_initial",
    "surname_std",
    "surname_metaphone",
    "date_of_birth",
    "dob_transposed",
    "dob_year",
    "dob_month",
    "dob_day",
    "uprn_matched",
    "address_key",
    "postcode_std",
    "sex",
)
"""Columns a blocking rule may block on."""

_SPARK_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|spark://\S+|yarn|k8s://\S+")
"""The Spark master URLs ``spark_master`` accepts."""


class BlockingRule(StrictModel):
    """Candidate pairs for the model to score: profiles equal on every ``block_on`` column.

    A key ``left=right`` compares the left record's ``left`` with the right record's
    ``right`` (``dob_transposed=date_of_birth``).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    block_on: tuple[str, ...] = Field(min_length=1)
    description: str = ""
    max_block: int | None = Field(default=None, ge=1)
    """This rule's own cap on profiles sharing a key value (else ``blocking_max_block``)."""

    @field_validator("block_on")
    @classmethod
    def _known_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for key in keys:
            for part in key.split("="):
                if part not in KEY_COLUMNS:
                    raise ValueError(f"unknown blocking column {part!r}; expected one of {', '.join(KEY_COLUMNS)}")
        return keys


class Guards(StrictModel):
    """Checks made before two clusters of records are merged into one person."""

    conflicting_identifiers: tuple[Literal["upn", "nino", "nhs_number", "pnc_id"], ...] = (
        "upn",
        "nino",
        "nhs_number",
    )
    """Never merge two clusters holding different values of one of these identifiers, unless
    the pair is strong without them (``identifier_override_weight``)."""
    identifier_override_weight: float | None = None
    """A pair whose match weight without the identifier comparisons (the prior and every
    other field) reaches this may merge clusters holding different values of a
    ``conflicting_identifiers`` identifier: the disagreeing identifier then counts as the
    model's strong negative weight (already in the pair's score), not as a veto (a
    mis-keyed or temporary UPN). The dob and forename guards (twins) still apply. None: a
    disagreeing identifier always vetoes."""
    same_identity_overrides_identifiers: bool = True
    """A pair of records that agree exactly on first forename, surname, date of birth and
    address (the same matched UPRN, or the same normalised address text where neither has
    one), and do not carry opposite sexes, may merge clusters holding different values of a
    ``conflicting_identifiers`` identifier, whatever its match weight: two people cannot
    share all of those, so the disagreeing identifier is a mis-keyed, temporary or borrowed
    one. The dob and forename guards (twins) still apply."""
    undated_namesakes_share_ids: bool = False
    """Two clusters neither of which holds a date of birth, holding the same full names (first
    forename and surname) and sharing an address (a matched UPRN, or the postcode of records
    without one) may merge whatever ``conflicting_identifiers`` values they hold: one worker's
    tax forms under different numbers (pseudopeople gives a worker with no SSN of their own a
    different number on each employer's form). The ``dob`` guard still decides when either
    meets a record carrying a date of birth. See
    :func:`tfident.link.clustering._one_undated_name`."""
    same_name_identifier_errors: int = Field(default=2, ge=1, le=3)
    """Keying errors (substitutions, transpositions; same length, eight characters or more)
    tolerated between two clusters' values of a ``conflicting_identifiers`` identifier when the
    pair merging them is two records with the same first forename and surname, for an identifier
    with no check character (NINO, PNC id: a UPN or NHS number keyed wrong seldom passes its
    check, and two valid ones two errors apart are two numbers issued in sequence); one otherwise.
    Twins differ in forename, and a father and his namesake son carry unrelated numbers, so
    only a number keyed or read twice wrong (``220263447`` / ``Z202G3447``) meets it; the
    ``dob`` and ``forename`` guards still apply. 1: one keying error whatever the names."""
    one_record_per_slot: bool = True
    """Never merge two clusters that both hold a record of one slot of a source: a slot is what one
    person fills once in it (``person_slot`` in ``tfident/ingest/sources.yaml``: one attendance row
    per school and term, one school census row per school and census day), so the two records are
    two people, whatever else agrees or overrides (twins, a record carrying a twin's UPN). See
    :mod:`tfident.link.slots`."""
    dob: bool = True
    """Never merge two clusters none of whose dates of birth are compatible."""
    dob_copied_from_household: bool = True
    """A record whose date of birth is exactly that of a record of another person at its
    address (a full forename that is no form of its own: not compatible, not a middle name,
    not swapped) may carry a household member's date of birth, copied by mistake. When
    every date of birth one cluster holds is such a copy, and the other cluster records
    none of its dates of birth at the addresses of those copies, the ``dob`` guard does
    not refuse the merge (the model's date of birth comparison still weighs against the
    pair). A father and his namesake son at one address stay apart: the father's date of
    birth is recorded at that address. See :func:`tfident.link.clustering.copied_dobs`."""
    dob_copied_seen_on_person: bool = True
    """With ``dob_copied_from_household``: the household member may be seen as a person, not only
    as a record at the address: a record's date of birth is a copy too when another person (a
    cluster, its every full forename another person's) has a record at the record's address and
    holds that date of birth on any of its records (a tax form at the address, a Social Security
    record with no address; their census record missing). The components clustering split that
    hold such a record are clustered again with it marked (and never reused by the next month:
    the mark depends on another component). See
    :func:`tfident.link.clustering.copied_dobs_by_person`."""
    forename: bool = True
    """Never merge two clusters none of whose full forenames are compatible; and never merge
    two clusters sharing a date of birth and an address whose principal forenames are
    distinct names, whatever sexes they carry (twins; see ``tfident.link.clustering``)."""
    forename_similarity: float = Field(default=0.85, ge=0.0, le=1.0)
    """Jaro-Winkler similarity at or above which two forenames count as compatible."""
    ambiguous_margin: float | None = Field(default=None, ge=0.0)
    """A weak record (no full forename or no date of birth) whose partners could not all be
    one person links to none of them, unless its best partner's match weight exceeds that
    of every partner it could not be one person with by at least this many (bits): then it
    links to its best partner and those it could be one person with. None: never."""
    weak_record_bridges_dob: bool = False
    """With ``ambiguous_margin``: a weak record with no date of birth keeps its edge to a partner
    outweighed by that margin, and the edge merges past the ``dob`` guard, instead of being
    dropped, when every stronger partner it could not be one person with outweighs it by the
    margin, carries no opposite principal sex, and is one name with the record (as the
    partner is), and the partner carries no identifier, each of the two a profile of one
    record: the record bridges two dates of birth of one person (a tax form whose SSN agrees
    with a Social Security record and whose name and address agree with a census record giving
    a date of birth no typo explains). Every other guard still applies. See
    :func:`tfident.link.clustering._bridges`."""


class Thresholds(StrictModel):
    """Match probability bands: ``>= match`` links; ``[uncertain, match)`` is kept for clerical review."""

    match: float = Field(default=0.95, gt=0.0, lt=1.0)
    uncertain: float = Field(default=0.5, gt=0.0, lt=1.0)
    second_pass: float | None = Field(default=None, gt=0.0, lt=1.0)
    """Pairs in ``[second_pass, match)`` link after clustering (match_rule ``second_pass``) when
    every guard accepts the two whole persons they join and neither person has another such
    candidate it could not be one person with (:func:`tfident.link.clustering.second_pass`).
    At least ``uncertain`` (only pairs at or above it are kept); None: no second pass."""
    second_pass_bridge_addresses: bool = True
    """In the second pass, a pair of records at two addresses that disagree (the address
    comparison's else level) or at two dwellings of one postcode (two matched UPRNs) joins
    only when another person has records at both addresses (a household that moved: collective
    evidence): namesakes in two households are what the guards cannot tell apart."""
    second_pass_same_dob: bool = True
    """In the second pass, two persons that both hold dates of birth must share one exactly:
    the dob guard tolerates a typo (one digit, one year, day and month transposed) between
    records the model links, but a band pair whose persons' dates of birth only nearly agree
    is most often two namesakes (at a million synthetic records, most of its false links)."""

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.uncertain > self.match:
            raise ValueError("thresholds.uncertain must not exceed thresholds.match")
        if self.second_pass is not None and not self.uncertain <= self.second_pass <= self.match:
            raise ValueError("thresholds.second_pass must lie between thresholds.uncertain and thresholds.match")
        return self


class LinkageConfig(StrictModel):
    """How person records are linked into persons."""

    version: str
    """Version of this configuration file (the run stores the model's version)."""
    method: Literal["splink"] = "splink"
    backend: Literal["duckdb", "spark"] = "duckdb"
    """Splink backend that scores the pairs: ``duckdb`` (in process, the default) or ``spark``
    (Splink's SparkAPI; needs the ``spark`` extra and Java 17 or newer). Both give the same
    links; the backend is hashed with the rest of the configuration."""
    spark_master: str = Field(default="local[2]", exclude=True)
    """``backend: spark``: the master URL of the Spark session tfident starts (``local``,
    ``local[N]``, ``local[*]``, ``spark://host:port``, ``yarn``, ``k8s://...``; Spark Connect
    ``sc://`` is not supported: Splink registers Java functions). A session already running
    in the process is reused as it is. Not hashed, nor stored with the run: where linkage
    runs does not change its results."""
    spark_config: dict[str, str] = Field(default_factory=dict, exclude=True)
    """``backend: spark``: Spark settings for that session (``spark.driver.memory: 4g``...),
    over tfident's own (UTC; for a local master ``spark.sql.shuffle.partitions`` twice its
    cores, no web UI, the driver on loopback). Not hashed, nor stored with the run (a
    setting may hold a credential)."""
    spark_checkpoint_dir: str = Field(default="", exclude=True)
    """``backend: spark``: where Splink writes its intermediate tables (Parquet). Each
    linkage writes a folder of its own under it and deletes it when done (the tables hold
    personal data). Empty: a private temporary folder, which only a local master can use;
    a cluster needs a folder every executor reaches (``hdfs://...``). Not hashed."""
    model: str = "models/person_model.json"
    """The trained model, relative to the configuration folder (or absolute)."""
    config_dir: str = Field(default="", exclude=True)
    """The folder ``model`` is relative to (set by :func:`load_linkage_config`; not hashed)."""
    model_version: str = ""
    """Filled in by :func:`load_linkage_config` from the model file; stored with each run."""
    model_sha256: str = ""
    """SHA-256 of the model file, so a retrained model changes the run id."""
    model_data: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)
    """The loaded model file (filled in by :func:`load_linkage_config`; hashed through ``model_sha256``)."""
    thresholds: Thresholds = Thresholds()
    blocking_rules: tuple[BlockingRule, ...] = Field(min_length=1)
    blocking_max_block: int | None = Field(default=None, ge=1)
    """A blocking rule skips a key value shared by more profiles than this (a placeholder
    postcode, a hostel's address): ``None`` caps nothing (see ``tfident.link.blocking``)."""
    guards: Guards = Guards()
    identical_probability: float = Field(default=0.995, gt=0.0, le=1.0)
    """Probability of the link between records identical in every linkage field."""
    em_max_pairs: int = Field(default=2_000_000, ge=1000)
    """Training only: cap on the pairs random sampling draws to estimate u."""
    seed: int = 1
    """Training only: seed of the random sampling of u."""

    @field_validator("spark_master")
    @classmethod
    def _spark_master(cls, master: str) -> str:
        master = master.strip()
        if master.startswith("sc://"):
            raise ValueError("Spark Connect (sc://) is not supported: Splink needs a classic Spark session")
        if not _SPARK_MASTER.fullmatch(master):
            raise ValueError(
                f"not a Spark master URL: {master!r}; expected local, local[N], local[*], spark://host:port, yarn"
                " or k8s://..."
            )
        return master

    @field_validator("spark_config", mode="before")
    @classmethod
    def _spark_config(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        out = {}
        for key, value in values.items():
            if not isinstance(key, str) or not key.startswith("spark."):
                raise ValueError(f"Spark setting names start with 'spark.': {key!r}")
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, int | float):
                value = str(value)
            out[key] = value
        return out

    @model_validator(mode="after")
    def _spark_cluster_needs_checkpoint_dir(self) -> LinkageConfig:
        if self.backend == "spark" and not self.spark_local and not self.spark_checkpoint_dir:
            raise ValueError(
                f"spark_checkpoint_dir is required when spark_master is not local ({self.spark_master}):"
                " a folder every executor can reach"
            )
        return self

    @property
    def spark_local(self) -> bool:
        """Whether ``spark_master`` runs Spark inside this machine (``local...``)."""
        return self.spark_master.startswith("local")

    @model_validator(mode="after")
    def _unique_names(self) -> LinkageConfig:
        names = [r.name for r in self.blocking_rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"blocking rule names must be unique: {', '.join(duplicates)}")
        return self

    def model_path(self) -> Path:
        """Where the model file is."""
        path = Path(self.model)
        if path.is_absolute():
            return path
        if self.config_dir:
            beside = Path(self.config_dir) / path
            if beside.exists():
                return beside
        return config_path(path)


def load_linkage_config(path: Path | None = None, *, with_model: bool = True) -> LinkageConfig:
    """Load and validate ``linkage.yaml`` from the config folders (or ``path``), with the model's version and hash.

    A relative model path is looked up beside the linkage file first, then in the config
    folders (so a council's ``linkage.yaml`` can keep the shipped model).
    """
    import hashlib

    path = path or config_path("linkage.yaml")
    config = load_model(path, LinkageConfig).model_copy(update={"config_dir": str(path.parent)})
    if not with_model:
        return config
    model_path = config.model_path()
    data = read_model(model_path)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    return config.model_copy(update={"model_version": str(data["version"]), "model_sha256": digest, "model_data": data})
