r"""The export files of the data contract (section 6): candidates, members and the person index.

``export_run`` writes ``candidates.csv``, ``members.csv`` and ``persons.csv`` for a run,
each with exactly the contract's columns, and records the export in ``audit_log``.
Rows are in a fixed order and every value is formatted in one way (scores and
probabilities to 4 decimal places, costs to 2, dates ``YYYY-MM-DD``, blanks for
missing values, ``\n`` line ends, UTF-8 without BOM), so exporting the same run again
gives byte-identical files:

* candidates: best first (``rank``), then ``household_id``;
* members: by the household's rank, then ``person_id``, ``source``, ``record_id``;
  ``link_probability`` is the record's strongest link to another record of its
  person, or 1.0 for a record linked to no other;
* persons: by ``source`` then ``record_id``, in byte order.

Files are written beside their final name and renamed into place, so a reader never
sees half a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident.errors import StoreError
from tfident.store.audit import EXPORT_WRITTEN, write_audit_row
from tfident.store.engine import safe_url
from tfident.store.formatting import (
    MONEY_DECIMALS,
    PROBABILITY_DECIMALS,
    SCORE_DECIMALS,
    fixed,
    format_date,
    format_frame,
    format_int,
    format_text,
)
from tfident.store.reader import read_candidates, read_members, read_persons_index, resolve_run
from tfident.store.tables import metadata

log = logging.getLogger(__name__)

audit_log = metadata.tables["audit_log"]

Formatters = dict[str, Callable[[Any], str]]

CANDIDATES_FORMAT: Formatters = {
    "run_id": format_text,
    "rank": format_int,
    "household_id": format_text,
    "score": fixed(SCORE_DECIMALS),
    "criteria_met": format_text,
    "n_members": format_int,
    "uprn": format_int,
    "address": format_text,
    "postcode": format_text,
    "estimated_annual_cost": fixed(MONEY_DECIMALS),
    "min_link_probability": fixed(PROBABILITY_DECIMALS),
}
MEMBERS_FORMAT: Formatters = {
    "household_id": format_text,
    "person_id": format_text,
    "source": format_text,
    "record_id": format_text,
    "forename": format_text,
    "surname": format_text,
    "date_of_birth": format_date,
    "link_probability": fixed(PROBABILITY_DECIMALS),
}
PERSONS_COLUMNS: tuple[str, ...] = ("source", "record_id", "person_id", "household_id")

EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "candidates": tuple(CANDIDATES_FORMAT),
    "members": tuple(MEMBERS_FORMAT),
    "persons": PERSONS_COLUMNS,
}
"""The columns of each export file, exactly as contract section 6 lists them."""


def export_frames(engine: Engine, run_id: str) -> dict[str, pl.DataFrame]:
    """The three export tables of a run, every column as text, in file order."""
    candidates = read_candidates(engine, run_id).with_columns(run_id=pl.lit(run_id))
    members = read_members(engine, run_id)
    persons = read_persons_index(engine, run_id)
    return {
        "candidates": format_frame(candidates, CANDIDATES_FORMAT),
        "members": format_frame(members, MEMBERS_FORMAT),
        # text columns only (up to a million rows): no per-value formatting needed
        "persons": persons.select(pl.col(name).cast(pl.String) for name in PERSONS_COLUMNS),
    }


def write_csv(frame: pl.DataFrame, path: Path) -> str:
    r"""Write a text frame as CSV and return its SHA-256.

    Header row, ``\n`` line ends, quotes only where needed, nulls as empty fields.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        frame.write_csv(partial, include_header=True, line_terminator="\n", quote_style="necessary", null_value="")
        digest = hashlib.sha256(partial.read_bytes()).hexdigest()
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise StoreError(f"cannot write {path}: {error.strerror or error}") from error
    return digest


def export_run(
    engine: Engine, run_id: str, out_dir: Path | str, *, user: str | None = None, role: str | None = None
) -> dict[str, Path]:
    """Write ``candidates.csv``, ``members.csv`` and ``persons.csv`` of a run to ``out_dir``.

    ``run_id`` may be ``"latest"``. Returns the path of each file by name
    (``candidates``, ``members``, ``persons``). The export is recorded in ``audit_log``
    (action ``export.written``) as done by ``user``, by default ``TFIDENT_USER`` or the
    OS user (the folder, row counts and checksums only).
    """
    resolved = resolve_run(engine, run_id)
    frames = export_frames(engine, resolved)
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create export folder {folder}: {error.strerror or error}") from error
    paths: dict[str, Path] = {}
    files: dict[str, dict[str, Any]] = {}
    for name, frame in frames.items():
        path = folder / f"{name}.csv"
        files[f"{name}.csv"] = {"rows": frame.height, "sha256": write_csv(frame, path)}
        paths[name] = path
    try:
        with engine.begin() as connection:
            write_audit_row(
                connection,
                EXPORT_WRITTEN,
                resolved,
                {"folder": str(folder.resolve()), "files": files},
                user=user,
                role=role,
            )
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"exported run {resolved} but cannot record it in {safe_url(engine)}'s audit log") from error
    log.info("run %s exported to %s (%s)", resolved, folder, ", ".join(f"{n} {f['rows']}" for n, f in files.items()))
    return paths
