"""The committed synthetic sample batch reads cleanly, and its counts add up."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
from rich.console import Console

from tfident.ingest import SourcesMapping, quality_table, read_batch
from tfident.ingest.sources import SOURCES, VERSION_1_SOURCES
from tfident.synth.faults import FAULT_KINDS

IDENTIFIER_WITH_CHECK = {"upn", "nhs_number", "pnc_id"}


def test_sample_batch_reads_without_faults(sample_batch: Path) -> None:
    batch = read_batch(sample_batch, SourcesMapping())
    assert set(batch.extracts) == set(VERSION_1_SOURCES)  # the sample is a version 1 batch: still valid
    # synth injects no row faults (truth/faults.csv lists only name, date, address and identifier noise)
    assert "ragged_row" not in FAULT_KINDS
    assert batch.quarantine.is_empty()
    for name, quality in batch.quality.items():
        assert quality.rows_read == quality.rows_accepted + quality.rows_quarantined
        assert quality.rows_accepted == batch.extracts[name].height
        lines = len((sample_batch / f"{name}.csv").read_text(encoding="utf-8").splitlines())
        assert quality.rows_read == lines - 1 == batch.files[name].rows
        digest = hashlib.sha256((sample_batch / f"{name}.csv").read_bytes()).hexdigest()
        assert batch.files[name].sha256 == digest


def test_sample_batch_invalid_identifiers_match_the_injected_ones(sample_batch: Path) -> None:
    batch = read_batch(sample_batch, SourcesMapping())
    faults = pl.read_csv(sample_batch / "truth" / "faults.csv", infer_schema=False)
    injected = dict(faults.filter(pl.col("fault") == "id_invalid").group_by("source").len().iter_rows())
    for name, quality in batch.quality.items():
        checked = {c: n for c, n in quality.invalid_identifiers.items() if c in IDENTIFIER_WITH_CHECK}
        if checked:  # a typo in a check-letter or check-digit identifier never passes its check
            assert sum(checked.values()) == injected.get(name, 0), name
        assert quality.invalid_identifiers.get("uprn", 0) == 0


def test_sample_batch_frames_follow_the_contract(sample_batch: Path) -> None:
    batch = read_batch(sample_batch, SourcesMapping())
    for name, frame in batch.extracts.items():
        assert frame.columns[: len(SOURCES[name].columns) + 1] == [*SOURCES[name].column_names, "line"]
        assert frame["line"].is_sorted()
        assert frame["line"].min() == 2


def test_quality_table_renders_without_personal_data(sample_batch: Path) -> None:
    batch = read_batch(sample_batch, SourcesMapping())
    console = Console(width=200, record=True)
    console.print(quality_table(batch.quality))
    text = console.export_text()
    assert "attendance" in text
    assert "upn (" in text
    forename = batch.extracts["school_census"]["forename"][0]
    assert forename not in text
