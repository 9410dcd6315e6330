"""recordlinkage 0.16 with the plain configuration of its documentation.

- Input: the same columns as Splink's, as pandas frames indexed by record key; FEBRL4 is
  linked file A to file B, FEBRL3 and the synthetic batches are deduplicated as one file
  (recordlinkage has no multi-source mode: a synthetic batch is one file of all sources).
- Indexing: sorted neighbourhood on surname (window 9) plus a block on postcode, the
  union of both (on pseudopeople, whose sample has one zip for everyone, a block on
  date of birth instead). On batches over 50,000 records (``meta["rl_index"] == "sn_by_dob"``)
  the sorted neighbourhood runs within blocks of equal date of birth: on the plain
  index, a 100,000-record batch (where 14% of records are SMITH) gives hundreds of
  millions of candidate pairs and ran this 24 GB machine out of memory in indexing.
- Compare, on the fields tfident uses (``meta["fields"]``, as the competent Splink peer
  gets them): Jaro-Winkler at threshold 0.85 on forename and surname (1 or 0); exact
  date of birth and postcode; exact sex, matched UPRN and each identifier where the
  dataset gives tfident those; a missing value counts as disagreement (recordlinkage's
  default). (Before issue 12 it compared the address text, which tfident does not read
  on FEBRL, and no identifiers.)
- Classifier: ECM (unsupervised Fellegi-Sunter on the binary vectors); its matched
  pairs are the output, not clustered. Timed: the ECM fit apart from indexing,
  comparing and classifying.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import polars as pl

WINDOW = 9


def _exact(meta: dict[str, Any]) -> list[str]:
    """Columns compared exactly beside the date of birth: the postcode, and sex, the
    matched UPRN and the identifiers where tfident gets them (as in ``splink_competent``).
    """
    from benchmarks.peers.splink_competent import fields

    f = fields(meta)
    out = ["postcode"] if f["postcode"] else []
    out += [c for c, on in (("sex", f["sex"]), ("uprn", f["uprn"])) if on]
    return out + list(f["identifiers"])


def _pandas(frame: pl.DataFrame, meta: dict[str, Any]) -> Any:
    cols = ["unique_id", "forename", "surname", "dob", *_exact(meta)]
    if "postcode" not in cols:
        cols.append("postcode")  # the block below
    return frame.select(cols).to_pandas().set_index("unique_id")


def prepare(work: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Load the peers' input as pandas frames (not timed)."""
    frame = pl.read_parquet(work / "peers.parquet")
    if meta["link_type"] == "link_only":
        sources = sorted(frame["source_dataset"].unique())
        tables = [_pandas(frame.filter(pl.col("source_dataset") == s), meta) for s in sources]
    else:
        tables = [_pandas(frame, meta)]
    return {"tables": tables}


def link(state: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Index, compare and classify (timed; the ECM fit apart)."""
    state["started"] = time.perf_counter()
    with warnings.catch_warnings():
        # recordlinkage 0.16 (2023) calls pandas APIs that pandas 2.x flags for change
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import recordlinkage as rl

        tables = state["tables"]
        by_dob = meta.get("rl_index") == "sn_by_dob"
        indexer = rl.Index()
        indexer.sortedneighbourhood("surname", window=WINDOW, block_on=["dob"] if by_dob else [])
        from benchmarks.peers.splink_competent import fields

        # pseudopeople's sample has one zip for everyone: a block on it is every pair
        indexer.block("postcode" if fields(meta)["block_postcode"] else "dob")
        candidates = indexer.index(*tables)
        compare = rl.Compare()
        compare.string("forename", "forename", method="jarowinkler", threshold=0.85, label="forename")
        compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
        compare.exact("dob", "dob", label="dob")
        for name in _exact(meta):
            compare.exact(name, name, label=name)
        features = compare.compute(candidates, *tables)
        classifier = rl.ECMClassifier()
        fit_started = time.perf_counter()
        classifier.fit(features)
        fit_seconds = time.perf_counter() - fit_started
        matches = classifier.predict(features)
    state["candidates"] = len(candidates)
    left = [str(a) for a, _ in matches]
    right = [str(b) for _, b in matches]
    frame = pl.DataFrame(
        {"record_key_l": left, "record_key_r": right}, schema={"record_key_l": pl.String, "record_key_r": pl.String}
    )
    return {
        "kind": "pairs",
        "frame": frame,
        "extra": {
            "index": meta.get("rl_index", "sn"),
            "pairs_predicted": frame.height,
            "train_seconds": round(fit_seconds, 3),
            "predict_seconds": round(time.perf_counter() - state["started"] - fit_seconds, 3),
        },
    }


def pairs_compared(state: dict[str, Any], meta: dict[str, Any], out: dict[str, Any]) -> int:
    """Candidate pairs of the index (every one is compared)."""
    return int(state["candidates"])
