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

Layout options (``config/sources.yaml``, see :class:`~tfident.ingest.mapping.SourceMapping`):
the header is the first non-blank line (CSV) or row (XLSX) at or after ``header_row``,
so a title block above it is skipped; the last ``footer_rows`` non-blank rows (a
totals row) are dropped; ``sheet`` names the worksheet; ``delimiter: auto`` picks the
separator from the header line. Line numbers stay those of the file: the physical
line of a CSV, the spreadsheet's own row number in a workbook.

No message raised here quotes the content of a cell: a file whose first line is a
child's record must not put that record into a log. Messages name the file, the line
or row, the column position and what was expected.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from tfident.errors import ExtractError, TruncatedFile, UnreadableFile

log = logging.getLogger(__name__)

FORMATS: dict[str, str] = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}
"""File suffix -> format name."""

AUTO = "auto"
"""``delimiter: auto``: the separator is sniffed from the header line."""

DELIMITERS = (",", ";", "\t", "|")
"""The separators ``delimiter: auto`` chooses among, in order of preference on a tie."""


@dataclass(frozen=True)
class RawTable:
    """A file as read: its header names (as written) and its rows as positional columns."""

    header: tuple[str, ...]
    frame: pl.DataFrame  # c0..c{n-1}, line (Int64), fields (Int64, null unless CSV)
    header_line: int = 1  # the line (CSV) or row (XLSX) the header was read from


@dataclass(frozen=True)
class Layout:
    """Where the table is in the file: header row, footer rows, worksheet (``config/sources.yaml``)."""

    header_row: int = 1
    footer_rows: int = 0
    sheet: str | None = None


def column_name(position: int) -> str:
    """The positional name of a raw column."""
    return f"c{position}"


# --- decoding ---------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
"""Byte order marks and the encoding each declares (UTF-32 LE first: it starts like UTF-16 LE's)."""


def _wide(codec: str) -> bool:
    """Whether ``codec`` writes NUL bytes for ordinary text (UTF-16 and UTF-32)."""
    return codec.startswith(("utf-16", "utf-32"))


def _undecodable(data: bytes, error: UnicodeDecodeError, codec: str, declared: str, file: str) -> UnreadableFile:
    """The error for bytes that are not text in ``codec``: the line, the byte, what to configure."""
    line = data[: error.start].decode(codec, errors="replace").count("\n") + 1
    return UnreadableFile(
        f"{file}: line {line} is not valid {codec} text (byte 0x{data[error.start]:02x}); "
        f"expected {declared} text: if the agency sends another encoding (e.g. cp1252), "
        "set `encoding:` for this source in config/sources.yaml",
        file=file,
    )


def decode(data: bytes, encoding: str, file: str) -> str:
    """Decode a CSV file's bytes to text; a byte order mark (BOM) is dropped whatever the encoding.

    A BOM is the encoder's own statement of the encoding, so it wins over the
    configured one: a UTF-16 or UTF-32 BOM means that encoding, and a UTF-8 BOM means
    UTF-8 (what Excel's "CSV UTF-8" writes) even on a source configured as cp1252 or
    latin-1. Decoding such a file as cp1252 would not fail: it would silently turn
    every accented letter into two wrong ones (``Zoë`` -> ``ZoÃ«``) and spoil linkage.
    Only when the text after a UTF-8 BOM is not valid UTF-8 (a BOM put in front of
    cp1252 text by some tool) is it decoded in the configured encoding instead; valid
    UTF-8 is practically never cp1252 text with accents, so the two cannot be confused.

    Raises :class:`UnreadableFile` for a binary file (NUL bytes) or bytes that are not
    text in the encoding, saying where and what was expected (never the text itself).
    """
    codec = codecs.lookup(encoding).name
    codec = "utf-8" if codec == "utf-8-sig" else codec
    body, chosen = data, codec
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            body, chosen = data[len(bom) :], bom_codec
            break
    if chosen == "utf-8" and codec != "utf-8" and body is not data:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            chosen = codec  # a BOM in front of text in the configured encoding
        else:
            log.info("%s: UTF-8 byte order mark found, read as UTF-8 (configured: %s)", file, encoding)
            return _no_nul(text, "utf-8", file)
    if not _wide(chosen) and b"\x00" in body:
        raise UnreadableFile(
            f"{file}: contains NUL bytes, so it is a binary file (or UTF-16 text without a byte order mark), "
            f"not a CSV; expected comma-separated text in {encoding}",
            file=file,
        )
    try:
        text = body.decode(chosen)
    except UnicodeDecodeError as error:
        raise _undecodable(body, error, chosen, encoding if chosen == codec else chosen, file) from None
    return _no_nul(text.removeprefix("\ufeff"), chosen, file)


def _no_nul(text: str, codec: str, file: str) -> str:
    """``text``, unless it holds NUL characters (a binary file read as text)."""
    if "\x00" in text:
        raise UnreadableFile(
            f"{file}: contains NUL characters once decoded as {codec}, so it is a binary file, not a CSV",
            file=file,
        )
    return text


# --- CSV --------------------------------------------------------------------------


def _patterns(delimiter: str) -> tuple[str, str]:
    """Regexes (polars/Rust syntax) for a quoted field at a field start, and a well-formed line."""
    d = f"\\x{{{ord(delimiter):X}}}"
    quoted = r'"(?:[^"]|"")*"'
    field = rf'(?:{quoted}|[^"{d}][^{d}]*|)'
    return rf"(^|{d}){quoted}", rf"^{field}(?:{d}{field})*$"


def _truncation_check(file: str, ends_with_newline: bool, last_line: int, last_fields: int, width: int) -> None:
    """Raise :class:`TruncatedFile` when the last row is short and the file has no final newline."""
    if not ends_with_newline and last_fields < width:
        raise TruncatedFile(
            f"{file}: line {last_line} has {last_fields} of {width} fields and the file ends without a "
            "newline: the file looks truncated; expected every row complete (ask the agency to resend it)",
            file=file,
        )


def _fast_csv(text: str, delimiter: str, offset: int) -> RawTable | None:
    """Parse with polars when every line is one well-formed record; ``None`` otherwise.

    ``text`` starts with the header line, which is line ``offset + 1`` of the file.
    """
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
    frame = frame.with_columns(line=pl.int_range(offset + 1, offset + frame.height + 1, dtype=pl.Int64), fields=fields)
    header = tuple("" if v is None else v for v in frame.row(0)[:width])
    rows = frame.slice(1).filter(~blank.slice(1))
    return RawTable(header=header, frame=rows, header_line=offset + 1)


def _csv_records(text: str, delimiter: str, file: str, strict: bool, offset: int) -> list[tuple[int, list[str]]]:
    """Records of a CSV text with the physical line each starts on (Python's csv module).

    ``text`` starts at line ``offset + 1`` of the file.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if row:
                records.append((offset + start, row))
            start = reader.line_num + 1
    except csv.Error as error:
        if "unexpected end of data" in str(error) or "EOF" in str(error):
            raise TruncatedFile(
                f"{file}: line {offset + start} opens a quoted field that is never closed before the end of the "
                "file: the file looks truncated; expected every quote closed (ask the agency to resend it)",
                file=file,
            ) from None
        if strict:
            return _csv_records(text, delimiter, file, strict=False, offset=offset)
        # csv.Error messages name the parser's complaint, never a field's content
        raise UnreadableFile(f"{file}: not a readable CSV at line {offset + start} ({error})", file=file) from None
    return records


def _slow_csv(text: str, delimiter: str, file: str, offset: int) -> RawTable:
    """Parse with Python's csv module (quoted line breaks, stray quotes)."""
    records = _csv_records(text, delimiter, file, strict=True, offset=offset)
    if not records:
        return RawTable(header=(), frame=pl.DataFrame(), header_line=offset + 1)
    header_line, first = records[0]
    header = tuple(first)
    width = len(header)
    body = records[1:]
    padded = [(row + [""] * width)[:width] for _, row in body]
    columns = list(zip(*padded, strict=True)) if padded else [() for _ in range(width)]
    frame = pl.DataFrame(
        {column_name(i): pl.Series(values, dtype=pl.String) for i, values in enumerate(columns)}
    ).with_columns(
        line=pl.Series([line for line, _ in body], dtype=pl.Int64),
        fields=pl.Series([len(row) for _, row in body], dtype=pl.Int64),
    )
    return RawTable(header=header, frame=frame, header_line=header_line)


def _header_start(text: str, header_row: int, file: str) -> tuple[int, int]:
    """Where the header line starts in ``text``: (character position, lines before it).

    The lines above ``header_row`` are skipped, then any blank lines (blank lines are
    not rows, so the header is the first non-blank line at or below ``header_row``).
    """
    position = 0
    for _ in range(header_row - 1):
        found = text.find("\n", position)
        if found < 0:
            raise UnreadableFile(
                f"{file}: the file has {text.count(chr(10)) + 1} lines, but `header_row: {header_row}` in "
                "config/sources.yaml puts the header below them; expected the header on that line",
                file=file,
            )
        position = found + 1
    skipped = header_row - 1
    while True:
        end = text.find("\n", position)
        if text[position : len(text) if end < 0 else end].strip():
            return position, skipped
        if end < 0:
            raise UnreadableFile(
                f"{file}: no header row at or below line {header_row}: the rest of the file is blank; "
                "expected a header row and data rows (check `header_row:` in config/sources.yaml)",
                file=file,
            )
        position, skipped = end + 1, skipped + 1


def _count_outside_quotes(line: str, delimiter: str) -> int:
    """How many times ``delimiter`` occurs in ``line`` outside double-quoted fields."""
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def sniff_delimiter(text: str) -> str:
    """The separator of CSV ``text`` (which starts with its header line) among :data:`DELIMITERS`.

    The one occurring most often in the header line wins; on a tie, the one that
    splits the next lines into as many fields; then the first in :data:`DELIMITERS`.
    A header with none of them (a single column) gives ``,``.
    """
    lines = [line.rstrip("\r") for line in text[:65536].split("\n", 21)[:21] if line.strip()]
    if not lines:
        return ","
    counts = {d: _count_outside_quotes(lines[0], d) for d in DELIMITERS}
    best = max(counts.values())
    if best == 0:
        return ","
    tied = [d for d in DELIMITERS if counts[d] == best]
    steady = [d for d in tied if all(_count_outside_quotes(line, d) == best for line in lines[1:])]
    return (steady or tied)[0]


def _drop_footer(table: RawTable, footer_rows: int, file: str) -> RawTable:
    """``table`` without its last ``footer_rows`` rows (blank rows are not rows)."""
    if footer_rows == 0:
        return table
    if table.frame.height < footer_rows:
        raise UnreadableFile(
            f"{file}: `footer_rows: {footer_rows}` in config/sources.yaml, but the file has only "
            f"{table.frame.height} data row(s) below its header; expected the footer rows there",
            file=file,
        )
    return replace(table, frame=table.frame.slice(0, table.frame.height - footer_rows))


def read_csv_text(text: str, delimiter: str, file: str, layout: Layout | None = None) -> RawTable:
    """Parse CSV text (already decoded) into a :class:`RawTable`.

    ``layout`` says where the header is and how many footer rows to drop;
    ``delimiter`` may be ``auto`` (sniffed from the header line).
    """
    layout = layout or Layout()
    if not text.strip():
        raise UnreadableFile(f"{file}: the file is empty; expected a header row and data rows", file=file)
    position, offset = _header_start(text, layout.header_row, file)
    body = text[position:] if position else text
    separator = sniff_delimiter(body) if delimiter == AUTO else delimiter
    table = _fast_csv(body, separator, offset)
    if table is None:
        table = _slow_csv(body, separator, file, offset)
    if table.frame.height:
        last = table.frame.row(table.frame.height - 1, named=True)
        _truncation_check(file, text.endswith(("\n", "\r")), last["line"], last["fields"], len(table.header))
    return _drop_footer(table, layout.footer_rows, file)


# --- XLSX and Parquet -------------------------------------------------------------


def _positional(frame: pl.DataFrame, first_line: int) -> pl.DataFrame:
    """Rename a frame's columns to ``c0..`` and add ``line`` (from ``first_line``) and null ``fields``."""
    frame = frame.rename({old: column_name(i) for i, old in enumerate(frame.columns)})
    return frame.with_columns(
        line=pl.int_range(first_line, first_line + frame.height, dtype=pl.Int64),
        fields=pl.lit(None, dtype=pl.Int64),
    )


def _not_a_workbook(path: Path, file: str, error: Exception) -> UnreadableFile:
    """Why a file is not a readable workbook, from its first bytes (the parser's message may quote cells)."""
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        why = "it is a password-protected workbook or an old .xls file"
    elif not magic.startswith(b"PK"):
        why = "it is not a zip archive, as every .xlsx file is"
    else:
        why = f"the workbook inside is damaged ({type(error).__name__})"
    return UnreadableFile(
        f"{file}: not a readable .xlsx workbook: {why}; expected an Excel 2007+ file without a password",
        file=file,
    )


def read_xlsx(path: Path, file: str, layout: Layout | None = None) -> RawTable:
    """Read one sheet of a workbook (``layout.sheet``, else the first), every cell as text.

    Dates come as ISO date-times. Rows keep the spreadsheet's own numbers (``line``):
    the header is the first non-blank row at or below ``layout.header_row``, blank rows
    are skipped, and the last ``layout.footer_rows`` non-blank rows are dropped.
    """
    import fastexcel  # polars' engine for read_excel; here for the sheet names

    layout = layout or Layout()
    try:
        names = list(fastexcel.read_excel(path).sheet_names)
    except Exception as error:  # fastexcel raises its own exception types
        raise _not_a_workbook(path, file, error) from None
    if layout.sheet is not None and layout.sheet not in names:
        listed = ", ".join(repr(n) for n in names)
        raise UnreadableFile(
            f"{file}: no sheet named {layout.sheet!r} (`sheet:` in config/sources.yaml); the workbook has {listed}",
            file=file,
        )
    which = f"sheet {layout.sheet!r}" if layout.sheet is not None else "the first sheet"
    try:
        sheet = pl.read_excel(
            path,
            sheet_name=layout.sheet if layout.sheet is not None else names[0],
            has_header=False,
            infer_schema_length=0,
            drop_empty_rows=False,
            read_options={"skip_rows": 0},  # keep leading blank rows, so row i is spreadsheet row i + 1
        )
    except Exception as error:  # fastexcel raises its own exception types
        raise _not_a_workbook(path, file, error) from None
    if sheet.height == 0 or sheet.width == 0:
        raise UnreadableFile(f"{file}: {which} is empty; expected a header row and data rows", file=file)
    sheet = _positional(sheet.select(pl.all().cast(pl.String)), 1)
    data = [c for c in sheet.columns if c not in ("line", "fields")]
    blank = pl.all_horizontal(pl.col(data).is_null() | (pl.col(data).str.strip_chars() == ""))
    below = sheet.filter((pl.col("line") >= layout.header_row) & ~blank)
    if below.height == 0:
        raise UnreadableFile(
            f"{file}: {which} has no header row at or below row {layout.header_row} (it has "
            f"{sheet.height} rows); expected a header row and data rows (check `header_row:` in config/sources.yaml)",
            file=file,
        )
    header_line = int(below["line"][0])
    header = tuple("" if v is None else v for v in below.select(data).row(0))
    table = RawTable(header=header, frame=below.slice(1), header_line=header_line)
    return _drop_footer(table, layout.footer_rows, file)


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
        # the parser's message is not shown: it may quote the file's content
        raise UnreadableFile(
            f"{file}: not a readable Parquet file ({type(error).__name__}); expected an Apache Parquet file",
            file=file,
        ) from None
    return RawTable(header=tuple(frame.columns), frame=_positional(frame, 2))


def read_file(
    path: Path, data: bytes, file_format: str, encoding: str, delimiter: str, layout: Layout | None = None
) -> RawTable:
    """Read one extract file of any supported format (``data`` is its bytes, for CSV).

    ``layout`` (header row, footer rows, sheet) applies to CSV and XLSX files; a
    Parquet file has no title block, footer or sheets, so setting one for it is an
    error naming the key rather than a setting silently ignored.
    """
    file = path.name
    layout = layout or Layout()
    if file_format == "csv":
        if layout.sheet is not None:
            raise _not_for(file, "sheet", "XLSX")
        return read_csv_text(decode(data, encoding, file), delimiter, file, layout)
    if file_format == "xlsx":
        return read_xlsx(path, file, layout)
    for key, value, default in (("header_row", layout.header_row, 1), ("footer_rows", layout.footer_rows, 0)):
        if value != default:
            raise _not_for(file, key, "CSV and XLSX")
    if layout.sheet is not None:
        raise _not_for(file, "sheet", "XLSX")
    return read_parquet(path, file)


def _not_for(file: str, key: str, formats: str) -> ExtractError:
    """The error for a layout key set on a file of a format it does not apply to."""
    return ExtractError(
        f"{file}: `{key}:` is set for this source in config/sources.yaml, but it applies only to {formats} "
        "files; expected the file the setting was written for (or remove the setting)",
        file=file,
    )
