"""Stage checkpoints' folders: one per run and database, so runs of one batch into two databases
sharing a checkpoint root keep theirs apart; checkpoints of the layout before are not used.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from tfident.checkpoints import CHECKPOINT_DIR_ENV, RUN_CACHE_FOLDER, StageCheckpoints, checkpoint_folder

FRAME = pl.DataFrame({"record_key": ["src:1"], "surname": ["SYNTHETIC"]})
A, B = "a" * 16, "b" * 16


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "checkpoints"
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(root))
    return root


def test_two_databases_keep_their_checkpoints_of_one_run_apart(root: Path) -> None:
    """Opening, saving and discarding one database's checkpoints of a run leaves the other's as they are;
    the run's folder goes with the last of them.
    """
    a = StageCheckpoints.open(root, "R1", A)
    a.save("standardise", {"records": FRAME})
    b = StageCheckpoints.open(root, "R1", B)
    assert b.completed == ()
    b.save("link", {"links": FRAME})
    assert (a.folder, b.folder) == (root / "R1" / A, root / "R1" / B)

    assert StageCheckpoints.open(root, "R1", A).completed == ("standardise",)
    assert StageCheckpoints.exist(root, "R1", A)
    assert StageCheckpoints.exist(root, "R1", B)
    a.discard()
    assert not a.folder.exists()
    reopened = StageCheckpoints.open(root, "R1", B)
    assert reopened.completed == ("link",)
    assert reopened.load("link") is not None
    reopened.discard()
    assert not (root / "R1").exists()
    assert root.is_dir()  # TFIDENT_CHECKPOINT_DIR is not removed


def test_the_default_root_is_removed_once_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without TFIDENT_CHECKPOINT_DIR, the last run's discard removes .tfident/checkpoints and .tfident;
    a run cache in it keeps them.
    """
    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)
    root = tmp_path / ".tfident" / "checkpoints"
    checkpoints = StageCheckpoints.open(root, "R1", A)
    checkpoints.save("standardise", {"records": FRAME})
    checkpoints.discard()
    assert not (tmp_path / ".tfident").exists()

    (root / RUN_CACHE_FOLDER / A).mkdir(parents=True)
    StageCheckpoints.open(root, "R1", A).discard()
    assert {p.name for p in root.iterdir()} == {RUN_CACHE_FOLDER}


def _to_old_layout(checkpoints: StageCheckpoints) -> Path:
    """Move a run's checkpoints to where tfident kept them before (``<root>/<run_id>/``)."""
    run_folder: Path = checkpoints.folder.parent
    for path in checkpoints.folder.iterdir():
        shutil.move(path, run_folder / path.name)
    checkpoints.folder.rmdir()
    return run_folder


def test_checkpoints_of_the_layout_before_are_deleted_with_a_warning(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """This database's checkpoints in the old layout are not used (every stage is computed) and are deleted,
    with a warning naming the run only; another database's are left for it.
    """
    old = StageCheckpoints.open(root, "R1", A)
    old.save("standardise", {"records": FRAME})
    run_folder = _to_old_layout(old)
    assert json.loads((run_folder / "manifest.json").read_text())["database"] == A

    with caplog.at_level("WARNING", logger="tfident.checkpoints"):
        assert StageCheckpoints.open(root, "R1", B).completed == ()
    assert caplog.text == ""
    assert (run_folder / "standardise.records.parquet").is_file()  # another database's: left alone
    assert StageCheckpoints.exist(root, "R2", A) is False

    with caplog.at_level("WARNING", logger="tfident.checkpoints"):
        reopened = StageCheckpoints.open(root, "R1", A)
    assert reopened.completed == ()
    assert "checkpoints of run R1 in the folder layout of an earlier tfident version are not used" in caplog.text
    assert "SYNTHETIC" not in caplog.text
    assert [p for p in run_folder.iterdir() if p.is_file()] == []


def test_a_run_id_or_database_key_that_cannot_name_a_folder_is_refused(root: Path) -> None:
    from tfident.errors import CannotResume

    with pytest.raises(CannotResume):
        checkpoint_folder(root, "../R1", A)
    with pytest.raises(CannotResume):
        checkpoint_folder(root, RUN_CACHE_FOLDER, A)
    with pytest.raises(ValueError, match="database key"):
        StageCheckpoints.open(root, "R1", "../x")
    assert StageCheckpoints.exist(root, "../R1", A) is False
