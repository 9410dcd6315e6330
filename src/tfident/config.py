"""Loading configuration files (YAML) into frozen pydantic models, and finding them.

Each stage declares its own models (``ingest.mapping``, ``criteria.pack``, ...); this
module only turns a file into a model, and a bad file into one ``ConfigError`` that
names the file, every bad key and what was expected.

Where files come from (layered, one whole file at a time):

1. the council's own folder, ``--config DIR`` or ``TFIDENT_CONFIG_DIR``: a file there
   (``sources.yaml``, ``criteria/phase2.yaml``, ``models/person_model.json``, ...)
   replaces the default of the same relative path;
2. the defaults shipped with tfident: the repository's ``config/`` in a checkout, a copy
   of it inside the package (``tfident/defaults``) in an installed wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from tfident.errors import ConfigError

CONFIG_DIR_ENV = "TFIDENT_CONFIG_DIR"
"""Environment variable: the council's config folder, layered over the defaults."""

_PACKAGED_DEFAULTS = Path(__file__).resolve().parent / "defaults"
_CHECKOUT_DEFAULTS = Path(__file__).resolve().parents[2] / "config"

DEFAULTS_DIR = _PACKAGED_DEFAULTS if _PACKAGED_DEFAULTS.is_dir() else _CHECKOUT_DEFAULTS
"""The default configuration shipped with tfident: inside the package in an installed
wheel, the repository's ``config/`` in a source checkout."""

CONFIG_DIR = DEFAULTS_DIR
"""Kept for readers of the defaults (tests, tools): prefer :func:`config_path`."""

ModelT = TypeVar("ModelT", bound=BaseModel)


def override_dir() -> Path | None:
    """The council's config folder (``TFIDENT_CONFIG_DIR``), or None; an error if it is not a folder."""
    configured = os.environ.get(CONFIG_DIR_ENV, "").strip()
    if not configured:
        return None
    path = Path(configured).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{CONFIG_DIR_ENV}={configured}: not a folder (expected a config folder such as config/)")
    return path


def config_dirs() -> list[Path]:
    """Config folders in the order files are looked up: the council's (if any), then the defaults."""
    own = override_dir()
    return [own, DEFAULTS_DIR] if own is not None else [DEFAULTS_DIR]


def config_path(relative: str | Path) -> Path:
    """The file ``relative`` (e.g. ``"sources.yaml"``) from the first config folder that has it.

    When no folder has it, the default's path is returned, so the error that follows
    names where tfident looked last.
    """
    for folder in config_dirs():
        candidate = folder / relative
        if candidate.exists():
            return candidate
    return DEFAULTS_DIR / relative


def writable_config_path(relative: str | Path) -> Path | None:
    """Where a file tfident writes into the configuration (a trained model) belongs: the council's folder
    when one is set, the checkout's ``config/`` in a source checkout, and None in an installed wheel (the
    shipped defaults are never overwritten).
    """
    own = override_dir()
    if own is not None:
        return own / relative
    return None if DEFAULTS_DIR == _PACKAGED_DEFAULTS else DEFAULTS_DIR / relative


def config_names(folder: str) -> list[str]:
    """Stems of the YAML files in ``folder`` (e.g. ``"criteria"``) across every config folder, sorted."""
    return sorted({p.stem for d in config_dirs() for p in (d / folder).glob("*.yaml")})


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors and values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def describe_validation_error(error: ValidationError, where: str) -> str:
    """Render a pydantic error as one message: the file, each bad key, what was expected."""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"  {key}: {item['msg']}")
    return f"{where}: invalid configuration\n" + "\n".join(problems)


def parse_model(data: Any, model: type[ModelT], where: str) -> ModelT:
    """Validate ``data`` as ``model``; raise ``ConfigError`` naming ``where`` and the keys."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, where)) from None


def load_yaml(path: Path) -> Any:
    """Read a YAML file, raising ``ConfigError`` when it is missing or not YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None


def load_model(path: Path, model: type[ModelT]) -> ModelT:
    """Load a YAML file into a frozen pydantic model, with one clear error if it is wrong."""
    return parse_model(load_yaml(path), model, str(path))


def config_hash(models: dict[str, BaseModel]) -> str:
    """SHA-256 of the resolved configuration, stable across key order."""
    payload = {name: model.model_dump(mode="json") for name, model in sorted(models.items())}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
