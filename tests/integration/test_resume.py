"""Crash recovery: a run killed between stages leaves nothing visible, and ``--resume`` finishes it.

The killed run is a separate process running ``tfident run`` on the sample batch, with
the checkpoint writer (or, for ``ingest``, the start of the run in the store) patched to
SIGKILL the process right after the given stage is done. Afterwards readers still see
the previous run only; then ``tfident run --resume RUN_ID`` (or a plain re-run) finishes
the run, and its exports are byte-identical to those of an uninterrupted run into
another database. Run as a script, this file is the run that gets killed. Tests about what
resume does with a damaged checkpoint or a changed input, where the kill is not the point,
stop the run in-process instead (:func:`stop_after`).
"""

from __future__ import annotations

import os
import signal
import sys


def killed_run(url: str, extracts: str, stage: str) -> None:
    """Run ``tfident run`` and SIGKILL this process right after ``stage`` (the child side of the tests)."""
    from tfident import runner
    from tfident.checkpoints import StageCheckpoints
    from tfident.cli import app

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    from tfident.pipeline import CHECKPOINTED_STAGES

    if stage not in CHECKPOINTED_STAGES:  # ingest and checks have none: die once the run is recorded as running
        start_run = runner.start_run

        def start_then_die(*args, **kwargs):  # type: ignore[no-untyped-def]
            start_run(*args, **kwargs)
            die()

        runner.start_run = start_then_die  # type: ignore[assignment]
    else:
        save = StageCheckpoints.save

        def save_then_die(self, name, frames):  # type: ignore[no-untyped-def]
            save(self, name, frames)
            if name == stage:
                die()

        StageCheckpoints.save = save_then_die  # type: ignore[method-assign]
    try:
        app(["run", "--extracts", extracts, "--as-of", "2026-10-31", "--db", url, "--no-prefect"])
    finally:
        sys.stderr.write("the run was not killed\n")
        os._exit(3)


if __name__ == "__main__":
    killed_run(*sys.argv[1:4])


# ---------------------------------------------------------------------------- tests

import json  # noqa: E402 - the child process above needs none of these
import shutil  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator, Mapping  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import polars as pl  # noqa: E402
import pytest  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from tests.integration.run_rows import rows_of  # noqa: E402
from tfident.checkpoints import CHECKPOINT_DIR_ENV, RUN_CACHE_FOLDER, checkpoint_folder  # noqa: E402
from tfident.cli import app  # noqa: E402
from tfident.pipeline import CHECKPOINTED_STAGES, STAGES  # noqa: E402
from tfident.runner import _database_key  # noqa: E402
from tfident.store import (  # noqa: E402
    RUN_TABLES,
    RunRecord,
    export_run,
    latest_run_id,
    list_runs,
    write_run,
)

SEPTEMBER_RUN = "R-september"


def invoke(*args: str, code: int = 0) -> tuple[str, str]:
    """Run the command line in this process; return its stdout and stderr."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.stdout, result.stderr


def exports(engine: Engine, run_id: str, out: Path) -> dict[str, bytes]:
    """The export files of a run, by name."""
    export_run(engine, run_id, out)
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


def seed_september(engine: Engine) -> None:
    """A small published run of the month before, which must stay the latest while October is killed."""
    households = pl.DataFrame(
        {
            "household_id": ["H1", "H2"],
            "address": ["1 HIGH STREET"] * 2,
            "postcode": ["AB1 2CD"] * 2,
            "n_members": [1, 1],
        }
    )
    persons = pl.DataFrame({"person_id": ["P1", "P2"], "household_id": ["H1", "H2"]})
    records = pl.DataFrame(
        {
            "record_key": ["src:1", "src:2"],
            "source": ["src", "src"],
            "record_id": ["1", "2"],
            "person_id": ["P1", "P2"],
            "household_id": ["H1", "H2"],
            "forename": ["A", "B"],
            "surname": ["C", "D"],
        }
    )
    candidates = households.head(1).with_columns(rank=pl.lit(1), score=pl.lit(2.0), criteria_met=pl.lit("crime_asb"))
    record = RunRecord(
        run_id=SEPTEMBER_RUN,
        as_of=date(2026, 9, 30),
        ruleset_id="phase1",
        ruleset_version="TF1_2012",
        linkage_model_version="linkage-1",
        config_json="{}",
        config_hash="c" * 64,
    )
    write_run(
        engine,
        record,
        {"households": households, "persons": persons, "source_records": records, "candidates": candidates},
    )


@pytest.fixture(scope="module")
def uninterrupted(sample_batch: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, bytes]]:
    """The run id and export files of an uninterrupted run of the sample batch into its own database
    (after the same September run as the killed runs, which October's ids carry over from).
    """
    from tfident.store import init_db, make_engine

    folder = tmp_path_factory.mktemp("uninterrupted")
    db = f"sqlite:///{folder / 'tfident.db'}"
    engine = make_engine(db)
    try:
        init_db(engine)
        seed_september(engine)
        stdout, _ = invoke("run", "--extracts", str(sample_batch), "--as-of", "2026-10-31", "--db", db, "--no-prefect")
        run_id = stdout.strip().splitlines()[-1]
        return run_id, exports(engine, run_id, folder / "export")
    finally:
        engine.dispose()


@pytest.fixture
def batch(sample_batch: Path, tmp_path: Path) -> Path:
    """A copy of the sample batch that a test may change."""
    copy = tmp_path / "batch"
    shutil.copytree(sample_batch, copy, ignore=shutil.ignore_patterns("truth"))
    return copy


@pytest.fixture
def checkpoint_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's runs keep their checkpoints (``TFIDENT_CHECKPOINT_DIR``)."""
    root = tmp_path / "checkpoints"
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(root))
    return root


def kill_after(stage: str, store_url: str, batch: Path) -> None:
    """Run ``tfident run`` on ``batch`` in a child process that is SIGKILLed right after ``stage``."""
    child = subprocess.run(
        [sys.executable, __file__, store_url, str(batch), stage],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert child.returncode == -signal.SIGKILL, child.stderr


class _Stopped(BaseException):
    """Ends an in-process run the way SIGKILL ends a child: nothing after the stage runs."""


def stop_after(stage: str, store_url: str, batch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave the state a run killed right after checkpointed ``stage`` leaves (still ``running``, its
    checkpoints saved), without a child process: for tests where the kill itself is not the point.

    The run is stopped by an exception no handler of the run catches, and the failure records a killed
    process never writes (``failed`` status, notification) are switched off meanwhile.
    """
    from tfident import runner
    from tfident.checkpoints import StageCheckpoints

    assert stage in CHECKPOINTED_STAGES
    save = StageCheckpoints.save

    def save_then_stop(self: StageCheckpoints, name: str, frames: Mapping[str, pl.DataFrame]) -> None:
        save(self, name, frames)
        if name == stage:
            raise _Stopped

    with monkeypatch.context() as patch:
        patch.setattr(StageCheckpoints, "save", save_then_stop)
        patch.setattr(runner, "fail_run", lambda *args, **kwargs: None)
        patch.setattr(runner, "_after_failure", lambda *args, **kwargs: None)
        args = ["run", "--extracts", str(batch), "--as-of", "2026-10-31", "--db", store_url, "--no-prefect"]
        with pytest.raises(_Stopped):
            CliRunner().invoke(app, args, catch_exceptions=False)


def killed_run_id(engine: Engine) -> str:
    """The id of the October run the child started, which must be ``running``."""
    runs = list_runs(engine, month="2026-10")
    assert runs.height == 1
    assert runs["status"].to_list() == ["running"]
    return runs["run_id"].item()


# A stage without checkpoints (ingest, checks) is killed at one point, once the run is recorded as
# running (see killed_run): the first such stage stands for them all.
KILL_POINTS = (*[name for name in STAGES if name not in CHECKPOINTED_STAGES][:1], *CHECKPOINTED_STAGES)

# Every kill point on SQLite; on PostgreSQL the first, the link stage and the last: until the store
# stage nothing of the run is in the database but its "running" row, so the other kill points test
# the checkpoints again, not the database (they cost about 6 s each).
POSTGRES_KILL_POINTS = (KILL_POINTS[0], "link", KILL_POINTS[-1])
KILLS = [
    *[pytest.param("sqlite", stage, id=f"sqlite-{stage}") for stage in KILL_POINTS],
    *[
        pytest.param("postgresql", stage, id=f"postgresql-{stage}", marks=pytest.mark.postgres)
        for stage in POSTGRES_KILL_POINTS
    ],
]


@pytest.mark.parametrize(("store_url", "stage"), KILLS, indirect=["store_url"])
def test_a_run_killed_after_any_stage_shows_nothing_and_resumes_to_the_same_exports(
    engine: Engine,
    store_url: str,
    batch: Path,
    checkpoint_root: Path,
    uninterrupted: tuple[str, dict[str, bytes]],
    tmp_path: Path,
    stage: str,
) -> None:
    """It keeps the killed run unreadable, then `--resume` computes only the remaining stages and publishes it."""
    seed_september(engine)
    before = exports(engine, SEPTEMBER_RUN, tmp_path / "before")

    kill_after(stage, store_url, batch)

    assert latest_run_id(engine) == SEPTEMBER_RUN
    assert exports(engine, SEPTEMBER_RUN, tmp_path / "after") == before
    run_id = killed_run_id(engine)
    assert run_id == uninterrupted[0]
    assert set(rows_of(engine, run_id, RUN_TABLES).values()) == {0}
    folder = checkpoint_folder(checkpoint_root, run_id, _database_key(engine))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    done = [name for name in STAGES[: STAGES.index(stage) + 1] if name in CHECKPOINTED_STAGES]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [entry["stage"] for entry in manifest["stages"]] == done
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    invoke("export", "--run", run_id, "--out", str(tmp_path / "none"), "--db", store_url, code=2)

    stdout, stderr = invoke("run", "--resume", run_id, "--db", store_url)
    assert stdout.strip().splitlines()[-1] == run_id
    if done:
        assert f"stages {', '.join(done)} restored from checkpoints" in " ".join(stderr.split())

    assert latest_run_id(engine) == run_id
    assert exports(engine, run_id, tmp_path / "resumed") == uninterrupted[1]
    assert not folder.parent.exists()
    statuses = dict(zip(*list_runs(engine).select("run_id", "status").to_dict(as_series=False).values(), strict=True))
    assert statuses == {run_id: "published", SEPTEMBER_RUN: "published"}


def test_a_plain_rerun_of_the_same_inputs_resumes_from_the_checkpoints(
    engine: Engine,
    store_url: str,
    batch: Path,
    checkpoint_root: Path,
    uninterrupted: tuple[str, dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It says on stderr that it resumes the unfinished run, and publishes the same exports (the kill itself is
    the kill-point tests' subject: here the run is stopped in-process, leaving the same state).
    """
    seed_september(engine)
    stop_after("criteria", store_url, batch, monkeypatch)
    run_id = killed_run_id(engine)

    stdout, stderr = invoke("run", "--extracts", str(batch), "--as-of", "2026-10-31", "--db", store_url, "--no-prefect")
    assert stdout.strip().splitlines()[-1] == run_id
    assert f"Resuming run {run_id} (running)" in " ".join(stderr.split())
    assert exports(engine, run_id, tmp_path / "resumed") == uninterrupted[1]
    assert not (checkpoint_root / run_id).exists()


def test_a_damaged_checkpoint_is_computed_again(
    engine: Engine,
    store_url: str,
    batch: Path,
    checkpoint_root: Path,
    uninterrupted: tuple[str, dict[str, bytes]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It recomputes a stage whose checkpoint file no longer matches its hash, and every later stage."""
    seed_september(engine)
    stop_after("households", store_url, batch, monkeypatch)
    run_id = killed_run_id(engine)
    folder = checkpoint_folder(checkpoint_root, run_id, _database_key(engine))
    with (folder / "link.links.parquet").open("ab") as handle:
        handle.write(b"damage")

    with caplog.at_level("WARNING", logger="tfident.checkpoints"):
        _, stderr = invoke("run", "--resume", run_id, "--db", store_url)
    assert "checkpoint of stage link" in caplog.text
    assert "stages standardise, link, households restored" in " ".join(stderr.split())
    assert exports(engine, run_id, tmp_path / "resumed") == uninterrupted[1]


def test_resume_of_an_unknown_run_exits_2(engine: Engine, store_url: str) -> None:
    """It says the run is not in the database and there is nothing to resume."""
    result = CliRunner().invoke(app, ["run", "--resume", "R20261031-0123456789", "--db", store_url])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "run 'R20261031-0123456789' not found" in message
    assert "nothing to resume" in message


def test_resume_after_an_input_file_changed_exits_2_naming_it(
    engine: Engine, store_url: str, batch: Path, checkpoint_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It refuses to finish a run whose extracts changed since it started, naming the file."""
    stop_after("link", store_url, batch, monkeypatch)
    run_id = killed_run_id(engine)
    with (batch / "benefits.csv").open("a", encoding="utf-8") as handle:
        handle.write("\n")

    result = CliRunner().invoke(app, ["run", "--resume", run_id, "--db", store_url])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "benefits.csv has changed since run" in message
    assert "start a new run" in message
    assert latest_run_id(engine) is None
    assert killed_run_id(engine) == run_id  # still unfinished, and still not readable


def test_resume_of_a_published_run_changes_nothing(
    engine: Engine, store_url: str, uninterrupted: tuple[str, dict[str, bytes]]
) -> None:
    """It exits 0 saying the run is already published."""
    seed_september(engine)
    _, stderr = invoke("run", "--resume", SEPTEMBER_RUN, "--db", store_url)
    assert "already published: nothing to resume" in " ".join(stderr.split())


def test_resume_takes_no_extracts_or_batch_date(tmp_path: Path, batch: Path) -> None:
    """It is a usage error to give --extracts or --as-of with --resume."""
    db = f"sqlite:///{tmp_path / 'tfident.db'}"
    result = CliRunner().invoke(app, ["run", "--resume", "R1", "--extracts", str(batch), "--db", db])
    assert result.exit_code == 2
    assert "--resume" in result.output


def test_a_run_that_fails_in_a_stage_is_recorded_failed_and_resumes(
    engine: Engine,
    store_url: str,
    batch: Path,
    checkpoint_root: Path,
    uninterrupted: tuple[str, dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It records the stage it stopped in (no personal data), keeps the checkpoints, and `--resume` finishes it."""
    from dataclasses import replace

    from tfident import pipeline
    from tfident.store import read_run

    seed_september(engine)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the file share went away")

    with monkeypatch.context() as patch:
        nodes = tuple(replace(n, func=broken) if n.name == "criteria" else n for n in pipeline.NODES)
        patch.setattr(pipeline, "NODES", nodes)
        args = ["run", "--extracts", str(batch), "--as-of", "2026-10-31", "--db", store_url, "--no-prefect"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    run_id = list_runs(engine, month="2026-10")["run_id"].item()
    info = read_run(engine, run_id)
    assert info.status == "failed"
    assert info.error is not None
    assert "stopped in stage criteria: bug (exit 1): internal error RuntimeError" in info.error
    assert f"tfident run --resume {run_id}" in info.error
    assert latest_run_id(engine) == SEPTEMBER_RUN

    _, stderr = invoke("run", "--resume", run_id, "--db", store_url)
    assert "stages standardise, link, households, identity restored" in " ".join(stderr.split())
    assert exports(engine, run_id, tmp_path / "resumed") == uninterrupted[1]


@pytest.fixture
def two_databases(
    tmp_path: Path, migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, tuple[str, Engine]]]:
    """Two SQLite databases in one folder (so one default checkpoint root, ``.tfident/checkpoints`` beside
    them), each with the September run: their URLs and engines by file stem.
    """
    from tfident.store import init_db, make_engine

    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)
    folder = tmp_path / "databases"
    folder.mkdir()
    databases = {}
    for name in ("a", "b"):
        shutil.copyfile(migrated_sqlite, folder / f"{name}.db")
        url = f"sqlite:///{folder / name}.db"
        engine = make_engine(url)
        init_db(engine)
        seed_september(engine)
        databases[name] = (url, engine)
    yield databases
    for _, engine in databases.values():
        engine.dispose()


def test_runs_of_one_batch_into_two_databases_keep_their_own_checkpoints(
    two_databases: dict[str, tuple[str, Engine]],
    batch: Path,
    uninterrupted: tuple[str, dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same batch run into two databases whose checkpoint root is one (two SQLite files in one folder)
    gives the same run id in both: a run stopped part-way in one keeps its checkpoints while the other
    database's run of the batch stops, resumes and publishes, and each resumes from its own stages.
    """
    (a_url, a_engine), (b_url, b_engine) = two_databases["a"], two_databases["b"]
    stop_after("households", a_url, batch, monkeypatch)
    stop_after("link", b_url, batch, monkeypatch)
    run_id = killed_run_id(a_engine)
    assert killed_run_id(b_engine) == run_id == uninterrupted[0]

    _, stderr = invoke("run", "--resume", run_id, "--db", b_url)
    assert "stages standardise, link restored" in " ".join(stderr.split())
    assert exports(b_engine, run_id, tmp_path / "b") == uninterrupted[1]

    _, stderr = invoke("run", "--resume", run_id, "--db", a_url)
    assert "stages standardise, link, households restored" in " ".join(stderr.split())
    assert exports(a_engine, run_id, tmp_path / "a") == uninterrupted[1]
    root = tmp_path / "databases" / ".tfident" / "checkpoints"
    assert not (root / run_id).exists()  # every checkpoint deleted, and the run's folder
    assert {p.name for p in root.iterdir()} <= {RUN_CACHE_FOLDER}


_CLI = "import sys; from tfident.cli import app; app(sys.argv[1:])"


def test_concurrent_runs_of_one_batch_into_two_databases_both_publish(
    two_databases: dict[str, tuple[str, Engine]],
    batch: Path,
    uninterrupted: tuple[str, dict[str, bytes]],
    tmp_path: Path,
) -> None:
    """Two processes running the same batch at once into two SQLite files of one folder (one checkpoint
    root, one run id) both publish the run an uninterrupted lone run gives.
    """
    children = {
        name: subprocess.Popen(
            [sys.executable, "-c", _CLI, "run", "--extracts", str(batch), "--as-of", "2026-10-31"]
            + ["--db", url, "--no-prefect"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for name, (url, _) in two_databases.items()
    }
    for name, child in children.items():
        stdout, stderr = child.communicate(timeout=600)
        assert child.returncode == 0, f"the run into {name}.db failed: {stderr}"
        assert stdout.strip().splitlines()[-1] == uninterrupted[0]
    for name, (_, engine) in two_databases.items():
        assert exports(engine, uninterrupted[0], tmp_path / name) == uninterrupted[1]
    root = tmp_path / "databases" / ".tfident" / "checkpoints"
    assert not (root / uninterrupted[0]).exists()
    assert {p.name for p in root.iterdir()} <= {RUN_CACHE_FOLDER}
