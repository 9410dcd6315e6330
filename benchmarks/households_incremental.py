"""The households stage in an incremental month against a full one: ``python -m benchmarks.households_incremental``.

Two months of one synthetic council (``tfident.synth.synthesise_months``, as ``benchmarks.incremental``
makes them: 5% churn, 5% of earlier faulty records corrected); each month's households stage inputs
(the standardised records, the person index and the gazetteer, from the standardise and link stages)
are written once to ``--work`` and read back on later runs. Month 0's households stage is run to make
the cache, then month 1's in one process, alternately without the cache (a full month) and with it
(an incremental month), ``--repeats`` times each (``tfident.pipeline.households_stage``, the whole
stage: making the next month's cache included); the CPU seconds (``time.process_time``: every
thread of the process, the measure on a shared machine) of each, and a check that both gave the same
placed records, residents and households.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import polars as pl
from polars.testing import assert_frame_equal

from tfident.households.incremental import HouseholdsCache, households_fingerprint
from tfident.pipeline import households_stage, load_run_config

AS_OF = date(2026, 9, 30)
RECORDS_PER_HOUSEHOLD = 5.5


def dump(records: int, seed: int, work: Path) -> None:
    """Write both months' households stage inputs to ``work`` (unless already there)."""
    if (work / "month1" / "person_index.parquet").exists():
        return
    from tfident.pipeline import ingest_stage, link_stage, standardise_stage
    from tfident.synth import synthesise_months

    households = max(1, round(records / RECORDS_PER_HOUSEHOLD))
    folders = synthesise_months(households, seed, AS_OF, work / "council", 2, churn=0.05, corrections=0.05)
    config = load_run_config()
    for month, folder in enumerate(folders):
        as_of = date.fromisoformat(folder.name)
        batch = ingest_stage(folder, config.sources)
        standardised = standardise_stage(batch, as_of, config.addresses)
        person_index, *_ = link_stage(standardised, config.linkage)
        out = work / f"month{month}"
        out.mkdir(parents=True, exist_ok=True)
        standardised.write_parquet(out / "standardised.parquet")
        batch.extracts["gazetteer"].write_parquet(out / "gazetteer.parquet")
        (out / "as_of.txt").write_text(as_of.isoformat())
        person_index.write_parquet(out / "person_index.parquet")


def load(work: Path, month: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, date]:
    folder = work / f"month{month}"
    return (
        pl.read_parquet(folder / "standardised.parquet"),
        pl.read_parquet(folder / "person_index.parquet"),
        pl.read_parquet(folder / "gazetteer.parquet"),
        date.fromisoformat((folder / "as_of.txt").read_text()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(os.environ.get("TMPDIR", "/tmp")) / f"households_incremental_{args.records}_{args.seed}"
    dump(args.records, args.seed, work)
    config = load_run_config().households
    records, person_index, gazetteer, as_of = load(work, 0)
    _, _, _, parses, index = households_stage(
        records, person_index, SimpleNamespace(extracts={"gazetteer": gazetteer}), as_of, config
    )
    cache = HouseholdsCache(households_fingerprint(), parses, index)
    records, person_index, gazetteer, as_of = load(work, 1)
    batch = SimpleNamespace(extracts={"gazetteer": gazetteer})
    print(f"month 1: {records.height:,} records, {person_index['person_id'].n_unique():,} persons, as of {as_of}")
    seconds: dict[str, list[float]] = {"full": [], "incremental": []}
    results = {}
    for _ in range(args.repeats):
        for mode in ("full", "incremental"):
            started = time.process_time()
            results[mode] = households_stage(
                records, person_index, batch, as_of, config, cache if mode == "incremental" else None
            )[:3]
            seconds[mode].append(time.process_time() - started)
    for full, incremental in zip(results["full"], results["incremental"], strict=True):
        assert_frame_equal(full, incremental)
    for mode, values in seconds.items():
        print(f"{mode}: CPU seconds {', '.join(f'{v:.2f}' for v in values)} (min {min(values):.2f})")
    print("placed records, residents and households identical: True")


if __name__ == "__main__":
    main()
