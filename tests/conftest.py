"""Shared fixtures: synthetic batches are generated once per session."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from hypothesis import settings

# `make check` (the fast tier) loads the "check" profile: property tests that set no example
# count of their own try 25 examples instead of Hypothesis's 100. `make test` runs the default.
settings.register_profile("check", max_examples=25)
settings.load_profile(os.environ.get("TFIDENT_HYPOTHESIS_PROFILE", "default"))

# Prefect's test server must not try to reach the internet from this closed network.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

AS_OF = date(2026, 10, 31)
REPO = Path(__file__).resolve().parents[1]
SAMPLE_BATCH = REPO / "sample_data" / "batch"


# The longest test files, longest first (seconds of test time without coverage, `pytest --junitxml`, 5 December
# 2026). `make test` hands whole files to its workers (`--dist loadfile --no-loadscope-reorder`) in collection
# order; collected first, these start at once and the hundreds of short unit files fill the end, instead of a
# long file started last keeping one worker busy while the others have nothing left (longest-first scheduling).
# A file missing from the list keeps its place after them; a stale list costs time, never a test.
LONGEST_FILES = (
    "tests/integration/test_resume.py",  # 98 s: a killed child process per stage
    "tests/flows/test_scheduled_run.py",  # 57 s: a Prefect server's scheduler, mostly waiting
    "tests/integration/test_spark_backend.py",  # 40 s
    "tests/web/test_review_accounts_browser.py",  # 31 s
    "tests/flows/test_monthly_flow.py",  # 29 s
    "tests/integration/test_incremental_months.py",  # 26 s
    "tests/unit/link/test_link_splink.py",  # 23 s
    "tests/integration/test_unattended_runs.py",  # 23 s
    "tests/benchmarks/test_linkage_bench.py",  # 22 s
    "tests/e2e/test_installed_wheel.py",  # 20 s
    "tests/integration/test_crash.py",  # 19 s
    "tests/web/test_review_case_summary_browser.py",  # 15 s
    "tests/integration/test_stable_ids.py",  # 13 s
    "tests/web/test_review_accessibility.py",  # 13 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests of :data:`LONGEST_FILES` first, longest file first; the rest keep their order."""
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}

    def key(item: pytest.Item) -> int:
        path = item.path
        return rank.get(path.relative_to(REPO).as_posix(), len(rank)) if path.is_relative_to(REPO) else len(rank)

    items.sort(key=key)


@pytest.fixture(autouse=True)
def _process_settings_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tfident --config DIR`` and ``serve --db URL`` set TFIDENT_CONFIG_DIR and TFIDENT_DATABASE_URL in the
    process on purpose (Prefect's workers and subprocesses read them); a command invoked in-process by a test
    must not leave them to the tests after it. Recorded as unset here, so monkeypatch removes them again.
    """
    for name in ("TFIDENT_CONFIG_DIR", "TFIDENT_DATABASE_URL"):
        if name not in os.environ:
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)


# argon2id with the production parameters (64 MiB, 3 passes, 4 lanes) costs about 0.2 CPU-seconds a hash or
# check, on purpose; the review tests sign in hundreds of times, so in-process tests hash with this cheap
# argon2id instead (hashes carry their parameters, so checks follow). Tests about the hashing itself (its
# parameters, the time an unknown name takes) are marked ``real_password_hashing`` and use the real one.
_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_CHEAP_DUMMY_HASH = _CHEAP_HASHER.hash("dummy password for unknown names")


@pytest.fixture(autouse=True)
def _cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash and check passwords with a cheap argon2id unless the test is marked ``real_password_hashing``."""
    if request.node.get_closest_marker("real_password_hashing") is None:
        from tfident.store import passwords

        monkeypatch.setattr(passwords, "_hasher", _CHEAP_HASHER)
        monkeypatch.setattr(passwords, "_DUMMY_HASH", _CHEAP_DUMMY_HASH)


@pytest.fixture(scope="session")
def as_of() -> date:
    """The batch date the synthetic batches are generated for."""
    return AS_OF


@pytest.fixture(scope="session")
def sample_batch() -> Path:
    """The committed sample batch (a few hundred households)."""
    return SAMPLE_BATCH


@pytest.fixture(scope="session")
def batch_5000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic batch of 5,000 households, seed 1, as the issue's acceptance run."""
    from tfident.synth import synthesise

    out = tmp_path_factory.mktemp("batch5000")
    synthesise(households=5000, seed=1, as_of=AS_OF, out=out)
    return out


@pytest.fixture(scope="session")
def postgres_url() -> str | None:
    """The PostgreSQL URL for store tests, or None where none is configured."""
    return os.environ.get("TFIDENT_TEST_POSTGRES_URL") or None
