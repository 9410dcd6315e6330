"""Incremental months benchmark: ``make bench-incremental`` (``python -m benchmarks.incremental``).

For each size and churn: two months of one synthetic council (``tfident synth --months 2``
with the churn, and 5% of earlier faulty records corrected); month 0 is run (full) into a
SQLite store, the store is copied, and month 1 is run with ``tfident run``'s own code path
incrementally into the first store and fully (``--full``) into the copy. Seconds, CPU
seconds (the run's process, every thread; in the JSON and the log) and peak resident memory
per step of both month-1 runs, and a check that both stored the same persons, households,
links, candidates and evidence. Writes
``benchmarks/results/incremental.json`` and ``incremental.md``.

Sizes in person records (households = records / 5.5): 100,000 by default; ``--records
1000000 3000000`` for the larger ones. Churn: ``--churn 0.01 0.05 0.2`` (the share of
households that move in the month; new records come with them and with the month's new
events). ``--quick``: 2,000 records at 5% churn (a smoke test). Each run is a fresh
``spawn`` process, so one run's memory does not colour the next. The data checks that
compare volumes with the previous month are turned off (a council's config folder in the
work folder), since a 20% churn month trips them by design.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.run import _child, peak_mib, reset_peak, rss_mib

AS_OF = date(2026, 9, 30)
RESULTS = Path(__file__).with_name("results")
RECORDS_PER_HOUSEHOLD = 5.5
CORRECTIONS = 0.05
STEPS = ("ingest", "checks", "standardise", "link", "households", "identity", "criteria", "rank", "store")
COMPARED = {
    "source_records": "record_key, person_id, household_id",
    "persons": "person_id, household_id, role",
    "households": "household_id, uprn, n_members, address_status, review_reason",
    "links": "record_key_l, record_key_r, match_probability, match_rule, match_weights_json",
    "candidates": "household_id, rank, score, criteria_met, min_link_probability",
    "criteria_evidence": "household_id, criterion, rule_id, person_id, source, record_id, event_date, value",
}


def generate(households: int, seed: int, churn: float, folder: str) -> dict[str, Any]:
    """Child: write two months of one council; the folders and the time taken."""
    from tfident.synth import synthesise_months

    started = time.perf_counter()
    folders = synthesise_months(households, seed, AS_OF, Path(folder), 2, churn=churn, corrections=CORRECTIONS)
    return {"seconds": round(time.perf_counter() - started, 2), "folders": [str(f) for f in folders]}


def run_month(folder: str, url: str, mode: str | None) -> dict[str, Any]:
    """Child: ``tfident run`` of one month into ``url``; seconds and peak memory per step."""
    from tfident.runner import execute_run

    steps: dict[str, dict[str, float]] = {}

    def progress(step: str, seconds: float | None) -> None:
        if seconds is None:
            reset_peak()
            steps[step] = {"rss_before_mib": round(rss_mib()), "cpu_before": time.process_time()}
        else:
            cpu = time.process_time() - steps[step].pop("cpu_before")
            steps[step].update(seconds=round(seconds, 2), cpu_seconds=round(cpu, 2), peak_mib=round(peak_mib()))

    as_of = date.fromisoformat(Path(folder).name)
    started = time.perf_counter()
    outcome = execute_run(Path(folder), as_of, url, "phase1", use_prefect=False, progress=progress, mode=mode)
    return {
        "run_id": outcome.run_id,
        "mode": outcome.summary.get("mode", {}),
        "records": outcome.summary.get("records"),
        "seconds": round(time.perf_counter() - started, 2),
        "peak_mib": round(max(s.get("peak_mib", 0) for s in steps.values())),
        "steps": steps,
    }


def compare(first: str, second: str, run_id: str, previous_run_id: str) -> dict[str, Any]:
    """Child: whether two stores hold the same run (every compared table), and the share of records changed."""
    import polars as pl

    from tfident.store import make_engine

    def frame(url: str, sql: str) -> pl.DataFrame:
        engine = make_engine(url)
        try:
            return pl.read_database(sql, engine.connect(), infer_schema_length=None)
        finally:
            engine.dispose()

    same = {}
    for table, columns in COMPARED.items():
        sql = f"SELECT {columns} FROM {table} WHERE run_id = '{run_id}'"
        a, b = frame(first, sql), frame(second, sql)
        same[table] = a.sort(pl.all()).equals(b.sort(pl.all()))
    text = "record_key, forename, middle_names, surname, date_of_birth, sex, address, postcode, uprn"
    now = frame(first, f"SELECT {text} FROM source_records WHERE run_id = '{run_id}'")
    before = frame(first, f"SELECT {text} FROM source_records WHERE run_id = '{previous_run_id}'")
    changed = now.join(before, on=now.columns, how="anti", nulls_equal=True).height
    return {"identical": same, "records_new_or_changed": changed, "records": now.height}


def bench(records: int, churn: float, seed: int, work: Path, repeats: int = 2, log: Any = print) -> dict[str, Any]:
    """One size and churn: generate, month 0, then month 1 incrementally and fully (``repeats`` times each,
    interleaved; the fastest of each is reported, every repeat is in the JSON).
    """
    households = max(1, round(records / RECORDS_PER_HOUSEHOLD))
    folder = work / f"council_{records}_{churn}"
    log(f"{records:,} records ({households:,} households), churn {churn:.0%}: generating ...")
    generated = _child(generate, households, seed, churn, str(folder))
    month0, month1 = generated["folders"]
    incremental_db, full_db = work / f"inc_{records}_{churn}.db", work / f"full_{records}_{churn}.db"
    base_db, cache = work / f"base_{records}_{churn}.db", Path(os.environ["TFIDENT_CHECKPOINT_DIR"]) / "_run_cache"
    first = _child(run_month, month0, f"sqlite:///{incremental_db}", "full")
    log(f"  month 0 (full): {first['seconds']} s")
    shutil.copyfile(incremental_db, base_db)
    shutil.copytree(cache, work / "cache_month0", dirs_exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {"incremental": [], "full": []}
    for repeat in range(repeats):  # interleaved, each from month 0's store (and its cache): a shared machine
        for name, db, mode in (("incremental", incremental_db, None), ("full", full_db, "full")):
            shutil.copyfile(base_db, db)
            shutil.rmtree(cache, ignore_errors=True)
            shutil.copytree(work / "cache_month0", cache)
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            run = _child(run_month, month1, f"sqlite:///{db}", mode)
            run["load_before"] = load
            runs[name].append(run)
            steps = ", ".join(
                f"{s} {f.get('seconds')} s (CPU {f.get('cpu_seconds')} s)" for s, f in run["steps"].items()
            )
            log(
                f"  month 1 {name} #{repeat + 1} ({run['mode'].get('mode')}, load {load}): {run['seconds']} s, "
                f"peak {run['peak_mib']} MiB: {steps}"
            )
    incremental = {**min(runs["incremental"], key=lambda run: run["seconds"]), "repeats": runs["incremental"]}
    full = {**min(runs["full"], key=lambda run: run["seconds"]), "repeats": runs["full"]}
    checked = _child(compare, f"sqlite:///{incremental_db}", f"sqlite:///{full_db}", full["run_id"], first["run_id"])
    log(f"  identical: {checked['identical']}")
    for db in (incremental_db, full_db, base_db):
        db.unlink(missing_ok=True)
    return {
        "target_records": records,
        "households": households,
        "churn": churn,
        "seed": seed,
        "generate_seconds": generated["seconds"],
        "month0": first,
        "incremental": incremental,
        "full": full,
        **checked,
    }


def _cell(run: dict[str, Any], step: str, what: str) -> str:
    value = run["steps"].get(step, {}).get(what)
    return "" if value is None else f"{value:g}"


def report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The Markdown report."""
    lines = [
        "# Incremental months benchmark (`make bench-incremental`)",
        "",
        f"Run {meta['date']} at {meta['commit']} on {meta['cpus']} CPUs; load average before: {meta['load']}. "
        f"Command: `{meta['command']}`.",
        "",
        "Month 1 of a synthetic council (churn = share of households that moved; 5% of earlier faulty "
        "records corrected), run incrementally (reusing month 0's published run) and fully into a copy of "
        "the same store; each mode run `--repeats` times, interleaved, the fastest shown (every run is in "
        "the JSON, with the load average before it). Seconds per step; peak resident memory per step (MiB) "
        "in brackets.",
        "",
        "| records | churn | records new or changed | mode | "
        + " | ".join(s for s in STEPS if s != "checks")
        + " | total | peak MiB | identical |",
        "|---:|---:|---:|---|" + "---:|" * (len(STEPS) - 1) + "---:|---:|---|",
    ]
    for r in results:
        share = f"{r['records_new_or_changed']:,} ({r['records_new_or_changed'] / max(r['records'], 1):.1%})"
        for name in ("full", "incremental"):
            run = r[name]
            cells = [f"{_cell(run, s, 'seconds')} ({_cell(run, s, 'peak_mib')})" for s in STEPS if s != "checks"]
            lines.append(
                f"| {r['records']:,} | {r['churn']:.0%} | {share} | {name} | "
                + " | ".join(cells)
                + f" | **{run['seconds']}** | {run['peak_mib']} | {all(r['identical'].values())} |"
            )
        speed = r["full"]["seconds"] / max(r["incremental"]["seconds"], 1e-9)
        link = r["full"]["steps"]["link"]["seconds"] / max(r["incremental"]["steps"]["link"]["seconds"], 1e-9)
        lines.append(f"| | | | speed-up | | | link ×{link:.1f} | | | | | | **×{speed:.2f}** | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000])
    parser.add_argument("--churn", type=float, nargs="+", default=[0.01, 0.05, 0.2])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="month-1 runs of each mode (fastest reported)")
    parser.add_argument("--quick", action="store_true", help="2,000 records at 5%% churn")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.churn, args.repeats = [2000], [0.05], 1
    work = Path(tempfile.mkdtemp(prefix="tfident_bench_incremental_"))
    config = work / "config"
    config.mkdir()
    (config / "checks.yaml").write_text(
        "defaults:\n  same_file: {level: off}\n  volume: {level: off}\n", encoding="utf-8"
    )
    os.environ["TFIDENT_CONFIG_DIR"] = str(config)
    os.environ["TFIDENT_CHECKPOINT_DIR"] = str(work / "checkpoints")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit,
        "cpus": os.cpu_count(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "command": "python -m benchmarks.incremental " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    results = []
    try:
        for records in args.records:
            for churn in args.churn:
                results.append(bench(records, churn, args.seed, work, args.repeats))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    text = report(results, meta)
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "incremental.json").write_text(
            json.dumps({"meta": meta, "results": results}, indent=2) + "\n", encoding="utf-8"
        )
        (args.out / "incremental.md").write_text(text, encoding="utf-8")
    print(text)
    return 0 if all(all(r["identical"].values()) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
