"""Per-source mapping of agency layouts onto the canonical form (``config/sources.yaml``).

A batch in canonical form needs no mapping at all: every option has a default that
leaves canonical files unchanged. An agency that sends its own layout gets an entry
under ``sources:`` naming what differs (file name, column names, date format, text
encoding, field separator, header row, footer rows, worksheet, Excel serial dates,
code values). A wrong source name, column name, key or value is one ``ConfigError``
naming the file and the key.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from tfident.config import StrictModel, load_yaml, parse_model
from tfident.ingest.readers import AUTO, Layout
from tfident.ingest.sources import SOURCES, Column
from tfident.ingest.terms import normalise_term

DELIMITER_NAMES = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
"""Names accepted for ``delimiter:`` besides the character itself (YAML makes a tab awkward)."""

TERM_COLUMNS = frozenset({"term"})
"""Text columns holding a school term label, normalised to ``YYYY/YY-AUT|SPR|SUM`` (``ingest.terms``)."""


def header_key(name: str) -> str:
    """How a header name is compared: surrounding spaces dropped, case ignored."""
    return name.strip().lower()


def code_key(value: str) -> str:
    """How a code value is compared: surrounding spaces dropped, case ignored."""
    return value.strip().upper()


class SourceMapping(StrictModel):
    """How one agency's extract differs from the canonical layout."""

    file: str | None = Field(
        default=None, description="file name in the batch folder, if not <source>.csv|xlsx|parquet"
    )
    encoding: str = Field(default="utf-8", description="text encoding of a CSV file, e.g. cp1252")
    delimiter: str = Field(
        default=",", description="CSV field separator: one character, tab, or auto (sniffed from the header)"
    )
    header_row: int = Field(
        default=1, ge=1, description="1-based line (CSV) or row (XLSX) of the header; rows above it are skipped"
    )
    footer_rows: int = Field(default=0, ge=0, description="non-blank rows to drop at the end, e.g. a totals row")
    sheet: str | None = Field(default=None, min_length=1, description="XLSX worksheet name (default: the first)")
    date_format: list[str] = Field(default_factory=list, description="date formats tried before ISO, e.g. DD/MM/YYYY")
    excel_dates: bool = Field(default=False, description="accept Excel serial day numbers in a CSV's date columns")
    null_values: list[str] = Field(default_factory=list, description="values meaning blank, e.g. NULL or N/A")
    columns: dict[str, str] = Field(default_factory=dict, description="agency column name -> canonical column name")
    codes: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="canonical column -> {agency value: canonical code}"
    )

    @field_validator("date_format", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        """Allow a single format as a plain string."""
        return [value] if isinstance(value, str) else value

    @field_validator("delimiter")
    @classmethod
    def _one_character_or_auto(cls, value: str) -> str:
        """One separator character, a name such as ``tab``, or ``auto``."""
        named = DELIMITER_NAMES.get(value.strip().lower(), AUTO if value.strip().lower() == AUTO else None)
        if named is not None:
            return named
        if len(value) != 1 or value in {'"', "\r", "\n"}:
            raise ValueError(
                f"{value!r} is not a field separator: give one character (such as ; or |), tab, or auto "
                "(sniffed among , ; tab | from the header line)"
            )
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        """Reject an encoding Python does not know."""
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r} (try utf-8, cp1252 or latin-1)") from None
        return value

    @field_validator("file")
    @classmethod
    def _plain_file_name(cls, value: str | None) -> str | None:
        """Accept only a file name inside the batch folder, with a known suffix."""
        if value is None:
            return None
        path = Path(value)
        if path.name != value:
            raise ValueError(f"{value!r} must be a file name inside the batch folder, not a path")
        if path.suffix.lower() not in {".csv", ".xlsx", ".parquet"}:
            raise ValueError(f"{value!r} must end in .csv, .xlsx or .parquet")
        return value

    @property
    def layout(self) -> Layout:
        """Where the table is in the file, for the readers."""
        return Layout(header_row=self.header_row, footer_rows=self.footer_rows, sheet=self.sheet)

    def code_map(self, column: str, keep_case: bool = False) -> dict[str, str]:
        """The value remaps of ``column``, keyed by :func:`code_key`.

        The values are codes (:func:`code_key`) too, unless ``keep_case`` (a text
        column, whose canonical value is kept as written, spaces stripped).
        """
        return {
            code_key(agency): canonical.strip() if keep_case else code_key(canonical)
            for agency, canonical in self.codes.get(column, {}).items()
        }


REMAPPABLE_TYPES = ("code", "text")
"""Column types ``codes:`` may remap (a date, number or identifier has no value list to remap)."""


def _code_problems(where: str, column: Column, remaps: dict[str, str]) -> list[str]:
    """What is wrong with the ``codes:`` remaps of one canonical column (an empty list when nothing)."""
    if column.type not in REMAPPABLE_TYPES:
        return [f"{where}: {column.name} is a {column.type} column; `codes:` remaps code and text columns only"]
    problems = []
    for agency, canonical in remaps.items():
        if column.type == "code" and column.codes and code_key(canonical) not in column.codes:
            problems.append(
                f"{where}.{agency}: {canonical!r} is not a code of {column.name} (choices: {', '.join(column.codes)})"
            )
        if column.name in TERM_COLUMNS and normalise_term(canonical) is None:
            problems.append(
                f"{where}.{agency}: {canonical!r} is not a term label (expected e.g. 2025/26-AUT, 2025/26-SPR, "
                "2025/26-SUM)"
            )
    return problems


class SourcesMapping(StrictModel):
    """The whole of ``config/sources.yaml``: a mapping per source that needs one."""

    sources: dict[str, SourceMapping] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_names(self) -> SourcesMapping:
        """Every source and canonical column named must exist in the data contract."""
        problems = []
        for name, mapping in self.sources.items():
            if name not in SOURCES:
                problems.append(f"sources.{name}: unknown source (choices: {', '.join(SOURCES)})")
                continue
            canonical = SOURCES[name].column_names
            targets: dict[str, str] = {}
            for agency, target in mapping.columns.items():
                if target not in canonical:
                    problems.append(f"sources.{name}.columns.{agency}: {target!r} is not a column of {name}")
                if target in targets:
                    problems.append(
                        f"sources.{name}.columns.{agency}: {target!r} is already mapped from {targets[target]!r}"
                    )
                targets[target] = agency
            for column, remaps in mapping.codes.items():
                if column not in canonical:
                    problems.append(f"sources.{name}.codes.{column}: not a column of {name}")
                    continue
                problems.extend(_code_problems(f"sources.{name}.codes.{column}", SOURCES[name].column(column), remaps))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def for_source(self, name: str) -> SourceMapping:
        """The mapping of source ``name`` (the canonical defaults when it has none)."""
        return self.sources.get(name, SourceMapping())


def load_sources_mapping(path: Path) -> SourcesMapping:
    """Load ``config/sources.yaml``; an empty file means every source is canonical."""
    data = load_yaml(path)
    return parse_model({} if data is None else data, SourcesMapping, str(path))
