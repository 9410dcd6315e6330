"""The contract's sources, one :class:`Source` each: data contract sections 1 to 3, as data.

Everything tfident knows about an extract is in ``sources.yaml`` beside this module,
checked here when tfident is imported: its columns, their types and codes, which the
header must have and which every row must fill, which columns are identifiers, which
date shows a person at their address (``evidence_date``), how its addresses rank for
residence, and what the data checks expect of it. Ingest reads and validates against
these descriptions, ``schemas/*.json`` is generated from them, standardise takes each
record's evidence date from them, households their residence ranking, criteria their
column types and codes, and the synthetic generator writes them. A new optional source
is one new entry in ``sources.yaml``.

>>> SOURCES["benefits"].evidence_date.open_until
'claim_end'
>>> SOURCES["attendance"].column("term_end").end_of
'term_start'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BeforeValidator, Field, model_validator

from tfident.config import StrictModel, load_yaml, parse_model
from tfident.ingest.identifiers import IDENTIFIER_EXPRS

ColumnType = Literal["text", "date", "integer", "code", "identifier"]

_POLARS_TYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "code": pl.String(),
    "date": pl.Date(),
    "integer": pl.Int64(),
    "identifier": pl.String(),
}


class Column(StrictModel):
    """One canonical column of an extract (the keys are explained at the top of ``sources.yaml``)."""

    name: str
    type: ColumnType
    in_header: bool = False
    """The column must be present in the file's header."""
    required: bool = False
    """A value is required on every row."""
    codes: tuple[str, ...] = ()
    """Allowed values of a ``code`` column (upper case)."""
    description: str = ""
    expected: bool = False
    """A council expects the column although the header need not have it (``expected_columns`` check)."""
    event: bool = False
    """A date of something that has happened: never after the batch date."""
    end_of: str | None = None
    """The end of the period begun by that column: may lie after the batch date; before its start is a fault."""
    added_in: str | None = None
    """The contract version that added the column to a source already in the contract (``"1.2"``): a
    batch made to the earlier version lacks it, and the synthetic generator writes it only when asked."""

    @property
    def polars_type(self) -> pl.DataType:
        """The polars type of the column in an accepted frame (``uprn`` is Int64, other identifiers String)."""
        return pl.Int64() if self.name == "uprn" else _POLARS_TYPES[self.type]

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        if self.codes and self.type != "code":
            raise ValueError(f"column {self.name!r}: codes are for code columns, not {self.type}")
        if (self.event or self.end_of) and self.type != "date":
            raise ValueError(f"column {self.name!r}: event and end_of are for date columns, not {self.type}")
        if self.type == "identifier" and self.name != "uprn" and self.name not in IDENTIFIER_EXPRS:
            known = ", ".join(["uprn", *IDENTIFIER_EXPRS])
            raise ValueError(
                f"column {self.name!r}: no identifier of that name (tfident.ingest.identifiers knows {known})"
            )
        return self


def _evidence_shorthand(value: Any) -> Any:
    """``census_date`` and ``[outcome_date, offence_date]`` stand for ``{first_of: [...]}``."""
    if isinstance(value, str):
        return {"first_of": [value]}
    if isinstance(value, list):
        return {"first_of": value}
    return value


class EvidenceDate(StrictModel):
    """When a record shows its person at its address: the first of ``first_of`` that is not blank, or, for a
    record open until ``open_until`` (a claim, an episode), that end date once it has passed and the batch date
    while the record is open. Either way never after the batch date.
    """

    first_of: tuple[str, ...] = ()
    open_until: str | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> EvidenceDate:
        if bool(self.first_of) == (self.open_until is not None):
            raise ValueError("give either a date column (or a list of them) or {open_until: END_COLUMN}")
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the evidence date is read from."""
        return (self.open_until,) if self.open_until is not None else self.first_of


class Source(StrictModel):
    """One agency extract: its file stem, whether a batch needs it, and its columns in contract order."""

    name: str
    agency: str
    required: bool
    person: bool
    columns: tuple[Column, ...]
    evidence_date: Annotated[EvidenceDate | None, BeforeValidator(_evidence_shorthand)] = None
    residence_priority: int | None = None
    """Person sources: 1 for the source whose address most reliably shows where someone lives now."""
    missing_school_means: str | None = None
    """Sources sent school by school: what a school that sent no rows means (``school_coverage`` check)."""
    sender: str | None = None
    """The sender when one provides several sources (``schools``): their quality feedback is one workbook."""
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Data-check settings that follow from the source itself (``tfident.ingest.checks.SourceChecks`` keys)."""
    person_slot: tuple[str, ...] = ()
    """Person sources: columns that together name a slot one person fills at most once in the source
    (a school and a term: one pupil has one attendance row a term), so two records of one slot are two
    people (the linkage guard ``one_record_per_slot``). Empty: none."""
    added_in: str | None = None
    """The contract version that added the source (``"1.2"``); None for the sources of version 1. Always optional:
    a batch made to an earlier version is valid without it, and the synthetic generator writes it only when asked."""

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The canonical column names, in contract order."""
        return tuple(c.name for c in self.columns)

    @property
    def header_columns(self) -> tuple[str, ...]:
        """Columns the file's header must have."""
        return tuple(c.name for c in self.columns if c.in_header)

    @property
    def identifier_columns(self) -> tuple[str, ...]:
        """Identifier columns (``uprn`` included), in contract order."""
        return tuple(c.name for c in self.columns if c.type == "identifier")

    @property
    def person_identifiers(self) -> tuple[str, ...]:
        """Identifiers of the person (``upn``, ``nino`` ...): the identifier columns but ``uprn``."""
        return tuple(name for name in self.identifier_columns if name != "uprn")

    @property
    def expected_columns(self) -> tuple[str, ...]:
        """Columns a council expects beyond those the header must have (``expected_columns`` check)."""
        return tuple(c.name for c in self.columns if c.expected)

    @property
    def event_dates(self) -> tuple[str, ...]:
        """Dates of something that has happened: none may be after the batch date."""
        return tuple(c.name for c in self.columns if c.event)

    @property
    def end_dates(self) -> tuple[str, ...]:
        """Dates that may lie after the batch date (a term in progress, a claim's planned end)."""
        return tuple(c.name for c in self.columns if c.end_of)

    @property
    def date_pairs(self) -> tuple[tuple[str, str], ...]:
        """``(start, end)`` columns where an end before its start is a row fault."""
        return tuple((c.end_of, c.name) for c in self.columns if c.end_of)

    @property
    def per_school(self) -> bool:
        """Whether the source is sent school by school (each row names its ``school_urn``)."""
        return self.missing_school_means is not None

    @model_validator(mode="after")
    def _consistent(self) -> Source:
        names = [c.name for c in self.columns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"column {', '.join(repeated)} given twice")

        def date_column(name: str, key: str) -> None:
            if name not in names:
                raise ValueError(f"{key}: {self.name} has no column {name!r}; choose from {', '.join(names)}")
            if self.column(name).type != "date":
                raise ValueError(f"{key}: column {name!r} is of type {self.column(name).type!r}, not a date")

        for column in self.columns:
            if column.end_of is not None:
                date_column(column.end_of, f"column {column.name!r} end_of")
        if self.person:
            if self.evidence_date is None or self.residence_priority is None:
                raise ValueError("a person source needs an evidence_date and a residence_priority")
            for name in self.evidence_date.columns:
                date_column(name, "evidence_date")
        elif self.evidence_date is not None or self.residence_priority is not None:
            raise ValueError("evidence_date and residence_priority are for person sources")
        if self.added_in is not None and self.required:
            raise ValueError("a source added to the contract later (added_in) cannot be required")
        if self.per_school and "school_urn" not in names:
            raise ValueError("missing_school_means is for sources whose rows name their school_urn")
        if self.person_slot and not self.person:
            raise ValueError("person_slot is for person sources")
        unknown = [name for name in self.person_slot if name not in names]
        if unknown:
            raise ValueError(f"person_slot: {self.name} has no column {', '.join(map(repr, unknown))}")
        return self


class SourcesFile(StrictModel):
    """``sources.yaml``: the person columns and every source, in the order batches are read."""

    person_columns: tuple[Column, ...]
    sources: dict[str, Source]

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data: Any) -> Any:
        """Give each source its name and, for person sources, the person columns before its own."""
        if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
            return data
        person = data.get("person_columns") or []
        sources: dict[str, Any] = {}
        for name, body in data["sources"].items():
            if isinstance(body, dict):
                own = body.get("columns") or []
                body = {**body, "name": name, "columns": [*person, *own] if body.get("person") else own}
            sources[name] = body
        return {**data, "sources": sources}


def read_sources_file(path: Path | None = None) -> SourcesFile:
    """Read and check ``path`` (default: the ``sources.yaml`` shipped beside this module).

    A bad description is one :class:`~tfident.errors.ConfigError` naming the file and every bad key.
    """
    if path is None:
        with resources.as_file(resources.files("tfident.ingest").joinpath("sources.yaml")) as shipped:
            return read_sources_file(shipped)
    return parse_model(load_yaml(path), SourcesFile, str(path))


_SHIPPED = read_sources_file()

SOURCES: dict[str, Source] = dict(_SHIPPED.sources)
"""Every source of the contract, by name, in the order a batch is read."""

PERSON_COLUMNS: tuple[Column, ...] = _SHIPPED.person_columns
"""The columns every person source begins with (contract section 2)."""

PERSON_SOURCES: tuple[str, ...] = tuple(name for name, s in SOURCES.items() if s.person)
"""The sources whose rows are people, in :data:`SOURCES` order."""

VERSION_1_SOURCES: tuple[str, ...] = tuple(name for name, s in SOURCES.items() if s.added_in is None)
"""The sources of contract version 1 (every source a batch made before version 1.2 can have)."""

OPEN_RECORD_SOURCES: tuple[str, ...] = tuple(
    name for name, s in SOURCES.items() if s.evidence_date is not None and s.evidence_date.open_until is not None
)
"""Sources whose open records (a live claim, an open episode) are dated the batch date while open."""
