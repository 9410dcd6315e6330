"""Benchmarks: ``make bench`` (``python -m benchmarks.run``).

Times the synthetic generator and every pipeline stage on synthetic batches of growing
size, with peak memory (resident set) and accuracy against truth, and writes
``benchmarks/results/pipeline.json`` and ``pipeline.md`` (printed too). Sizes
default to 5,000 and 50,000 households; ``--households 5000 20000`` chooses others.

Comparisons with peer libraries (Splink, recordlinkage) on the same data belong to the
linkage benchmark (``benchmarks/linkage.py``) when it lands; this one is tfident's own
trend line, so a change that slows a stage shows up here first.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from tfident.evaluate import evaluate_run, read_truth
from tfident.pipeline import load_run_config, run_pipeline
from tfident.synth import synthesise

AS_OF = date(2026, 10, 31)
RESULTS = Path(__file__).with_name("results")


def peak_rss_mib() -> float:
    """Peak resident set of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_one(households: int, seed: int, work: Path) -> dict[str, Any]:
    """Generate, run and score one batch; return timings, sizes and scores."""
    folder = work / f"batch_{households}"
    started = time.perf_counter()
    synthesise(households=households, seed=seed, as_of=AS_OF, out=folder)
    synth_seconds = time.perf_counter() - started

    config = load_run_config("phase1")
    started = time.perf_counter()
    result = run_pipeline(folder, AS_OF, config)
    total = time.perf_counter() - started

    truth_persons, truth_households = read_truth(folder)
    index = result.records.select("source", "record_id", "person_id", "household_id")
    scores = evaluate_run(index, result.candidates["household_id"], truth_persons, truth_households)
    return {
        "households": households,
        "records": result.records.height,
        "synth_seconds": round(synth_seconds, 2),
        "pipeline_seconds": round(total, 2),
        "records_per_second": round(result.records.height / total),
        "stages": result.timings,
        "peak_rss_mib": round(peak_rss_mib()),
        "scores": scores.as_dict(),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    stages = list(rows[0]["stages"]) if rows else []
    head = ["households", "records", "synth s", "pipeline s", *[f"{s} s" for s in stages], "peak RSS MiB"]
    head += ["person P", "person R", "family P", "family R"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for row in rows:
        s = row["scores"]
        cells = [row["households"], row["records"], row["synth_seconds"], row["pipeline_seconds"]]
        cells += [row["stages"][stage] for stage in stages] + [row["peak_rss_mib"]]
        cells += [f"{s['persons']['precision']:.3f}", f"{s['persons']['recall']:.3f}"]
        cells += [f"{s['families']['precision']:.3f}", f"{s['families']['recall']:.3f}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(description="Time tfident's pipeline on synthetic batches.")
    parser.add_argument("--households", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tfident-bench-") as work:
        rows = [bench_one(n, args.seed, Path(work)) for n in args.households]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(rows, indent=2) + "\n")
    table = markdown(rows)
    (RESULTS / "pipeline.md").write_text(f"# Pipeline benchmark (`make bench`)\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
