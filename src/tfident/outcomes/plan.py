"""``config/outcomes.yaml``: the results rules, the local Family Outcomes Plan and the programme periods."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tfident.config import config_path, load_model


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tf1Rules(_Frozen):
    """Phase 1 national results (``domain-research.md`` 3.1)."""

    terms: int = 3
    max_fixed_exclusions: int = 3
    absence_percent: int = 15
    offending_reduction_percent: int = 33
    asb_reduction_percent: int = 60
    window_months: int = 6
    employment_weeks: int = 13
    """Weeks of continuous employment after coming off an out-of-work benefit (most benefits)."""
    employment_weeks_by_benefit: dict[str, int] = Field(default_factory=lambda: {"JSA": 26})
    """Longer spells by the benefit the adult came off (``domain-research.md``: three or six months
    depending on the initial benefit; 26 weeks for JSA is from memory, to confirm locally)."""
    uc_out_of_work_regimes: tuple[str, ...] = (
        "SEARCHING_FOR_WORK",
        "PLANNING_FOR_WORK",
        "PREPARING_FOR_WORK",
        "NO_WORK_REQUIREMENTS",
    )
    """Universal Credit counts as an out-of-work benefit only under these conditionality regimes."""


class Measure(_Frozen):
    """How one need is judged: no record of ``sources`` in the window, or attendance of at least ``percent``."""

    measure: Literal["no_event", "attendance_at_least"]
    sources: tuple[str, ...] | None = None
    """``no_event``: the sources to look in (default: those of the need's entry evidence)."""
    percent: int | None = None


class SustainedPlan(_Frozen):
    """Measures per need (criterion id) held over ``sustain_months``; a need without one uses ``no_event``."""

    sustain_months: int = 6
    measures: dict[str, Measure] = Field(default_factory=dict)

    def measure_for(self, need: str) -> Measure:
        """The need's measure, ``no_event`` on its entry sources when the plan names none."""
        return self.measures.get(need, Measure(measure="no_event"))


class ProgrammePeriod(_Frozen):
    """A programme period: one claim per family in it, paid at ``rates`` (pounds per route)."""

    id: str
    ruleset_id: str
    valid_from: date
    valid_to: date
    rates: dict[str, int]


class OutcomesConfig(_Frozen):
    """The whole of ``config/outcomes.yaml``."""

    tf1: Tf1Rules = Tf1Rules()
    family_outcomes_plan: SustainedPlan = SustainedPlan()
    sf2022: SustainedPlan = SustainedPlan()
    periods: tuple[ProgrammePeriod, ...] = ()

    def period(self, period_id: str) -> ProgrammePeriod | None:
        """The period named ``period_id``, or None."""
        return next((p for p in self.periods if p.id == period_id), None)


def load_outcomes_config() -> OutcomesConfig:
    """Read ``outcomes.yaml`` from the config folders."""
    return load_model(config_path("outcomes.yaml"), OutcomesConfig)
