"""The link thresholds of a run, read defensively from the configuration stored with it.

A run stores its resolved configuration as JSON (``runs.config_json``); the ``linkage``
section may name a ``match_threshold`` (pairs at or above it were linked) and a
``review_threshold`` (links below it are flagged for a coordinator to check). Older runs
and deterministic linkage do not name them, so anything missing, malformed or outside
0-1 falls back to the fixed defaults. A bad stored config never breaks a page.

The linkage configuration a run stores (:class:`tfident.link.config.LinkageConfig`) has
``thresholds: {match, uncertain}``: pairs at or above ``match`` link and pairs in
``[uncertain, match)`` are kept as "uncertain" links for clerical review, so without an
explicit review threshold, links below the configured ``match`` are the ones flagged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MATCH_THRESHOLD = 0.5
DEFAULT_REVIEW_THRESHOLD = 0.95

_SECTIONS = ("thresholds", "splink", "model", "probabilistic")
"""Sub-sections of ``linkage`` where thresholds may also be kept, checked after the top level."""


@dataclass(frozen=True)
class LinkThresholds:
    """The probability a pair needed to be linked, and below which a link is flagged for review."""

    match: float = DEFAULT_MATCH_THRESHOLD
    review: float = DEFAULT_REVIEW_THRESHOLD
    from_config: bool = False
    """Whether either value came from the run's stored config (else both are defaults)."""


def _probability(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and 0.0 <= number <= 1.0 else None


def _find(linkage: Mapping[str, Any], *names: str) -> float | None:
    for name in names:
        found = _probability(linkage.get(name))
        if found is not None:
            return found
    for section in _SECTIONS:
        nested = linkage.get(section)
        if isinstance(nested, Mapping):
            for name in (*names, *(n.removesuffix("_threshold") for n in names)):
                found = _probability(nested.get(name))
                if found is not None:
                    return found
    return None


def link_thresholds(config_json: str | Mapping[str, Any] | None) -> LinkThresholds:
    """The thresholds in a run's stored config (its ``linkage`` section), defaults where absent."""
    config: Any = config_json
    if isinstance(config_json, str | bytes):
        try:
            config = json.loads(config_json)
        except ValueError:
            return LinkThresholds()
    linkage = config.get("linkage") if isinstance(config, Mapping) else None
    if not isinstance(linkage, Mapping):
        return LinkThresholds()
    match = _find(linkage, "match_threshold", "threshold_match_probability")
    review = _find(linkage, "review_threshold", "uncertain_below", "clerical_review_threshold")
    if review is None:
        # The linkage configuration itself (``thresholds: {match, uncertain}``) stores pairs in
        # [uncertain, match) as "uncertain" links for clerical review: below ``match`` is what
        # a coordinator should check.
        section = linkage.get("thresholds")
        review = _probability(section.get("match")) if isinstance(section, Mapping) else None
    return LinkThresholds(
        match=DEFAULT_MATCH_THRESHOLD if match is None else match,
        review=DEFAULT_REVIEW_THRESHOLD if review is None else review,
        from_config=match is not None or review is not None,
    )
