"""The model file: the frozen person model ``tfident train`` writes and every run loads.

A model file is JSON: ``{"format", "version", "description", "training_data",
"splink_version", "settings"}``. ``settings`` is Splink's own model dictionary: the
comparisons (``tfident.link.comparisons``) with each level's SQL (``sql_condition``, in
the dialect of ``settings.sql_dialect``), m and u probabilities, and the prior
(``probability_two_random_records_match``); ``training_data`` says what it was trained
on; ``version`` is stored with each run. A monthly run loads the file and only predicts,
so the same inputs always give the same scores.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tfident.errors import ConfigError

MODEL_FORMAT = "tfident-person-model/1"
"""The ``format`` of the model files this version writes."""


def read_model(path: Path) -> dict[str, Any]:
    """The saved model (``{"version", "description", "training_data", "settings"}``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: linkage model not found; train one with `tfident train --extracts DIR`") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not a valid model file ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("settings"), dict) or not data.get("version"):
        raise ConfigError(f"{path}: not a tfident linkage model (needs 'version' and 'settings')")
    return data


def write_model(model: dict[str, Any], path: Path) -> None:
    """Write the model file (indented, keys in a stable order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def model_version(model: dict[str, Any]) -> str:
    """The model's ``version`` (stored with each run)."""
    return str(model.get("version", ""))


def prior_weight(model: dict[str, Any]) -> float:
    """The prior match weight, log2 of the prior odds."""
    p = float(model["settings"]["probability_two_random_records_match"])
    return math.log2(p / (1 - p))


def exact_level_u(model: dict[str, Any], column: str) -> float | None:
    """The u probability of the term-frequency-adjusted exact level on ``column``, if any."""
    for comparison in model.get("settings", {}).get("comparisons", []):
        for level in comparison["comparison_levels"]:
            if level.get("tf_adjustment_column") == column and level.get("u_probability"):
                return float(level["u_probability"])
    return None


def level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Per comparison, the label of each comparison vector value."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["settings"]["comparisons"]:
        levels = comparison["comparison_levels"]
        name = comparison["output_column_name"]
        values: dict[int, str] = {}
        n_non_null = sum(1 for level in levels if not level.get("is_null_level"))
        value = n_non_null - 1
        for level in levels:
            label = level.get("label_for_charts") or level["sql_condition"]
            if level.get("is_null_level"):
                values[-1] = label
            else:
                values[value] = label
                value -= 1
        labels[name] = values
    return labels
