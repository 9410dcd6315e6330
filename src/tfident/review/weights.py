"""A stored link's match weights as the waterfall ``tfident explain`` prints: prior, each comparison, total.

A run stores each scored link's weights in ``links.match_weights_json`` as
``{"prior", <comparison>..., "total", "probability", "levels"}`` (see
:meth:`tfident.link.explanation.Explanation.as_dict`). The bars are the prior and each
comparison's weight, in the stored order (the model's comparison order, as ``explain``
prints them); ``total`` and ``probability`` are results, never bars. The total shown is
the stored total, which the bars sum to (to the stored rounding); a stored total that
does not is reported (``consistent`` is False) rather than hidden.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

RESULT_KEYS = frozenset({"prior", "total", "probability", "levels"})
"""Keys of ``match_weights_json`` that are not comparisons."""
TOLERANCE = 0.01
"""How far the stored total may be from the sum of the stored (rounded) weights."""


@dataclass(frozen=True)
class Step:
    """One bar: a comparison (or the prior), the level the pair reached, and its weight."""

    field: str
    weight: float
    level: int | None = None


@dataclass(frozen=True)
class Waterfall:
    """A stored link's waterfall: the prior, one step per comparison, the total and probability."""

    prior: float
    steps: tuple[Step, ...]
    total: float
    probability: float | None

    @property
    def bars(self) -> tuple[Step, ...]:
        """Every bar, the prior first: they sum to :attr:`total`."""
        return (Step("prior", self.prior), *self.steps)

    @property
    def bar_sum(self) -> float:
        """The sum of the bars."""
        return sum(bar.weight for bar in self.bars)

    @property
    def consistent(self) -> bool:
        """Whether the bars sum to the stored total (to the stored rounding)."""
        return abs(self.bar_sum - self.total) <= TOLERANCE


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_weights(stored: Any) -> Waterfall | None:
    """The waterfall of a stored ``match_weights_json`` (a dict or its JSON text), or None when it holds none."""
    weights = stored
    if isinstance(stored, str | bytes):
        try:
            weights = json.loads(stored)
        except ValueError:
            return None
    if not isinstance(weights, dict) or not weights:
        return None
    stored_levels = weights.get("levels")
    levels: dict[str, Any] = stored_levels if isinstance(stored_levels, dict) else {}
    steps = []
    for name, value in weights.items():
        number = _number(value)
        if name in RESULT_KEYS or number is None:
            continue
        level = levels.get(name)
        steps.append(Step(str(name), number, level if isinstance(level, int) and not isinstance(level, bool) else None))
    prior = _number(weights.get("prior"))
    if prior is None and not steps:
        return None
    prior = prior or 0.0
    total = _number(weights.get("total"))
    if total is None:  # an older link without a stored total: the bars' sum is the total
        total = prior + sum(step.weight for step in steps)
    return Waterfall(prior=prior, steps=tuple(steps), total=total, probability=_number(weights.get("probability")))
