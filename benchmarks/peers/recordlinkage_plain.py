"""recordlinkage 0.16 with the plain configuration of its documentation.

- Input: the same columns as Splink's, as pandas frames indexed by record key; FEBRL4 is
  linked file A to file B, FEBRL3 and the synthetic batches are deduplicated as one file
  (recordlinkage has no multi-source mode: a synthetic batch is one file of all sources).
- Indexing: sorted neighbourhood on surname (window 9) plus a block on postcode, the
  union of both. On batches over 50,000 records (``meta["rl_index"] == "sn_by_dob"``)
  the sorted neighbourhood runs within blocks of equal date of birth: on the plain
  index, a 100,000-record batch (where 14% of records are SMITH) gives hundreds of
  millions of candidate pairs and ran this 24 GB machine out of memory in indexing.
- Compare: Jaro-Winkler at threshold 0.85 on forename, surname and address (1 or 0);
  exact date of birth and postcode; a missing value counts as disagreement.
- Classifier: ECM (unsupervised Fellegi-Sunter on the binary vectors); its matched
  pairs are the output, not clustered.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import polars as pl

WINDOW = 9
COLUMNS = ["unique_id", "forename", "surname", "dob", "postcode", "address"]


def _pandas(frame: pl.DataFrame) -> Any:
    return frame.select(COLUMNS).to_pandas().set_index("unique_id")


def prepare(work: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Load the peers' input as pandas frames (not timed)."""
    frame = pl.read_parquet(work / "peers.parquet")
    if meta["link_type"] == "link_only":
        sources = sorted(frame["source_dataset"].unique())
        tables = [_pandas(frame.filter(pl.col("source_dataset") == s)) for s in sources]
    else:
        tables = [_pandas(frame)]
    return {"tables": tables}


def link(state: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Index, compare and classify (timed)."""
    with warnings.catch_warnings():
        # recordlinkage 0.16 (2023) calls pandas APIs that pandas 2.x flags for change
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import recordlinkage as rl

        tables = state["tables"]
        by_dob = meta.get("rl_index") == "sn_by_dob"
        indexer = rl.Index()
        indexer.sortedneighbourhood("surname", window=WINDOW, block_on=["dob"] if by_dob else [])
        indexer.block("postcode")
        candidates = indexer.index(*tables)
        compare = rl.Compare()
        compare.string("forename", "forename", method="jarowinkler", threshold=0.85, label="forename")
        compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
        compare.exact("dob", "dob", label="dob")
        compare.exact("postcode", "postcode", label="postcode")
        compare.string("address", "address", method="jarowinkler", threshold=0.85, label="address")
        features = compare.compute(candidates, *tables)
        matches = rl.ECMClassifier().fit_predict(features)
    state["candidates"] = len(candidates)
    left = [str(a) for a, _ in matches]
    right = [str(b) for _, b in matches]
    frame = pl.DataFrame(
        {"record_key_l": left, "record_key_r": right}, schema={"record_key_l": pl.String, "record_key_r": pl.String}
    )
    return {
        "kind": "pairs",
        "frame": frame,
        "extra": {"index": meta.get("rl_index", "sn"), "pairs_predicted": frame.height},
    }


def pairs_compared(state: dict[str, Any], meta: dict[str, Any], out: dict[str, Any]) -> int:
    """Candidate pairs of the index (every one is compared)."""
    return int(state["candidates"])
