"""Pipeline scaling benchmark: ``make bench-pipeline`` (``python -m benchmarks.run``).

Runs the whole monthly pipeline (``tfident run``'s code path: ingest, standardise, link,
households, criteria, rank, then writing and publishing the run to the store) on
synthetic batches of growing size and records, per step, the wall time and the peak
resident memory, with accuracy against the batch's truth. Writes
``benchmarks/results/pipeline.json`` and ``pipeline.md`` (printed too), including a
projection to a national run fitted on the measured sizes.

Sizes are given in person records (households = records / 5.5): by default 100,000,
1,000,000 and 3,000,000 (``--records 100000 1000000``; ``--quick`` runs one batch of
2,000 records for the smoke test). Each batch is generated in one fresh process and run
in another (``spawn``), so one size's memory does not colour the next. The store is a
new SQLite file by default; ``--db URL`` (PostgreSQL) gives each size a throw-away schema.

Per-step peak memory: the kernel's high-water mark of the run's process (``VmHWM``) is
reset when a step starts (``/proc/self/clear_refs``) and read when it ends, so each
step's figure is the most that process held during that step, the batch and earlier
steps' frames included. Where the reset is not allowed the figures are the process's
peak so far, and the report says so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

AS_OF = date(2026, 10, 31)
RESULTS = Path(__file__).with_name("results")
RECORDS_PER_HOUSEHOLD = 5.5
DEFAULT_RECORDS = (100_000, 1_000_000, 3_000_000)
NATIONAL = (10_000_000, 30_000_000)
"""Sizes the report projects to (person records)."""
STEPS = ("ingest", "checks", "standardise", "link", "households", "identity", "criteria", "rank", "store")
"""The steps timed: the declared stages of the run (``tfident.pipeline.STAGES``, a test checks they
agree; not imported, to keep this parent process light), then writing to the store."""


# ------------------------------------------------------------------------------ memory


def _status_kib(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def reset_peak() -> bool:
    """Reset this process's peak resident set (Linux); False when not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_mib() -> float:
    """This process's peak resident set since the last reset (or since it started), in MiB."""
    hwm = _status_kib("VmHWM")
    if hwm is None:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS) never resets
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return hwm / 1024


def rss_mib() -> float:
    rss = _status_kib("VmRSS")
    return (rss or 0) / 1024


# ------------------------------------------------------------------------------ children


def generate(households: int, seed: int, folder: str) -> dict[str, Any]:
    """Child: write a synthetic batch; its time and peak memory."""
    from tfident.synth import synthesise

    started = time.perf_counter()
    synthesise(households=households, seed=seed, as_of=AS_OF, out=Path(folder))
    return {"seconds": round(time.perf_counter() - started, 2), "peak_mib": round(peak_mib())}


def run_and_score(folder: str, url: str) -> dict[str, Any]:
    """Child: ``tfident run`` on a batch into ``url``, timing each step, then score against truth."""
    import polars as pl

    from tfident.evaluate import evaluate_run, read_truth
    from tfident.runner import execute_run
    from tfident.store import make_engine, read_candidates, read_identity_index

    steps: dict[str, dict[str, float]] = {}
    resets: list[bool] = []

    def progress(step: str, seconds: float | None) -> None:
        if seconds is None:
            resets.append(reset_peak())
            steps[step] = {"rss_before_mib": round(rss_mib())}
        else:
            steps[step].update(seconds=round(seconds, 2), peak_mib=round(peak_mib()))

    baseline = rss_mib()
    started = time.perf_counter()
    outcome = execute_run(Path(folder), AS_OF, url, "phase1", use_prefect=False, progress=progress)
    total = time.perf_counter() - started
    overall_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    engine = make_engine(url)
    try:
        index = (
            read_identity_index(engine, outcome.run_id)
            .with_columns(pl.col("record_key").str.split_exact(":", 1).struct.rename_fields(["source", "record_id"]))
            .unnest("record_key")
            .select("source", "record_id", "person_id", "household_id")
        )
        candidates = read_candidates(engine, outcome.run_id)["household_id"]
    finally:
        engine.dispose()
    truth_persons, truth_households = read_truth(Path(folder))
    scores = evaluate_run(index, candidates, truth_persons, truth_households)
    return {
        "records": index.height,
        "candidates": candidates.len(),
        "seconds": round(total, 2),
        "baseline_mib": round(baseline),
        "peak_mib": round(max(overall_peak, *(s.get("peak_mib", 0) for s in steps.values()))),
        "steps": steps,
        "per_step_peaks": all(resets),
        "scores": scores.as_dict(),
    }


def _child(function: Any, *args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        result: dict[str, Any] = pool.submit(function, *args).result()
        return result


# ------------------------------------------------------------------------------ databases


def _database(db: str | None, folder: Path, label: str) -> tuple[str, Any]:
    """The URL a size's run writes to and a function that drops it afterwards."""
    if not db:
        return f"sqlite:///{folder / f'{label}.db'}", lambda: None
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    schema = f"tfident_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(db)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return make_url(db).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False), drop


def bench_size(records: int, seed: int, work: Path, db: str | None, log: Any = print) -> dict[str, Any]:
    """Generate and run one batch of about ``records`` person records."""
    households = max(1, round(records / RECORDS_PER_HOUSEHOLD))
    folder = work / f"batch_{records}"
    log(f"{records:,} records ({households:,} households): generating ...")
    generated = _child(generate, households, seed, str(folder))
    log(f"  generated in {generated['seconds']} s; running the pipeline ...")
    url, drop = _database(db, work, f"store_{records}")
    try:
        run = _child(run_and_score, str(folder), url)
    finally:
        drop()
    for step, figures in run["steps"].items():
        log(f"  {step}: {figures.get('seconds')} s, peak {figures.get('peak_mib')} MiB")
    log(f"  total {run['seconds']} s, peak {run['peak_mib']} MiB")
    return {"target_records": records, "households": households, "seed": seed, "generate": generated, **run}


# ------------------------------------------------------------------------------ report


def fit_power(rows: list[dict[str, Any]], key: Any) -> tuple[float, float] | None:
    """``value = a * records ** b`` through the two largest sizes (log-log); (a, b).

    The largest sizes, not all of them: small batches carry fixed costs (imports, model
    loading, Splink's set-up) that would flatten the curve and flatter a projection.
    """
    points = [(r["records"], key(r)) for r in rows if key(r)]
    points = sorted(points)[-2:]
    if len(points) < 2:
        return None
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return math.exp(my - b * mx), b


def environment() -> dict[str, Any]:
    import duckdb
    import polars as pl
    import splink

    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, check=False
    ).stdout.strip()
    return {
        "date": date.today().isoformat(),
        "git_head": head or "-",
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "splink": splink.__version__,
        "duckdb": duckdb.__version__,
    }


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s ({seconds / 60:.1f} min)" if seconds >= 120 else f"{seconds:.1f} s"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A right-aligned markdown table."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---:|" * len(header),
        *("| " + " | ".join(cells) + " |" for cells in rows),
    ]


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown."""
    rows = report["sizes"]
    env = report["environment"]
    lines = [
        "# Pipeline scaling benchmark (`make bench-pipeline`)",
        "",
        f"Run {env['date']} at {env['git_head']} on {env['cpus']} CPUs, {env['memory_gib']} GiB; "
        f"polars {env['polars']}, Splink {env['splink']}, DuckDB {env['duckdb']}; store: {report['store']}. "
        f"Command: `{report['command']}`.",
        "",
        "Each size is `tfident run`'s own code path (no Prefect) on a synthetic batch, seed "
        f"{rows[0]['seed'] if rows else '-'}; seconds and peak resident memory per step "
        + (
            "(the process's high-water mark reset at each step's start)."
            if all(r["per_step_peaks"] for r in rows)
            else "(the process's peak so far: this kernel did not allow resetting it)."
        ),
        *(["", report["notes"]] if report.get("notes") else []),
        "",
        "## Wall time per step (seconds)",
        "",
        *_table(
            ["records", "households", *STEPS, "total", "records / s"],
            [
                [f"{r['records']:,}", f"{r['households']:,}"]
                + [str(r["steps"].get(s, {}).get("seconds", "-")) for s in STEPS]
                + [f"**{r['seconds']}**", f"{r['records'] / r['seconds']:,.0f}"]
                for r in rows
            ],
        ),
        "",
        "## Peak resident memory per step (MiB)",
        "",
        *_table(
            ["records", *STEPS, "whole run"],
            [
                [f"{r['records']:,}"]
                + [str(r["steps"].get(s, {}).get("peak_mib", "-")) for s in STEPS]
                + [f"**{r['peak_mib']:,}**"]
                for r in rows
            ],
        ),
        "",
        "## Accuracy against truth",
        "",
        *_table(
            ["records", "candidates", "person P", "person R", "family P", "family R", "generating the batch"],
            [
                [
                    f"{r['records']:,}",
                    f"{r['candidates']:,}",
                    *(f"{r['scores'][k][m]:.3f}" for k in ("persons", "families") for m in ("precision", "recall")),
                    f"{r['generate']['seconds']} s",
                ]
                for r in rows
            ],
        ),
    ]
    time_fit = fit_power(rows, lambda r: r["seconds"])
    memory_fit = fit_power(rows, lambda r: r["peak_mib"])
    if time_fit and memory_fit:
        lines += [
            "",
            "## Scaling and a national run",
            "",
            f"Fitted through the two largest sizes: time grows as records^{time_fit[1]:.2f}, peak memory as "
            f"records^{memory_fit[1]:.2f}. Per step (time exponent): "
            + ", ".join(
                f"{s} {fit[1]:.2f}"
                for s in STEPS
                if (fit := fit_power(rows, lambda r, s=s: r["steps"].get(s, {}).get("seconds"))) is not None
            )
            + ".",
            "",
            "| records | projected time, one machine like this | projected peak memory |",
            "|---:|---:|---:|",
        ]
        for n in NATIONAL:
            t = time_fit[0] * n ** time_fit[1]
            m = memory_fit[0] * n ** memory_fit[1]
            lines.append(f"| {n:,} | {_fmt_seconds(t)} | {m / 1024:,.1f} GiB |")
        lines += [
            "",
            "Projections are extrapolations of the fit, not measurements; what a national run needs is discussed in "
            "`docs/scaling.md`.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and write its results; returns the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=list(DEFAULT_RECORDS), help="sizes in records")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", help="SQLAlchemy URL of a PostgreSQL database (default: a new SQLite file per size)")
    parser.add_argument("--quick", action="store_true", help="one batch of 2,000 records (smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for pipeline.json and pipeline.md")
    args = parser.parse_args(argv)
    sizes = [2_000] if args.quick else args.records
    report: dict[str, Any] = {
        "environment": environment(),
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "store": "PostgreSQL" if args.db else "SQLite",
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="tfident-bench-") as work:
        for records in sizes:
            report["sizes"].append(
                bench_size(records, args.seed, Path(work), args.db, log=lambda m: print(m, flush=True))
            )
            shutil.rmtree(Path(work) / f"batch_{records}", ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pipeline.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / "pipeline.md").write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
