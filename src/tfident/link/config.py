"""The linkage configuration (``config/linkage.yaml``): deterministic rules as data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tfident.config import CONFIG_DIR, StrictModel, load_model

KEY_COLUMNS: tuple[str, ...] = (
    "upn",
    "nino",
    "nhs_number",
    "pnc_id",
    "forename_std",
    "forename_first",
    "forename_canonical",
    "forename_variant",
    "forename_metaphone",
    "surname_std",
    "surname_token",
    "surname_metaphone",
    "date_of_birth",
    "dob_transposed",
    "uprn_matched",
    "postcode_std",
    "sex",
)
"""Columns a rule may block on (``forename_variant`` and ``surname_token`` are exploded lists)."""

Check = Literal[
    "forename_compatible",
    "forename_similar",
    "forename_missing_one_side",
    "surname_similar",
    "dob_compatible",
    "dob_near",
    "dob_missing_one_side",
    "sex_compatible",
]
"""Pairwise checks a candidate pair must pass (see ``tfident.link.rules``)."""


class Rule(StrictModel):
    """One deterministic rule: records agreeing on every ``block_on`` key (and passing every check) link.

    A key is a column name (both records must have the same non-null value) or
    ``left=right`` (the left record's ``left`` equals the right record's ``right``, as in
    ``dob_transposed=date_of_birth``).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    block_on: tuple[str, ...] = Field(min_length=1)
    checks: tuple[Check, ...] = ()
    probability: float = Field(gt=0.0, le=1.0)
    unique_partner: bool = False
    """Drop a record's edges under this rule when its partners disagree on forename or dob."""
    max_block: int = Field(default=200, ge=2)
    """Blocks larger than this (very common names at one address...) are skipped."""
    description: str = ""

    @field_validator("block_on")
    @classmethod
    def _known_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for key in keys:
            for part in key.split("="):
                if part not in KEY_COLUMNS:
                    raise ValueError(f"unknown key column {part!r}; expected one of {', '.join(KEY_COLUMNS)}")
        return keys


class Guards(StrictModel):
    """Checks made before two clusters of records are merged into one person."""

    conflicting_identifiers: tuple[Literal["upn", "nino", "nhs_number", "pnc_id"], ...] = (
        "upn",
        "nino",
        "nhs_number",
    )
    """Never merge two clusters holding different values of one of these identifiers."""
    dob: bool = True
    """Never merge two clusters none of whose dates of birth are compatible."""
    forename: bool = True
    """Never merge two clusters none of whose full forenames are compatible (twins)."""
    forename_similarity: float = Field(default=0.85, ge=0.0, le=1.0)
    """Jaro-Winkler similarity at or above which two forenames count as compatible."""


class LinkageConfig(StrictModel):
    """How person records are linked into persons."""

    version: str
    method: Literal["deterministic"] = "deterministic"
    rules: tuple[Rule, ...] = Field(min_length=1)
    guards: Guards = Guards()
    identical_probability: float = Field(default=0.995, gt=0.0, le=1.0)
    """Probability of the link between records identical in every linkage field."""
    surname_similarity: float = Field(default=0.88, ge=0.0, le=1.0)
    """Jaro-Winkler similarity at or above which two surnames count as similar."""

    @model_validator(mode="after")
    def _unique_names(self) -> LinkageConfig:
        names = [r.name for r in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique: {', '.join(duplicates)}")
        return self


def load_linkage_config(path: Path = CONFIG_DIR / "linkage.yaml") -> LinkageConfig:
    """Load and validate ``config/linkage.yaml`` (or ``path``)."""
    return load_model(path, LinkageConfig)
