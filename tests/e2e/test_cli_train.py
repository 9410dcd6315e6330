"""`tfident train` on several batches: their records are pooled, kept apart, and recorded."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tfident.cli import app
from tfident.link.model import read_model
from tfident.synth import generate_batch, write_batch

D = date(2026, 10, 31)


def _train(*args: str) -> str:
    result = CliRunner().invoke(app, ["train", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_train_pools_batches_of_two_error_profiles(tmp_path: Path) -> None:
    write_batch(generate_batch(80, 3, D), tmp_path / "default")
    write_batch(generate_batch(80, 4, D, profile="messy"), tmp_path / "messy")
    one, other, both = tmp_path / "one.json", tmp_path / "other.json", tmp_path / "both.json"
    _train("--extracts", str(tmp_path / "default"), "--as-of", "2026-10-31", "--out", str(one))
    _train("--extracts", str(tmp_path / "messy"), "--as-of", "2026-10-31", "--out", str(other))
    _train("--extracts", str(tmp_path / "default"), "--extracts", str(tmp_path / "messy"), "--as-of", "2026-10-31",
           "--out", str(both), "--version", "pooled-test")  # fmt: skip

    single, second, pooled = (json.loads(p.read_text()) for p in (one, other, both))
    assert pooled["version"] == "pooled-test"
    assert pooled["training_data"]["extracts"] == "default + messy"
    assert set(pooled["training_data"]["files"]) == {"default", "messy"}
    # the two batches number their records alike (SC0000001, ...): pooled, none is lost or merged
    records = [m["training_data"]["records"] for m in (single, second, pooled)]
    assert records[2] == records[0] + records[1]
    # the pooled model is one a run can load and predict with
    assert read_model(both)["settings"]["comparisons"]


def test_train_names_a_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a short path, so the error box does not wrap it
    result = CliRunner().invoke(app, ["train", "--extracts", "nowhere", "--out", "m.json"])
    assert result.exit_code == 2
    assert "Invalid value for --extracts: nowhere is not a folder" in result.output
