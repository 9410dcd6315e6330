"""Read one extract file (CSV, XLSX or Parquet) into a raw table of strings.

A reader turns a file into a :class:`RawTable`: the header as written and a frame of
positional columns (``c0``, ``c1``, ...; String, except native ``Date`` columns of a
Parquet file) plus ``line`` (the 1-based physical line of the row, header = line 1;
the row number + 1 for XLSX and Parquet) and ``fields`` (how many fields the CSV row
had; null for XLSX and Parquet). Blank lines are not rows and are skipped.

File faults are raised here, before any row is looked at: the file cannot be decoded
or parsed (:class:`~tfident.errors.UnreadableFile`), or it ends part-way through a row
(:class:`~tfident.errors.TruncatedFile`). Rows with the wrong number of fields are
kept, with their ``fields`` count, for validation to quarantine.

CSV is parsed by polars when every line is one whole record (the usual case: no
quoted field spans a line break and every quote is well formed), so line numbers are
simply positions. Otherwise the file is parsed by Python's :mod:`csv` module, which
follows quoted line breaks and reports the physical line each record starts on.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tfident.errors import TruncatedFile, UnreadableFile

FORMATS: dict[str, str] = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}
"""File suffix -> format name."""


@dataclass(frozen=True)
class RawTable:
    """A file as read: its header names (as written) and its rows as positional columns."""

    header: tuple[str, ...]
    frame: pl.DataFrame  # c0..c{n-1}, line (Int64), fields (Int64, null unless CSV)


def column_name(position: int) -> str:
    """The positional name of a raw column."""
    return f"c{position}"


# --- decoding ---------------------------------------------------------------------


def decode(data: bytes, encoding: str, file: str) -> str:
    """Decode a CSV file's bytes to text; a UTF-8 byte order mark is dropped.

    Raises :class:`UnreadableFile` for a binary file (NUL bytes) or bytes that are not
    text in ``encoding``, saying where and what was expected.
    """
    if b"\x00" in data:
        raise UnreadableFile(
            f"{file}: contains NUL bytes, so it is a binary file (or UTF-16 text), not a CSV; "
            f"expected comma-separated text in {encoding}",
            file=file,
        )
    codec = codecs.lookup(encoding).name
    try:
        text = data.decode("utf-8-sig" if codec == "utf-8" else encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UnreadableFile(
            f"{file}: line {line} is not valid {encoding} text (byte 0x{data[error.start]:02x}); "
            f"expected {encoding} text: if the agency sends another encoding (e.g. cp1252), "
            "set `encoding:` for this source in config/sources.yaml",
            file=file,
        ) from None
    return text.removeprefix("\ufeff")


# --- CSV --------------------------------------------------------------------------


def _patterns(delimiter: str) -> tuple[str, str]:
    """Regexes (polars/Rust syntax) for a quoted field at a field start, and a well-formed line."""
    d = f"\\x{{{ord(delimiter):X}}}"
    quoted = r'"(?:[^"]|"")*"'
    field = rf'(?:{quoted}|[^"{d}][^{d}]*|)'
    return rf"(^|{d}){quoted}", rf"^{field}(?:{d}{field})*$"


def _truncation_check(file: str, ends_with_newline: bool, last_line: int, last_fields: int, width: int) -> None:
    """Raise :class:`TruncatedFile` when the last row is short and the file has no final newline."""
    if not ends_with_newline and last_line > 1 and last_fields < width:
        raise TruncatedFile(
            f"{file}: line {last_line} has {last_fields} of {width} fields and the file ends without a "
            "newline: the file looks truncated; expected every row complete (ask the agency to resend it)",
            file=file,
        )


def _fast_csv(text: str, delimiter: str, file: str) -> RawTable | None:
    """Parse with polars when every line is one well-formed record; ``None`` otherwise."""
    ends_with_newline = text.endswith(("\n", "\r"))
    lines = pl.Series("text", text.rstrip("\r\n").split("\n")).str.strip_suffix("\r")
    blank = lines == ""
    if '"' in text:
        quoted, well_formed = _patterns(delimiter)
        if not (lines.str.contains(well_formed) | blank).all():
            return None
        bare = lines.str.replace_all(quoted, "$1")
    else:
        bare = lines
    fields = (bare.str.count_matches(delimiter, literal=True) + 1).cast(pl.Int64)
    try:
        frame = pl.read_csv(
            io.BytesIO("\n".join(lines.to_list()).encode("utf-8")),
            has_header=False,
            infer_schema=False,
            separator=delimiter,
            quote_char='"',
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError:
        return None
    if frame.height != lines.len():
        return None
    width = frame.width
    frame = frame.rename({old: column_name(i) for i, old in enumerate(frame.columns)})
    frame = frame.with_columns(line=pl.int_range(1, frame.height + 1, dtype=pl.Int64), fields=fields)
    header = tuple("" if v is None else v for v in frame.row(0)[:width])
    rows = frame.slice(1).filter(~blank.slice(1))
    if rows.height:
        _truncation_check(file, ends_with_newline, int(rows["line"][-1]), int(rows["fields"][-1]), width)
    return RawTable(header=header, frame=rows)


def _csv_records(text: str, delimiter: str, file: str, strict: bool) -> list[tuple[int, list[str]]]:
    """Records of a CSV text with the physical line each starts on (Python's csv module)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if row:
                records.append((start, row))
            start = reader.line_num + 1
    except csv.Error as error:
        if "unexpected end of data" in str(error) or "EOF" in str(error):
            raise TruncatedFile(
                f"{file}: line {start} opens a quoted field that is never closed before the end of the "
                "file: the file looks truncated; expected every quote closed (ask the agency to resend it)",
                file=file,
            ) from None
        if strict:
            return _csv_records(text, delimiter, file, strict=False)
        raise UnreadableFile(f"{file}: not a readable CSV at line {start} ({error})", file=file) from None
    return records


def _slow_csv(text: str, delimiter: str, file: str) -> RawTable:
    """Parse with Python's csv module (quoted line breaks, stray quotes)."""
    records = _csv_records(text, delimiter, file, strict=True)
    if not records:
        return RawTable(header=(), frame=pl.DataFrame())
    header = tuple(records[0][1])
    width = len(header)
    body = records[1:]
    if body:
        _truncation_check(file, text.endswith(("\n", "\r")), body[-1][0], len(body[-1][1]), width)
    padded = [(row + [""] * width)[:width] for _, row in body]
    columns = list(zip(*padded, strict=True)) if padded else [() for _ in range(width)]
    frame = pl.DataFrame(
        {column_name(i): pl.Series(values, dtype=pl.String) for i, values in enumerate(columns)}
    ).with_columns(
        line=pl.Series([line for line, _ in body], dtype=pl.Int64),
        fields=pl.Series([len(row) for _, row in body], dtype=pl.Int64),
    )
    return RawTable(header=header, frame=frame)


def read_csv_text(text: str, delimiter: str, file: str) -> RawTable:
    """Parse CSV text (already decoded) into a :class:`RawTable`."""
    if not text.strip():
        raise UnreadableFile(f"{file}: the file is empty; expected a header row and data rows", file=file)
    table = _fast_csv(text, delimiter, file)
    return table if table is not None else _slow_csv(text, delimiter, file)


# --- XLSX and Parquet -------------------------------------------------------------


def _positional(frame: pl.DataFrame, first_line: int) -> pl.DataFrame:
    """Rename a frame's columns to ``c0..`` and add ``line`` (from ``first_line``) and null ``fields``."""
    frame = frame.rename({old: column_name(i) for i, old in enumerate(frame.columns)})
    return frame.with_columns(
        line=pl.int_range(first_line, first_line + frame.height, dtype=pl.Int64),
        fields=pl.lit(None, dtype=pl.Int64),
    )


def read_xlsx(path: Path, file: str) -> RawTable:
    """Read the first sheet of a workbook, every cell as text (dates as ISO date-times)."""
    try:
        sheet = pl.read_excel(path, has_header=False, infer_schema_length=0, drop_empty_rows=False)
    except Exception as error:  # fastexcel raises its own exception types
        raise UnreadableFile(
            f"{file}: not a readable .xlsx workbook ({error}); expected an Excel 2007+ file", file=file
        ) from None
    if sheet.height == 0:
        raise UnreadableFile(f"{file}: the first sheet is empty; expected a header row and data rows", file=file)
    sheet = sheet.select(pl.all().cast(pl.String))
    header = tuple("" if v is None else v for v in sheet.row(0))
    rows = _positional(sheet, 1).slice(1)
    data = [column_name(i) for i in range(len(header))]
    rows = rows.filter(~pl.all_horizontal(pl.col(data).is_null() | (pl.col(data).str.strip_chars() == "")))
    return RawTable(header=header, frame=rows)


def _as_text_or_date(frame: pl.DataFrame) -> pl.DataFrame:
    """Keep ``Date`` columns, turn date-times into dates and everything else into text."""
    exprs = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype == pl.Date:
            exprs.append(column)
        elif isinstance(dtype, pl.Datetime):
            exprs.append(column.dt.date())
        else:
            exprs.append(column.cast(pl.String))
    return frame.select(exprs)


def read_parquet(path: Path, file: str) -> RawTable:
    """Read a Parquet file: ``Date`` columns kept, the rest as text."""
    try:
        frame = _as_text_or_date(pl.read_parquet(path))
    except Exception as error:  # pyarrow/polars raise various types for corrupt files
        raise UnreadableFile(f"{file}: not a readable Parquet file ({error})", file=file) from None
    return RawTable(header=tuple(frame.columns), frame=_positional(frame, 2))


def read_file(path: Path, data: bytes, file_format: str, encoding: str, delimiter: str) -> RawTable:
    """Read one extract file of any supported format (``data`` is its bytes, for CSV)."""
    file = path.name
    if file_format == "csv":
        return read_csv_text(decode(data, encoding, file), delimiter, file)
    if file_format == "xlsx":
        return read_xlsx(path, file)
    return read_parquet(path, file)
