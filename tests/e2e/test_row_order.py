"""Row order of the input files does not matter: a batch and the same batch with every
extract's rows shuffled give the same person and household ids, the same links and the
same exports (apart from the run id, which hashes the input files' bytes).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from tfident.runner import execute_run
from tfident.store import make_engine
from tfident.store.export import export_frames
from tfident.store.reader import read_identity_index
from tfident.synth import generate_batch, write_batch

AS_OF = dt.date(2026, 10, 31)


def _shuffled_copy(batch: Path, out: Path, seed: int) -> Path:
    """A copy of ``batch`` with the data rows of every extract in a random order (headers kept)."""
    shutil.copytree(batch, out)
    shuffled = 0
    for path in sorted(out.glob("*.csv")):
        frame = pl.read_csv(path, infer_schema=False)
        if frame.height < 2:
            continue
        again = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        assert not again.equals(frame), f"{path.name} came out in its original order"
        again.write_csv(path)
        shuffled += 1
    assert shuffled >= 5, "the batch should have several extracts to shuffle"
    return out


def _run(extracts: Path, db: Path) -> dict[str, pl.DataFrame]:
    outcome = execute_run(extracts, AS_OF, f"sqlite:///{db}", "phase1", use_prefect=False)
    engine = make_engine(f"sqlite:///{db}")
    try:
        frames = export_frames(engine, outcome.run_id)
        frames["candidates"] = frames["candidates"].drop("run_id")
        frames["identity"] = read_identity_index(engine, outcome.run_id).sort("record_key")
        return frames
    finally:
        engine.dispose()


@pytest.mark.parametrize("seed", [7, 8])
def test_shuffled_extracts_give_identical_ids_and_exports(tmp_path: Path, seed: int) -> None:
    batch = tmp_path / "batch"
    write_batch(generate_batch(400, seed, AS_OF), batch)
    shuffled = _shuffled_copy(batch, tmp_path / "shuffled", seed)

    original = _run(batch, tmp_path / "a.db")
    again = _run(shuffled, tmp_path / "b.db")

    assert original["identity"].height > 1000
    assert original["candidates"].height > 10
    for name, frame in original.items():
        assert frame.equals(again[name]), f"{name} differ when the extracts' rows are shuffled"
