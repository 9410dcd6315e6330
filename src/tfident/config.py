"""Loading configuration files (YAML) into frozen pydantic models.

Each stage declares its own models (``ingest.mapping``, ``criteria.pack``, ...); this
module only turns a file into a model, and a bad file into one ``ConfigError`` that
names the file, every bad key and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from tfident.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
"""The repository's committed config folder (used when running from a checkout)."""

ModelT = TypeVar("ModelT", bound=BaseModel)


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
