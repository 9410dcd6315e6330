"""Score a run of a synthetic batch against its truth files (contract section 7).

Three scores:

* **person links**, pairwise: every pair of source records that the run puts in one
  person is a predicted link; every pair that truth puts in one person is a true link.
  Precision, recall and F1 are counted over pairs with a contingency table, never by
  enumerating pairs. ``cross_source`` repeats it for pairs from different sources only.
* **households**, pairwise in the same way over records placed in a household.
* **candidate families**: a candidate household stands for the true household that
  most of its records belong to. Precision is the share of candidates whose true
  household is eligible; recall is the share of truly eligible households that some
  candidate stands for. A run of the ``sf2022`` pack is scored against
  ``truth/sf2022.csv`` (``eligible_sf2022``, written by ``tfident synth
  --supporting-families``); other packs against ``truth/households.csv``
  (``eligible_phase1``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

KEY = ["source", "record_id"]

TRUTH_BATCH_FILE = "batch.json"
"""``truth/batch.json`` of a synthetic batch: ``{"as_of": "YYYY-MM-DD"}``, the date the truth
was judged at (written by :func:`tfident.synth.write_batch`; older batches have none)."""


@dataclass(frozen=True)
class PairScore:
    """Pairwise precision, recall and F1, with the counts behind them."""

    true_positive: int
    predicted: int
    actual: int

    @property
    def precision(self) -> float:
        """Share of predicted pairs that are true."""
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """Share of true pairs that were predicted."""
        return self.true_positive / self.actual if self.actual else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """Counts and rates, for printing and JSON."""
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1}


@dataclass(frozen=True)
class FamilyScore:
    """Candidate-family precision and recall against truly eligible households."""

    candidates: int
    candidates_eligible: int
    eligible: int
    eligible_found: int

    @property
    def precision(self) -> float:
        """Share of candidates standing for a truly eligible household."""
        return self.candidates_eligible / self.candidates if self.candidates else 1.0

    @property
    def recall(self) -> float:
        """Share of truly eligible households that a candidate stands for."""
        return self.eligible_found / self.eligible if self.eligible else 1.0

    def as_dict(self) -> dict[str, float | int]:
        """Counts and rates, for printing and JSON."""
        return {**asdict(self), "precision": self.precision, "recall": self.recall}


@dataclass(frozen=True)
class Evaluation:
    """Everything ``tfident evaluate`` reports."""

    persons: PairScore
    persons_cross_source: PairScore
    households: PairScore
    families: FamilyScore

    def as_dict(self) -> dict[str, dict[str, float | int]]:
        """Nested dictionary for JSON output."""
        return {
            "persons": self.persons.as_dict(),
            "persons_cross_source": self.persons_cross_source.as_dict(),
            "households": self.households.as_dict(),
            "families": self.families.as_dict(),
        }


def _pairs(counts: pl.Series) -> int:
    return int((counts * (counts - 1) // 2).sum())


def score_pairs(records: pl.DataFrame, predicted: str, actual: str) -> PairScore:
    """Pairwise scores of the grouping ``predicted`` against ``actual`` (nulls are singletons)."""
    rows = records.filter(pl.col(predicted).is_not_null() & pl.col(actual).is_not_null())
    both = rows.group_by(predicted, actual).len()["len"]
    pred = rows.group_by(predicted).len()["len"]
    true = rows.group_by(actual).len()["len"]
    return PairScore(_pairs(both), _pairs(pred), _pairs(true))


def score_cross_source_pairs(records: pl.DataFrame, predicted: str, actual: str) -> PairScore:
    """Pairwise scores counting only pairs of records from different sources."""
    rows = records.filter(pl.col(predicted).is_not_null() & pl.col(actual).is_not_null())

    def cross(keys: list[str]) -> int:
        # pairs within the group minus pairs within the same source inside the group
        within = _pairs(rows.group_by(keys).len()["len"])
        same_source = _pairs(rows.group_by([*keys, "source"]).len()["len"])
        return within - same_source

    return PairScore(cross([predicted, actual]), cross([predicted]), cross([actual]))


PACK_TRUTH: dict[str, tuple[str, str]] = {"sf2022": ("sf2022.csv", "eligible_sf2022")}
"""Rule packs with their own truth file: pack -> (file in ``truth/``, its eligibility column)."""

DEFAULT_ELIGIBLE = "eligible_phase1"


def score_families(
    candidate_households: pl.Series,
    records: pl.DataFrame,
    truth_households: pl.DataFrame,
    eligible_column: str = DEFAULT_ELIGIBLE,
) -> FamilyScore:
    """Candidate-family precision and recall (see the module docstring)."""
    eligible = truth_households.filter(pl.col(eligible_column) == "Y")["true_household_id"]
    in_candidates = records.filter(pl.col("household_id").is_in(candidate_households.implode()))
    majority = (
        in_candidates.group_by("household_id", "true_household_id")
        .len()
        .sort(["household_id", "len", "true_household_id"], descending=[False, True, False])
        .unique("household_id", keep="first", maintain_order=True)
    )
    stands_for = majority.with_columns(pl.col("true_household_id").is_in(eligible.implode()).alias("ok"))
    return FamilyScore(
        candidates=candidate_households.n_unique(),
        candidates_eligible=int(stands_for["ok"].sum()),
        eligible=eligible.n_unique(),
        eligible_found=stands_for.filter("ok")["true_household_id"].n_unique(),
    )


def read_truth(batch: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read ``truth/persons.csv`` and ``truth/households.csv`` of a synthetic batch."""
    folder = batch / "truth"
    persons = pl.read_csv(folder / "persons.csv", infer_schema=False)
    households = pl.read_csv(folder / "households.csv", infer_schema=False)
    return persons, households


def read_pack_truth(batch: Path, ruleset: str) -> tuple[pl.DataFrame, str] | None:
    """The household truth a run of ``ruleset`` is scored against and its eligibility column, when the
    pack has its own truth file (:data:`PACK_TRUTH`); None for the Phase 1 truth.

    Raises ``FileNotFoundError`` naming the file when the pack has one and the batch lacks it.
    """
    if ruleset not in PACK_TRUTH:
        return None
    name, column = PACK_TRUTH[ruleset]
    path = batch / "truth" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: runs of rule pack {ruleset!r} are scored against it")
    return pl.read_csv(path, infer_schema=False), column


def truth_as_of(batch: Path) -> dt.date | None:
    """The batch date recorded in ``truth/batch.json``, or None when the truth does not record one.

    Raises ``ValueError`` when the file is there but does not hold a date.
    """
    path = batch / "truth" / TRUTH_BATCH_FILE
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["as_of"]
        return dt.date.fromisoformat(value)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f'{path} does not record a batch date as {{"as_of": "YYYY-MM-DD"}}') from error


def evaluate_run(
    persons_index: pl.DataFrame,
    candidate_households: pl.Series,
    truth_persons: pl.DataFrame,
    truth_households: pl.DataFrame,
    eligible_column: str = DEFAULT_ELIGIBLE,
) -> Evaluation:
    """Score a run's person index and candidate list against truth.

    ``persons_index`` has the columns of ``persons.csv`` (source, record_id, person_id,
    household_id); records absent from it count as unlinked singletons.
    """
    records = truth_persons.join(
        persons_index.select(*KEY, "person_id", "household_id"), on=KEY, how="left"
    ).with_columns(
        # a record the run never placed is its own person
        pl.coalesce("person_id", pl.lit("unplaced:") + pl.col("source") + ":" + pl.col("record_id")).alias("person_id")
    )
    return Evaluation(
        persons=score_pairs(records, "person_id", "true_person_id"),
        persons_cross_source=score_cross_source_pairs(records, "person_id", "true_person_id"),
        households=score_pairs(records, "household_id", "true_household_id"),
        families=score_families(candidate_households, records, truth_households, eligible_column),
    )


CLAIMS_TRUTH_FILE = "claims.csv"
"""``truth/claims.csv`` of a batch with followed families (``tfident synth --outcomes``)."""


@dataclass(frozen=True)
class ClaimScore:
    """Claimable-family precision and recall of the claims prepared on a run, against ``truth/claims.csv``."""

    claims: int
    claims_valid: int
    claimable: int
    claimable_claimed: int
    attached_truth: int
    attached_found: int
    """Families the truth says were attached, and how many of them an attachment in the store stands for."""
    claimable_attached: int = 0
    """Claimable families that an attachment in the store stands for (the others were never attached:
    an identification miss, not a claims one)."""

    @property
    def precision(self) -> float:
        """Share of claims standing for a family whose claim the truth says is valid."""
        return self.claims_valid / self.claims if self.claims else 1.0

    @property
    def recall(self) -> float:
        """Share of truly claimable families that a claim stands for."""
        return self.claimable_claimed / self.claimable if self.claimable else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def recall_attached(self) -> float:
        """Share of the claimable families attached in the store that a claim stands for."""
        return self.claimable_claimed / self.claimable_attached if self.claimable_attached else 1.0

    def as_dict(self) -> dict[str, float | int]:
        """Counts and rates, for printing and JSON."""
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "recall_attached": self.recall_attached,
        }


def read_claims_truth(batch: Path) -> pl.DataFrame | None:
    """``truth/claims.csv`` of the batch, or None when it has none."""
    path = batch / "truth" / CLAIMS_TRUTH_FILE
    return pl.read_csv(path, infer_schema=False) if path.is_file() else None


def families_of(members: pl.DataFrame, persons_index: pl.DataFrame, truth_persons: pl.DataFrame) -> pl.DataFrame:
    """``key, true_household_id``: the true household each family (``key, person_id`` rows) stands for.

    As for candidates (:func:`score_families`): the true household most of the records of the
    family's people in the run belong to (ties: the smallest id).
    """
    records = truth_persons.join(persons_index.select(*KEY, "person_id"), on=KEY, how="inner")
    return (
        members.join(records.select("person_id", "true_household_id"), on="person_id", how="inner")
        .group_by("key", "true_household_id")
        .len()
        .sort(["key", "len", "true_household_id"], descending=[False, True, False])
        .unique("key", keep="first", maintain_order=True)
        .select("key", "true_household_id")
    )


def score_claims(
    claim_members: pl.DataFrame,
    attachment_members: pl.DataFrame,
    persons_index: pl.DataFrame,
    truth_persons: pl.DataFrame,
    claims_truth: pl.DataFrame,
) -> ClaimScore:
    """Score the claims of a run: ``claim_members`` (``key`` = claim id, ``person_id``: the frozen members of
    each claim's attachment), ``attachment_members`` likewise for every attachment of the period, against
    the truth's claimable families.
    """
    claimed = families_of(claim_members, persons_index, truth_persons)
    attached = families_of(attachment_members, persons_index, truth_persons)
    claimable = claims_truth.filter(pl.col("claimable") == "Y")["true_household_id"]
    truth_attached = claims_truth["true_household_id"]
    valid = claimed.filter(pl.col("true_household_id").is_in(claimable.implode()))
    found = attached.filter(pl.col("true_household_id").is_in(truth_attached.implode()))["true_household_id"]
    return ClaimScore(
        claims=claim_members["key"].n_unique(),
        claims_valid=valid.height,
        claimable=claimable.n_unique(),
        claimable_claimed=valid["true_household_id"].n_unique(),
        attached_truth=truth_attached.n_unique(),
        attached_found=found.n_unique(),
        claimable_attached=claimable.filter(claimable.is_in(found.implode())).n_unique(),
    )
