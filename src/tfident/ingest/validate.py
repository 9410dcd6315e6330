"""Header checks and row validation of one extract, as polars expressions.

:func:`resolve_header` maps the file's header onto canonical column names (applying
the source's renames) and raises the header's file faults. :func:`validate` types
every canonical column and finds each row's first fault; faulty rows go to
quarantine, the rest are accepted. Identifiers that fail their format or check are
not faults: they become null and are counted (see :func:`invalid_identifier_counts`).

The checks, in the order a row's first fault is reported: ragged row, missing
``record_id``, duplicate ``record_id`` (the first occurrence in the file is kept),
then each canonical column in contract order (a missing required value, then an
unparseable or out-of-range date, a code not allowed, a value that is not a
non-negative integer, an invalid or duplicate gazetteer UPRN), then the checks across
columns (attendance sessions, an end date before its start date).

``codes:`` remaps of ``config/sources.yaml`` apply to every code and text column they
are configured for; a term label (``term``) is then normalised to the contract's
``YYYY/YY-AUT|SPR|SUM`` (:mod:`tfident.ingest.terms`), and one that is not recognised
is a row fault.

No message raised here quotes a cell: header names are quoted only when they are a
canonical column name or a name configured in ``config/sources.yaml`` (a header row
that is really a child's record must not reach a log); other columns are named by
position. Quarantine *reasons* are fixed phrases; the raw value is kept in the
quarantine table's ``value`` column, which is stored personal data, not a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from tfident.errors import DuplicateHeader, MissingColumn
from tfident.ingest.dates import EARLIEST, LATEST, OUT_OF_RANGE, date_expr, date_fault_expr
from tfident.ingest.identifiers import IDENTIFIER_EXPRS, uprn_expr
from tfident.ingest.mapping import TERM_COLUMNS, SourceMapping, header_key
from tfident.ingest.readers import RawTable, column_name
from tfident.ingest.sources import Column, Source
from tfident.ingest.terms import term_map

RAGGED = "ragged row"
MISSING_RECORD_ID = "missing record_id"
DUPLICATE_RECORD_ID = "duplicate record_id"
MISSING_VALUE = "missing value"
INVALID_CODE = "code not allowed"
NOT_INTEGER = "not an integer"
NEGATIVE = "negative integer"
SESSIONS_EXCEED = "sessions exceed possible"
END_BEFORE_START = "end before start"
INVALID_UPRN = "invalid uprn"
DUPLICATE_UPRN = "duplicate uprn"
UNRECOGNISED_TERM = "term label not recognised"

RESERVED = ("line", "fields")
"""Names the reader uses itself; an extra file column with one of them is prefixed ``extra_``."""

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "file": pl.String(),
    "line": pl.Int64(),
    "record_id": pl.String(),
    "field": pl.String(),
    "value": pl.String(),
    "reason": pl.String(),
}


def _raw(name: str) -> str:
    return f"__raw__{name}"


def _val(name: str) -> str:
    return f"__val__{name}"


# --- header -----------------------------------------------------------------------


def _unique(name: str, used: set[str]) -> str:
    """``name``, suffixed with ``_`` until it is not in ``used``."""
    while name in used:
        name += "_"
    return name


def _where(file: str, line: int) -> str:
    """``line N`` of a CSV, ``row N`` of a workbook."""
    return f"{'row' if file.lower().endswith('.xlsx') else 'line'} {line}"


def _position_list(positions: Sequence[int]) -> str:
    """``column 3`` or ``columns 3, 7`` (1-based positions)."""
    numbers = ", ".join(str(p + 1) for p in positions)
    return f"column{'s' if len(positions) > 1 else ''} {numbers}"


def resolve_header(
    header: Sequence[str], source: Source, mapping: SourceMapping, file: str, line: int = 1
) -> list[str]:
    """The column name for each header position: canonical where it maps to one, else the header's.

    Header names are compared without surrounding spaces and case. Raises
    :class:`MissingColumn` when no name in the header is known (the line is not a
    header: a file without one, or a title block above it) or when a column the
    contract requires in the header is absent after the renames, and
    :class:`DuplicateHeader` when two columns have the same name or map onto the same
    canonical column. ``line`` is where the header was read, for the messages.

    A header name is quoted in a message only when it is known (a canonical column or
    a name configured under ``columns:``): an unknown "name" may be a cell of a data
    row read as the header, so it is named by its position instead.
    """
    renames = {header_key(agency): canonical for agency, canonical in mapping.columns.items()}
    canonical = {header_key(name): name for name in source.column_names}
    targets: list[str | None] = []
    for written in header:
        key = header_key(written)
        targets.append((renames.get(key) or canonical.get(key)) if key else None)
    required = list(source.header_columns)
    fields = sum(1 for written in header if written.strip())
    if not any(targets):
        raise MissingColumn(
            f"{file}: {_where(file, line)} does not look like a header row: none of its {fields} non-blank fields is a "
            f"column name of {source.name} (required: {', '.join(repr(m) for m in required)}); the fields are "
            "not quoted, as they may be personal data. Expected the header on that line: if the file has no "
            "header row, ask the agency for one; if a title block comes first, set `header_row:`, and if the "
            "agency names the columns its own way, map them under `columns:`, for this source in "
            "config/sources.yaml",
            file=file,
        )
    seen: dict[str, int] = {}
    for position, (written, target) in enumerate(zip(header, targets, strict=True)):
        key = header_key(written)
        if not key:
            continue
        if key in seen:
            first = seen[key]
            if target is not None or key in renames:
                message = (
                    f"{file}: the header names column {written.strip()!r} twice ({header[first].strip()!r} and "
                    f"{written.strip()!r}, columns {first + 1} and {position + 1})"
                )
            else:
                message = (
                    f"{file}: the header ({_where(file, line)}) gives columns {first + 1} and {position + 1} the same "
                    "name (not quoted: it is not a column name tfident knows)"
                )
            raise DuplicateHeader(message + "; expected each column once", file=file)
        seen[key] = position
    by_target: dict[str, str] = {}
    for written, target in zip(header, targets, strict=True):
        if target is None:
            continue
        if target in by_target:
            raise DuplicateHeader(
                f"{file}: columns {by_target[target]!r} and {written.strip()!r} both give column {target!r} "
                "(check the renames in config/sources.yaml); expected one column each",
                file=file,
            )
        by_target[target] = written.strip()
    missing = [name for name in required if name not in by_target]
    if missing:
        known = [repr(written.strip()) for written, target in zip(header, targets, strict=True) if target]
        unknown = [p for p, (w, t) in enumerate(zip(header, targets, strict=True)) if t is None and w.strip()]
        others = f" and {_position_list(unknown)}, not column names tfident knows (not quoted)" if unknown else ""
        plural = "s" if len(missing) > 1 else ""
        raise MissingColumn(
            f"{file}: missing required column{plural} {', '.join(repr(m) for m in missing)} "
            f"(after the renames in config/sources.yaml); columns found: {', '.join(known)}{others}",
            file=file,
        )
    used = set(source.column_names) | set(RESERVED)
    names: list[str] = []
    for position, (written, target) in enumerate(zip(header, targets, strict=True)):
        if target is not None:
            names.append(target)
            continue
        extra = written.strip() or f"column_{position + 1}"
        extra = f"extra_{extra}" if extra in RESERVED else extra
        extra = _unique(extra, used)
        used.add(extra)
        names.append(extra)
    return names


# --- rows -------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One fault check: the field it concerns, the reason (null when fine) and the value shown."""

    field: str | None
    reason: pl.Expr
    value: pl.Expr


def _clean(name: str, dtype: pl.DataType, null_values: Sequence[str]) -> pl.Expr:
    """The cleaned raw value of a column: text stripped, blank and configured nulls -> null."""
    column = pl.col(name)
    if dtype == pl.Date:
        return column
    text = column.cast(pl.String).str.strip_chars()
    blank = text == ""
    if null_values:
        blank = blank | text.str.to_uppercase().is_in([v.strip().upper() for v in null_values])
    return pl.when(blank).then(None).otherwise(text)


def _typed(column: Column, raw: pl.Expr, raw_dtype: pl.DataType, mapping: SourceMapping, serials: bool) -> pl.Expr:
    """The typed, normalised value of a canonical column."""
    if column.type == "text":
        text_map = mapping.code_map(column.name, keep_case=True)
        if not text_map:
            return raw
        return raw.str.to_uppercase().replace_strict(text_map, default=raw, return_dtype=pl.String)
    if column.type == "code":
        code = raw.str.to_uppercase()
        code_map = mapping.code_map(column.name)
        return code.replace(code_map) if code_map else code
    if column.type == "date":
        return raw if raw_dtype == pl.Date else date_expr(raw, mapping.date_format, serials)
    if column.type == "integer":
        return raw.str.extract(r"^\+?(-?\d+)(?:\.0+)?$", 1).cast(pl.Int64, strict=False)
    if column.name == "uprn":
        return uprn_expr(raw)
    return IDENTIFIER_EXPRS[column.name](raw)


def _ragged(width: int) -> pl.Expr:
    """Whether a CSV row has a different number of fields from the header."""
    return pl.col("fields").is_not_null() & (pl.col("fields") != width)


def _later_duplicate(key: pl.Expr, width: int) -> pl.Expr:
    """Whether ``key`` is non-null and repeats that of an earlier row (ragged rows not counted)."""
    kept = pl.when(~_ragged(width)).then(key)
    return kept.is_not_null() & ~kept.is_first_distinct()


def _type_fault(column: Column, raw_dtype: pl.DataType, gazetteer: bool, width: int) -> pl.Expr:
    """The reason a non-blank value of a canonical column is a row fault (null when fine)."""
    raw, value = pl.col(_raw(column.name)), pl.col(_val(column.name))
    none = pl.lit(None, dtype=pl.String)
    if column.name in TERM_COLUMNS:
        return pl.when(raw.is_not_null() & value.is_null()).then(pl.lit(UNRECOGNISED_TERM)).otherwise(none)
    if column.type == "code" and column.codes:
        allowed = value.is_in(list(column.codes))
        return pl.when(value.is_not_null() & ~allowed).then(pl.lit(INVALID_CODE)).otherwise(none)
    if column.type == "date":
        if raw_dtype == pl.Date:
            out = (value < pl.lit(EARLIEST)) | (value > pl.lit(LATEST))
            return pl.when(out).then(pl.lit(OUT_OF_RANGE)).otherwise(none)
        return date_fault_expr(raw, value)
    if column.type == "integer":
        return (
            pl.when(raw.is_not_null() & value.is_null())
            .then(pl.lit(NOT_INTEGER))
            .when(value < 0)
            .then(pl.lit(NEGATIVE))
            .otherwise(none)
        )
    if column.name == "uprn" and gazetteer:
        return (
            pl.when(raw.is_not_null() & value.is_null())
            .then(pl.lit(INVALID_UPRN))
            .when(_later_duplicate(value, width))
            .then(pl.lit(DUPLICATE_UPRN))
            .otherwise(none)
        )
    return none


def _checks(source: Source, width: int) -> list[Check]:
    """Every fault check of ``source``, in the order the first fault is reported."""
    checks = [
        Check(
            None,
            pl.when(_ragged(width)).then(pl.lit(RAGGED)),
            pl.format("{} fields, expected {}", pl.col("fields"), pl.lit(width)),
        )
    ]
    if "record_id" in source.column_names:
        as_text = pl.col(_raw("record_id")).cast(pl.String)
        checks.append(Check("record_id", pl.when(as_text.is_null()).then(pl.lit(MISSING_RECORD_ID)), as_text))
        checks.append(
            Check("record_id", pl.when(_later_duplicate(as_text, width)).then(pl.lit(DUPLICATE_RECORD_ID)), as_text)
        )
    for column in source.columns:
        raw = pl.col(_raw(column.name))
        if column.required and column.name != "record_id":
            checks.append(Check(column.name, pl.when(raw.is_null()).then(pl.lit(MISSING_VALUE)), raw.cast(pl.String)))
        checks.append(Check(column.name, pl.col(f"__fault__{column.name}"), raw.cast(pl.String)))
    names = set(source.column_names)
    if {"sessions_possible", "sessions_authorised", "sessions_unauthorised"} <= names:
        over = pl.col(_val("sessions_authorised")) + pl.col(_val("sessions_unauthorised")) > pl.col(
            _val("sessions_possible")
        )
        checks.append(
            Check("sessions_possible", pl.when(over).then(pl.lit(SESSIONS_EXCEED)), pl.col(_raw("sessions_possible")))
        )
    for start, end in source.date_pairs:
        before = pl.col(_val(end)) < pl.col(_val(start))
        checks.append(Check(end, pl.when(before).then(pl.lit(END_BEFORE_START)), pl.col(_raw(end)).cast(pl.String)))
    return checks


def _first_fault(checks: Sequence[Check]) -> pl.Expr:
    """Struct ``{field, reason, value}`` of a row's first fault, null when the row is fine."""
    return pl.coalesce(
        [
            pl.when(check.reason.is_not_null()).then(
                pl.struct(
                    field=pl.lit(check.field, dtype=pl.String),
                    reason=check.reason.cast(pl.String),
                    value=check.value.cast(pl.String),
                )
            )
            for check in checks
        ]
    ).alias("__fault")


def record_key(source: Source) -> str:
    """The column that identifies a row of ``source`` in quarantine (``uprn`` for the gazetteer)."""
    return "record_id" if "record_id" in source.column_names else "uprn"


@dataclass(frozen=True)
class Validated:
    """The outcome of validating one extract."""

    accepted: pl.DataFrame
    quarantine: pl.DataFrame
    invalid_identifiers: dict[str, int]


def prepare(table: RawTable, names: Sequence[str], source: Source, mapping: SourceMapping) -> pl.DataFrame:
    """Give the raw columns their resolved names and add the cleaned raw value of every canonical column."""
    frame = table.frame.rename({column_name(i): name for i, name in enumerate(names)})
    exprs = []
    for column in source.columns:
        if column.name in frame.columns:
            exprs.append(_clean(column.name, frame.schema[column.name], mapping.null_values).alias(_raw(column.name)))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(_raw(column.name)))
    return frame.with_columns(exprs)


def _normalised_terms(frame: pl.DataFrame, source: Source) -> list[pl.Expr]:
    """Term columns in canonical form (null where a label is not recognised).

    Labels are parsed once per distinct value (an extract has a handful), then mapped.
    """
    exprs = []
    for name in TERM_COLUMNS & set(source.column_names):
        labels = term_map(frame[_val(name)].unique().to_list())
        exprs.append(pl.col(_val(name)).replace_strict(labels, default=None, return_dtype=pl.String).alias(_val(name)))
    return exprs


def validate(
    table: RawTable, names: Sequence[str], source: Source, mapping: SourceMapping, file: str, excel: bool
) -> Validated:
    """Type every canonical column of ``table`` and split its rows into accepted and quarantined.

    ``names`` comes from :func:`resolve_header`; ``excel`` says the file is a workbook
    (Excel serial day numbers are then accepted as dates whatever the mapping says).
    """
    frame = prepare(table, names, source, mapping)
    serials = excel or mapping.excel_dates
    gazetteer = not source.person
    width = len(names)
    dtypes = {c.name: frame.schema[_raw(c.name)] for c in source.columns}
    frame = frame.with_columns(
        _typed(c, pl.col(_raw(c.name)), dtypes[c.name], mapping, serials).cast(c.polars_type).alias(_val(c.name))
        for c in source.columns
    )
    frame = frame.with_columns(_normalised_terms(frame, source))
    frame = frame.with_columns(
        _type_fault(c, dtypes[c.name], gazetteer, width).alias(f"__fault__{c.name}") for c in source.columns
    )
    frame = frame.with_columns(_first_fault(_checks(source, width)))
    extras = [n for n in names if n not in source.column_names]
    good = frame.filter(pl.col("__fault").is_null())
    accepted = good.select(
        *[pl.col(_val(c.name)).alias(c.name) for c in source.columns],
        pl.col("line"),
        *[pl.col(name).cast(pl.String) for name in extras],
    )
    quarantine = (
        frame.filter(pl.col("__fault").is_not_null())
        .select(
            pl.lit(source.name).alias("source"),
            pl.lit(file).alias("file"),
            pl.col("line"),
            pl.col(_raw(record_key(source))).cast(pl.String).alias("record_id"),
            pl.col("__fault").struct.field("field"),
            pl.col("__fault").struct.field("value"),
            pl.col("__fault").struct.field("reason"),
        )
        .cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]
    )
    return Validated(accepted, quarantine, invalid_identifier_counts(good, source))


def invalid_identifier_counts(frame: pl.DataFrame, source: Source) -> dict[str, int]:
    """Per identifier column: accepted rows whose non-blank identifier failed its format or check."""
    columns = [c.name for c in source.columns if c.type == "identifier" and (source.person or c.name != "uprn")]
    if not columns:
        return {}
    counts = frame.select([(pl.col(_raw(c)).is_not_null() & pl.col(_val(c)).is_null()).sum().alias(c) for c in columns])
    return {c: int(counts[c][0]) for c in columns}
