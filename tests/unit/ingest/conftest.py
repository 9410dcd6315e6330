"""Fixtures for the ingest tests (builders live in ``ingest_builders``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ingest_builders import BatchBuilder

from tfident.ingest.batch import Batch


@pytest.fixture
def builder(tmp_path: Path) -> BatchBuilder:
    """A batch folder of valid required extracts."""
    return BatchBuilder(tmp_path / "batch")


@pytest.fixture
def read_source(builder: BatchBuilder) -> Callable[[str, list[dict[str, str]]], Batch]:
    """Write one source's rows into a valid batch and read the batch."""

    def _read(source: str, data: list[dict[str, str]]) -> Batch:
        builder.rows(source, data)
        return builder.read()

    return _read
