"""tfident.outcomes: what became of the families attached to the programme, as pure functions on frames.

:mod:`~tfident.outcomes.rules` holds the results rules (TF1 education, crime and ASB,
continuous employment; six months to the day), :mod:`~tfident.outcomes.plan` the model of
``config/outcomes.yaml`` (the local Family Outcomes Plan, the programme periods and their
payment rates), :mod:`~tfident.outcomes.evaluate` the observations of a run and the claim
route they allow. Stored by ``tfident.store.attachments`` and ``tfident.store.claims``.
"""

from tfident.outcomes.evaluate import (
    OBSERVATIONS_SCHEMA,
    ROUTES,
    AttachedFamily,
    EntryNeed,
    Member,
    claim_route,
    evaluate_outcomes,
)
from tfident.outcomes.plan import OutcomesConfig, ProgrammePeriod, load_outcomes_config

__all__ = [
    "OBSERVATIONS_SCHEMA",
    "ROUTES",
    "AttachedFamily",
    "EntryNeed",
    "Member",
    "OutcomesConfig",
    "ProgrammePeriod",
    "claim_route",
    "evaluate_outcomes",
    "load_outcomes_config",
]
