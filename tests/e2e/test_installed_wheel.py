"""The built wheel, installed into a fresh venv, runs a batch with a council's own config folder.

The wheel is built from the working tree with uv, installed with the lock's pinned
versions of its runtime dependencies only (no dev group, no extras), and driven through
its own ``tfident`` script from a folder outside the checkout with ``PYTHONPATH`` unset,
so nothing can come from the source tree. uv's cache makes this take seconds: the
dependencies are hard-linked from the cache the project's own ``uv sync`` filled.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-10-31"

# What an installed tfident reads besides its Python modules.
REQUIRED_IN_WHEEL = (
    "tfident/defaults/sources.yaml",
    "tfident/defaults/linkage.yaml",
    "tfident/defaults/addresses.yaml",
    "tfident/defaults/ranking.yaml",
    "tfident/defaults/retention.yaml",
    "tfident/defaults/models/person_model.json",
    "tfident/defaults/criteria/phase1.yaml",
    "tfident/defaults/criteria/phase2.yaml",
    "tfident/ingest/sources.yaml",
    "tfident/store/migrations/env.py",
    "tfident/store/migrations/script.py.mako",
    "tfident/review/templates/base.html",
    "tfident/review/static/app.css",
    "tfident/review/static/govuk/govuk-frontend.min.css",
)

# Inherited settings that would let the installed tfident see the checkout or another
# database, config folder or Prefect server than the test's own.
_SCRUBBED = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONSAFEPATH",
    "PYTHONPYCACHEPREFIX",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
)
_SCRUBBED_PREFIXES = ("TFIDENT_", "PREFECT_API_", "UV_PROJECT_ENVIRONMENT")


def _uv() -> Path:
    """Uv from the environment running the tests (the lock pins it in the dev group)."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return beside
    found = shutil.which("uv")
    if found is None:
        pytest.fail(f"uv not found beside {sys.executable} nor on PATH: run `make install`")
    return Path(found)


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything pointing at the checkout or the developer's tfident settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _SCRUBBED and not key.startswith(_SCRUBBED_PREFIXES)
    }
    env.update(extra)
    return env


def _run(args: Sequence[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _uv_offline_first(args: Sequence[str | Path], cwd: Path, env: dict[str, str]) -> None:
    """Run a uv command from the cache alone, or with the package index when the cache lacks something."""
    offline = _run([_uv(), *args, "--offline"], cwd, env)
    if offline.returncode != 0:
        _ok(_run([_uv(), *args], cwd, env))


@dataclass(frozen=True)
class Installed:
    """A fresh venv with the wheel installed, and a working folder outside the checkout."""

    wheel: Path
    venv: Path
    work: Path
    seconds: dict[str, float]

    @property
    def tfident(self) -> Path:
        return self.venv / "bin" / "tfident"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from the working tree and install it, with the lock's runtime pins, into a new venv."""
    root = tmp_path_factory.mktemp("wheel")
    assert not root.resolve().is_relative_to(REPO), "the temporary folder must lie outside the checkout"
    env = _clean_env()
    seconds: dict[str, float] = {}

    start = time.perf_counter()
    _uv_offline_first(["build", "--wheel", "--out-dir", root / "dist", "--quiet", REPO], REPO, env)
    (wheel,) = (root / "dist").glob("tfident-*.whl")
    seconds["build"] = time.perf_counter() - start

    start = time.perf_counter()
    requirements = _ok(
        _run(
            [_uv(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet"],
            REPO,
            env,
        )
    )
    (root / "requirements.txt").write_text(requirements, encoding="utf-8")
    venv = root / "venv"
    _ok(_run([_uv(), "venv", "--quiet", "--python", sys.executable, venv], root, env))
    _uv_offline_first(
        ["pip", "install", "--quiet", "--python", venv / "bin" / "python", "-r", root / "requirements.txt", wheel],
        root,
        env,
    )
    seconds["install"] = time.perf_counter() - start

    work = root / "work"
    work.mkdir()
    return Installed(wheel=wheel, venv=venv, work=work, seconds=seconds)


@pytest.fixture(scope="module")
def batch(installed: Installed) -> Path:
    """A 60-household synthetic batch written by the installed tfident."""
    _ok(
        _run(
            [installed.tfident, "synth", "--households", "60", "--seed", "3", "--as-of", AS_OF, "--out", "batch"],
            installed.work,
            _clean_env(),
        )
    )
    return installed.work / "batch"


def _probe(installed: Installed, code: str) -> dict[str, object]:
    """Run ``code`` (which prints one JSON object) in the new venv's Python from the working folder."""
    result: dict[str, object] = json.loads(_ok(_run([installed.python, "-c", code], installed.work, _clean_env())))
    return result


def _local_ranking(installed: Installed, folder: str, edit: tuple[str, str]) -> Path:
    """A council folder holding only ranking.yaml: the installed default with one line edited."""
    info = _probe(installed, "import json, tfident.config as c; print(json.dumps({'d': str(c.DEFAULTS_DIR)}))")
    text = (Path(str(info["d"])) / "ranking.yaml").read_text(encoding="utf-8")
    old, new = edit
    assert text.count(old) == 1, f"{old!r} should occur once in the default ranking.yaml"
    local = installed.work / folder
    local.mkdir()
    (local / "ranking.yaml").write_text(text.replace(old, new), encoding="utf-8")
    return local


def test_the_wheel_ships_the_defaults_migrations_and_review_files(installed: Installed) -> None:
    """The wheel holds every default config file, migration, template and static file, and no caches."""
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert [name for name in REQUIRED_IN_WHEEL if name not in names] == []
    assert [name for name in names if "__pycache__" in name or name.endswith(".pyc")] == []
    migrations = {p.name for p in (REPO / "src/tfident/store/migrations/versions").glob("*.py")}
    assert migrations
    assert {n.rsplit("/", 1)[-1] for n in names if n.startswith("tfident/store/migrations/versions/")} >= migrations
    if shutil.which("git") and (REPO / ".git").exists():
        # Everything git would keep (tracked, or new and not ignored) ships; ignored files
        # such as a council's config/local/ do not.
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "config", "src/tfident"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        present = [p for p in listed if (REPO / p).is_file()]
        expected = {
            "tfident/defaults/" + p.removeprefix("config/") if p.startswith("config/") else p.removeprefix("src/")
            for p in present
        }
        packaged = {n for n in names if not n.startswith("tfident-")}
        assert sorted(expected - packaged) == []
        assert sorted(packaged - expected) == []


def test_the_installed_package_is_used_and_nothing_of_the_checkout(installed: Installed) -> None:
    """Tfident imports from the new venv's site-packages, finds its defaults inside the package, has no dev tools."""
    info = _probe(
        installed,
        "import importlib.util, json, sys, sysconfig, tfident, tfident.config as c; print(json.dumps({"
        "'file': tfident.__file__, 'defaults': str(c.DEFAULTS_DIR), 'purelib': sysconfig.get_paths()['purelib'],"
        "'path': sys.path, 'dev': [m for m in ('pytest', 'hypothesis', 'prefect', 'pyspark')"
        " if importlib.util.find_spec(m)]}))",
    )
    purelib = Path(str(info["purelib"])).resolve()
    package = Path(str(info["file"])).resolve().parent
    assert purelib.is_relative_to(installed.venv.resolve())
    assert package == purelib / "tfident"
    assert Path(str(info["defaults"])).resolve() == package / "defaults"
    sys_path = info["path"]
    assert isinstance(sys_path, list)
    assert [p for p in sys_path if p and Path(p).resolve().is_relative_to(REPO)] == []
    assert info["dev"] == [], "dev tools and optional extras must not be installed"
    assert not installed.work.resolve().is_relative_to(REPO)
    print(f"wheel build {installed.seconds['build']:.1f} s, venv and install {installed.seconds['install']:.1f} s")


def test_the_installed_tfident_runs_a_batch_with_a_local_config_folder(installed: Installed, batch: Path) -> None:
    """Run with --config LOCAL (one overridden file) and TFIDENT_DATABASE_URL succeeds, uses it, and exports."""
    local = _local_ranking(installed, "local", ('version: "2026.1"', 'version: "2026.1-local"'))
    database = installed.work / "db" / "t.db"
    database.parent.mkdir()
    env = _clean_env(TFIDENT_DATABASE_URL=f"sqlite:///{database}")

    default_hash = _probe(
        installed,
        "import json; from tfident.pipeline import load_run_config; print(json.dumps({'h': load_run_config().hash}))",
    )["h"]
    stdout = _ok(
        _run([installed.tfident, "--config", local, "run", "--extracts", batch, "--as-of", AS_OF], installed.work, env)
    )
    run_id = stdout.strip()
    assert run_id.startswith("R20261031-"), stdout
    assert not (installed.work / "tfident.db").exists(), "the database comes from TFIDENT_DATABASE_URL"

    runs = json.loads(_ok(_run([installed.tfident, "runs", "--json"], installed.work, env)))
    assert [(r["run_id"], r["status"]) for r in runs] == [(run_id, "published")]
    assert runs[0]["config_hash"] != default_hash, "the local ranking.yaml changes the resolved configuration"
    with sqlite3.connect(database) as connection:
        (config_json,) = connection.execute("SELECT config_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    assert json.loads(config_json)["ranking"]["version"] == "2026.1-local"

    _ok(_run([installed.tfident, "export", "--run", "latest", "--out", "export"], installed.work, env))
    with (installed.work / "export" / "candidates.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "seed 3 gives candidate families"
    assert {row["run_id"] for row in rows} == {run_id}


def test_a_bad_key_in_the_local_config_folder_exits_2_naming_the_file_and_key(
    installed: Installed, batch: Path
) -> None:
    """A misspelt key in the council's ranking.yaml is one message naming that file and the key, exit 2."""
    local = _local_ranking(installed, "bad", ("severity:\n", "severity:\n  evidence_kap: 5\n"))
    database = installed.work / "bad.db"
    env = _clean_env(TFIDENT_DATABASE_URL=f"sqlite:///{database}")
    result = _run(
        [installed.tfident, "--config", local, "run", "--extracts", batch, "--as-of", AS_OF], installed.work, env
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("invalid configuration") == 1, result.stderr
    assert f"{(local / 'ranking.yaml').resolve()}: invalid configuration" in result.stderr
    assert "severity.evidence_kap" in result.stderr
    assert "Traceback" not in result.stderr
