"""Config folders layered over the shipped defaults, and the database named by the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfident import config
from tfident.config import config_names, config_path, writable_config_path
from tfident.errors import ConfigError, StoreError
from tfident.pipeline import load_run_config
from tfident.store.engine import default_url


def test_a_councils_file_replaces_the_default_of_the_same_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files the council's folder has win; the rest come from the defaults; new packs are listed."""
    (tmp_path / "criteria").mkdir()
    (tmp_path / "criteria" / "local.yaml").write_text("not: a pack\n")
    (tmp_path / "ranking.yaml").write_text((config.DEFAULTS_DIR / "ranking.yaml").read_text())
    monkeypatch.setenv("TFIDENT_CONFIG_DIR", str(tmp_path))
    assert config_path("ranking.yaml") == tmp_path / "ranking.yaml"
    assert config_path("sources.yaml") == config.DEFAULTS_DIR / "sources.yaml"
    assert config_path("models/person_model.json") == config.DEFAULTS_DIR / "models" / "person_model.json"
    assert {"phase1", "phase2", "local"} <= set(config_names("criteria"))


def test_an_override_changes_the_run_config_and_its_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed value in the council's ranking.yaml reaches the run's config (and so its run id)."""
    monkeypatch.delenv("TFIDENT_CONFIG_DIR", raising=False)
    default = load_run_config("phase1")
    text = (config.DEFAULTS_DIR / "ranking.yaml").read_text()
    (tmp_path / "ranking.yaml").write_text(text.replace("version:", "version: local-", 1))
    monkeypatch.setenv("TFIDENT_CONFIG_DIR", str(tmp_path))
    local = load_run_config("phase1")
    assert local.hash != default.hash
    assert local.linkage == default.linkage


def test_a_config_folder_that_is_not_a_folder_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TFIDENT_CONFIG_DIR naming nothing stops every loader with the variable named."""
    monkeypatch.setenv("TFIDENT_CONFIG_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"TFIDENT_CONFIG_DIR=.*not a folder"):
        config_path("sources.yaml")


def test_a_trained_model_is_written_to_the_councils_folder_never_the_installed_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkout: config/; with a council folder: there; installed wheel without one: nowhere (ask for --out)."""
    monkeypatch.delenv("TFIDENT_CONFIG_DIR", raising=False)
    assert writable_config_path("models/m.json") == config.DEFAULTS_DIR / "models" / "m.json"
    monkeypatch.setattr(config, "DEFAULTS_DIR", config._PACKAGED_DEFAULTS)
    assert writable_config_path("models/m.json") is None
    monkeypatch.setenv("TFIDENT_CONFIG_DIR", str(tmp_path))
    assert writable_config_path("models/m.json") == tmp_path / "models" / "m.json"


def test_the_database_url_comes_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TFIDENT_DATABASE_URL first, then the first non-blank line of TFIDENT_DATABASE_URL_FILE, then SQLite."""
    monkeypatch.delenv("TFIDENT_DATABASE_URL", raising=False)
    monkeypatch.delenv("TFIDENT_DATABASE_URL_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_url() == f"sqlite:///{tmp_path / 'tfident.db'}"
    secret = tmp_path / "db-url"
    secret.write_text("\n  postgresql+psycopg://app:s3cret@db/tfident  \n")
    monkeypatch.setenv("TFIDENT_DATABASE_URL_FILE", str(secret))
    assert default_url() == "postgresql+psycopg://app:s3cret@db/tfident"
    monkeypatch.setenv("TFIDENT_DATABASE_URL", "sqlite:///elsewhere.db")
    assert default_url() == "sqlite:///elsewhere.db"
    monkeypatch.delenv("TFIDENT_DATABASE_URL")
    secret.write_text("\n")
    with pytest.raises(StoreError, match="is empty"):
        default_url()
    monkeypatch.setenv("TFIDENT_DATABASE_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(StoreError, match="cannot read it"):
        default_url()
