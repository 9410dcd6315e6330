"""Training the person-linkage model without labels and freezing it as a versioned JSON file.

``tfident train`` standardises a batch as a run does, then estimates the model
(``model.train``) and writes ``{"format", "version", "description", "training_data",
"splink_version", "settings"}``: ``settings`` is Splink's own model dictionary (the
comparisons with their m and u probabilities and the prior); ``training_data`` says
what it was trained on (the extracts' file hashes, record and profile counts, the batch
date, the training date). Never train on batches whose results tests assert on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from tfident.link.config import LinkageConfig
from tfident.link.model import EM_BLOCKS, tf_tables, train
from tfident.link.rules import build_profiles

MODEL_FORMAT = "tfident-person-model/1"


def train_model(
    persons: pl.DataFrame,
    config: LinkageConfig,
    training_data: dict[str, Any],
    version: str | None = None,
    description: str = "",
    em_blocks: Sequence[Sequence[str]] = EM_BLOCKS,
) -> dict[str, Any]:
    """Estimate the model on ``persons`` (standardised, address-matched) and return the model file's content.

    ``em_blocks``: the blocks EM runs over (``model.EM_BLOCKS`` by default).
    """
    import splink

    profiles, _ = build_profiles(persons)
    settings = train(profiles, tf_tables(persons), config, em_blocks)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return {
        "format": MODEL_FORMAT,
        "version": version or f"person-{date.today():%Y%m%d}-{digest}",
        "description": description
        or "Fellegi-Sunter person model: u by random sampling, m by EM"
        " (blocks: each identifier; full name and date of birth)",
        "training_data": {**training_data, "records": persons.height, "profiles": profiles.height},
        "splink_version": splink.__version__,
        "settings": settings,
    }


def write_model(model: dict[str, Any], path: Path) -> None:
    """Write the model file (indented, keys in a stable order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, indent=2, sort_keys=False) + "\n", encoding="utf-8")
