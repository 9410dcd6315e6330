"""Smoke test of the pipeline scaling benchmark on one tiny batch, and of its scaling fit.

No timing asserts: the harness must run every step in child processes, measure, score
and report, nothing more.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import run as bench


def test_quick_run_reports_every_step(tmp_path: Path) -> None:
    report = bench.main(["--quick", "--out", str(tmp_path)])
    (size,) = report["sizes"]
    assert set(size["steps"]) == set(bench.STEPS)
    for step, figures in size["steps"].items():
        assert figures["seconds"] >= 0, step
        assert figures["peak_mib"] > 50, step  # an interpreter with polars loaded holds more than this
    assert size["records"] > 1500
    assert size["scores"]["persons"]["recall"] > 0.9
    saved = json.loads((tmp_path / "pipeline.json").read_text())
    assert saved["sizes"][0]["records"] == size["records"]
    text = (tmp_path / "pipeline.md").read_text()
    assert "## Peak resident memory per step (MiB)" in text
    assert "| ingest | checks | standardise | link | households | identity | criteria | rank | store | total |" in text


def test_the_steps_are_the_declared_stages() -> None:
    from tfident.pipeline import STAGES

    assert (*STAGES, "store") == bench.STEPS


def test_power_fit_recovers_exponent() -> None:
    rows = [{"records": n, "seconds": 2.0 * n**1.2} for n in (100_000, 1_000_000)]
    rows.insert(0, {"records": 1_000, "seconds": 500.0})  # fixed costs dominate a small batch: not fitted
    fit = bench.fit_power(rows, lambda r: r["seconds"])
    assert fit is not None
    assert fit[0] == pytest.approx(2.0, rel=1e-6)
    assert fit[1] == pytest.approx(1.2, rel=1e-9)
    assert bench.fit_power(rows[:1], lambda r: r["seconds"]) is None


def test_peak_reset_lowers_the_high_water_mark() -> None:
    if not bench.reset_peak():
        pytest.skip("this kernel does not allow resetting the peak resident set")
    ballast = bytearray(300 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    high = bench.peak_mib()
    del ballast
    assert bench.reset_peak()
    assert bench.peak_mib() < high - 200
