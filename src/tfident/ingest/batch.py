"""Read a batch folder: find each source's file, read it, check it, validate its rows.

:func:`read_batch` works in two passes so that a batch with a bad file stops before
anything is returned (and so before the caller writes anything): first every file is
found, hashed, read and its header checked, raising the first file fault; only then
are rows validated, and row faults go to quarantine.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tfident.errors import ExtractError, MissingFile
from tfident.ingest.mapping import SourceMapping, SourcesMapping
from tfident.ingest.quality import SourceQuality, source_quality
from tfident.ingest.readers import FORMATS, RawTable, read_file
from tfident.ingest.sources import SOURCES, Source
from tfident.ingest.validate import QUARANTINE_SCHEMA, resolve_header, validate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileInfo:
    """One input file of a batch, for lineage: where it was, its hash, format and data rows."""

    path: str
    sha256: str
    format: str
    rows: int
    columns: tuple[str, ...] = ()
    """The file's columns as resolved: canonical names (after the renames), then any others as written."""
    unknown_columns: tuple[str, ...] = ()
    """Columns the contract does not define (not mapped either): reported by the data checks, not loaded."""


@dataclass
class Batch:
    """A batch as read: accepted rows per source, quarantined rows, quality and file lineage."""

    extracts: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    quality: dict[str, SourceQuality]
    files: dict[str, FileInfo] = field(default_factory=dict)


def empty_quarantine() -> pl.DataFrame:
    """A quarantine frame with no rows."""
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def find_file(folder: Path, source: Source, mapping: SourceMapping) -> Path | None:
    """The file of ``source`` in ``folder`` (``None`` when there is none).

    The file is ``mapping.file`` when configured and present, else ``<stem>.csv``,
    ``.xlsx`` or ``.parquet`` where the stem is that of ``mapping.file`` or the source
    name (file names compared without case). Two formats for one source is an error.
    """
    entries = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    if mapping.file is not None and mapping.file.lower() in entries:
        return entries[mapping.file.lower()]
    stem = Path(mapping.file).stem.lower() if mapping.file is not None else source.name
    found = [entries[f"{stem}{suffix}"] for suffix in FORMATS if f"{stem}{suffix}" in entries]
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise ExtractError(
            f"{folder}: {names} are both files for source {source.name!r}; expected one file per source",
            file=found[0].name,
        )
    return found[0] if found else None


@dataclass(frozen=True)
class _Read:
    """A file read and its header checked (first pass)."""

    source: Source
    mapping: SourceMapping
    path: Path
    format: str
    sha256: str
    table: RawTable
    names: list[str]


def _read_one(folder: Path, source: Source, mapping: SourceMapping) -> _Read | None:
    """Find, hash, read and header-check one source's file; ``None`` for an absent optional source."""
    path = find_file(folder, source, mapping)
    if path is None:
        if not source.required:
            return None
        expected = mapping.file or f"{source.name}.csv (or .xlsx, .parquet)"
        raise MissingFile(f"{folder}: required extract {expected} not found in the batch folder", file=expected)
    data = path.read_bytes()
    file_format = FORMATS[path.suffix.lower()]
    table = read_file(path, data, file_format, mapping.encoding, mapping.delimiter, mapping.layout)
    names = resolve_header(table.header, source, mapping, path.name, table.header_line)
    return _Read(source, mapping, path, file_format, hashlib.sha256(data).hexdigest(), table, names)


def read_batch(folder: Path, sources: SourcesMapping) -> Batch:
    """Read and validate every extract of the batch folder ``folder``.

    Raises an :class:`~tfident.errors.ExtractError` (missing, unreadable or truncated
    file, duplicate header, missing column) before returning anything.
    """
    if not folder.is_dir():
        raise MissingFile(f"{folder}: batch folder not found", file=str(folder))
    reads = [r for s in SOURCES.values() if (r := _read_one(folder, s, sources.for_source(s.name))) is not None]
    extracts: dict[str, pl.DataFrame] = {}
    quarantines: list[pl.DataFrame] = [empty_quarantine()]
    quality: dict[str, SourceQuality] = {}
    files: dict[str, FileInfo] = {}
    for r in reads:
        name, file = r.source.name, r.path.name
        checked = validate(r.table, r.names, r.source, r.mapping, file, excel=r.format == "xlsx")
        canonical = set(r.source.column_names)
        unknown = tuple(n for n in r.names if n not in canonical)
        # columns the contract does not define are reported (tfident.ingest.checks), never carried on
        extracts[name] = checked.accepted.select([*r.source.column_names, "line"])
        quarantines.append(checked.quarantine)
        quality[name] = source_quality(
            r.source, file, r.format, checked.accepted, checked.quarantine, checked.invalid_identifiers
        )
        files[name] = FileInfo(
            path=str(r.path),
            sha256=r.sha256,
            format=r.format,
            rows=r.table.frame.height,
            columns=tuple(n for n in r.names if n in canonical) + unknown,
            unknown_columns=unknown,
        )
        log.info(
            "ingest %s: %d rows read, %d accepted, %d quarantined",
            name,
            quality[name].rows_read,
            quality[name].rows_accepted,
            quality[name].rows_quarantined,
        )
    return Batch(extracts=extracts, quarantine=pl.concat(quarantines), quality=quality, files=files)
