"""tfident.criteria: rule packs (``config/criteria/*.yaml``) applied to a batch.

``load_pack("phase1")`` reads and validates a pack; ``evaluate_criteria`` applies it and
returns the evidence rows and one row of criteria per household.
"""

from tfident.criteria.engine import (
    EVIDENCE_SCHEMA,
    NON_CRITERION_COLUMNS,
    evaluate_criteria,
    household_criteria_schema,
)
from tfident.criteria.pack import RulePack, load_pack, pack_from_yaml

__all__ = [
    "EVIDENCE_SCHEMA",
    "NON_CRITERION_COLUMNS",
    "RulePack",
    "evaluate_criteria",
    "household_criteria_schema",
    "load_pack",
    "pack_from_yaml",
]
