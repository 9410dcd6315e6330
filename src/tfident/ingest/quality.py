"""The quality report of a batch: counts per source, never personal data.

:class:`SourceQuality` is stored with every run (``model_dump()`` to JSON) and
:func:`quality_table` renders the whole batch for the end-of-run summary.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, Field
from rich.table import Table

from tfident.ingest.sources import Source
from tfident.ingest.validate import DUPLICATE_RECORD_ID


class DateRange(BaseModel):
    """Earliest and latest value of a date column (ISO dates; null when the column is empty)."""

    min: str | None = None
    max: str | None = None


class SourceQuality(BaseModel):
    """What ingest made of one extract."""

    source: str
    file: str
    format: str
    rows_read: int = Field(description="data rows in the file (blank lines not counted)")
    rows_accepted: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int] = Field(default_factory=dict)
    nulls: dict[str, int] = Field(default_factory=dict, description="accepted rows with no value, per column")
    invalid_identifiers: dict[str, int] = Field(
        default_factory=dict, description="accepted rows whose identifier failed its format or check (now null)"
    )
    date_ranges: dict[str, DateRange] = Field(
        default_factory=dict, description="earliest and latest value per date column, date_of_birth excepted"
    )
    duplicate_record_ids: int = 0
    possible_duplicate_persons: int | None = Field(
        default=None, description="accepted records with the same name and date of birth as an earlier one"
    )
    repeated_slots: int | None = Field(
        default=None,
        description=(
            "accepted records that fill a slot (person_slot: a school and term) an earlier record with the same"
            " person identifier fills: one pupil sent twice, or a record carrying another pupil's identifier;"
            " linkage keeps two records of one slot as two people (one_record_per_slot)"
        ),
    )


PERSONAL_DATES = frozenset({"date_of_birth"})
"""Date columns whose range is left out of the report: a range's ends are single people's dates."""


def _reason_counts(quarantine: pl.DataFrame) -> dict[str, int]:
    """Quarantined rows per reason, most frequent first."""
    if quarantine.is_empty():
        return {}
    counts = quarantine.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    return {str(reason): int(n) for reason, n in counts.iter_rows()}


def _date_ranges(accepted: pl.DataFrame, source: Source) -> dict[str, DateRange]:
    """Min and max of every date column of the accepted rows but ``date_of_birth``.

    The earliest and latest date of birth are one person's each: personal data, which
    this report (stored with the run, shown and sent back to agencies) never holds.
    """
    columns = [c.name for c in source.columns if c.type == "date" and c.name not in PERSONAL_DATES]
    if not columns:
        return {}
    row = accepted.select(
        *[pl.col(c).min().alias(f"{c}:min") for c in columns], *[pl.col(c).max().alias(f"{c}:max") for c in columns]
    ).row(0, named=True)
    iso = {key: None if value is None else value.isoformat() for key, value in row.items()}
    return {c: DateRange(min=iso[f"{c}:min"], max=iso[f"{c}:max"]) for c in columns}


def possible_duplicate_persons(accepted: pl.DataFrame) -> int:
    """Records whose upper-cased forename, surname and date of birth repeat an earlier record's."""
    key = [
        pl.col("forename").str.to_uppercase().str.replace_all(r"[^A-Z]", ""),
        pl.col("surname").str.to_uppercase().str.replace_all(r"[^A-Z]", ""),
        pl.col("date_of_birth"),
    ]
    keyed = accepted.select(key).drop_nulls()
    return keyed.height - keyed.unique().height


def repeated_slots(accepted: pl.DataFrame, source: Source) -> int | None:
    """Records whose slot (``source.person_slot``, every column filled) and person identifier repeat an
    earlier record's; None for a source with no slot or no person identifier in ``accepted``.
    """
    ids = [name for name in source.person_identifiers if name in accepted.columns]
    if not source.person_slot or not ids or any(c not in accepted.columns for c in source.person_slot):
        return None
    keys = [pl.col(c) for c in source.person_slot]
    found = 0
    for name in ids:
        keyed = accepted.select(*keys, pl.col(name)).drop_nulls()
        found += keyed.height - keyed.unique().height
    return found


def source_quality(
    source: Source,
    file: str,
    file_format: str,
    accepted: pl.DataFrame,
    quarantine: pl.DataFrame,
    invalid_identifiers: dict[str, int],
) -> SourceQuality:
    """The quality report of one extract from its accepted and quarantined rows."""
    by_reason = _reason_counts(quarantine)
    nulls = accepted.select(pl.col(c).null_count() for c in source.column_names).row(0, named=True)
    return SourceQuality(
        source=source.name,
        file=file,
        format=file_format,
        rows_read=accepted.height + quarantine.height,
        rows_accepted=accepted.height,
        rows_quarantined=quarantine.height,
        quarantined_by_reason=by_reason,
        nulls={name: int(n) for name, n in nulls.items()},
        invalid_identifiers=invalid_identifiers,
        date_ranges=_date_ranges(accepted, source),
        duplicate_record_ids=by_reason.get(DUPLICATE_RECORD_ID, 0),
        possible_duplicate_persons=possible_duplicate_persons(accepted) if source.person else None,
        repeated_slots=repeated_slots(accepted, source),
    )


def _top(counts: dict[str, int], n: int = 3) -> str:
    """``reason (count)`` for the ``n`` largest counts, or an empty string."""
    ranked = sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} ({v})" for k, v in ranked[:n])


def quality_table(quality: dict[str, SourceQuality]) -> Table:
    """One row per source: rows read, accepted and quarantined, the top reasons, invalid identifiers."""
    table = Table(title="Extract quality")
    table.add_column("source")
    table.add_column("file")
    for heading in ("read", "accepted", "quarantined"):
        table.add_column(heading, justify="right")
    table.add_column("top quarantine reasons")
    table.add_column("invalid identifiers")
    for name, q in sorted(quality.items()):
        table.add_row(
            name,
            q.file,
            f"{q.rows_read:,}",
            f"{q.rows_accepted:,}",
            f"{q.rows_quarantined:,}",
            _top(q.quarantined_by_reason),
            _top(q.invalid_identifiers, n=5),
        )
    return table
