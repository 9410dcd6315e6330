"""Every synthetic error profile end to end: `tfident synth --profile P`, `tfident run`, `tfident evaluate`.

``python -m benchmarks.profiles`` (``make bench-profiles``) generates one batch per built-in
error profile (``default``, ``clean``, ``messy``, ``lagged``: see docs/synth-profiles.md)
with a seed no model was trained on (``--seed S``, or several with ``--seeds 101 102 103``),
runs the whole pipeline on it with the shipped configuration, exactly as an analyst would
(the command line, SQLite), and scores the run against the batch's truth: person links
(all pairs and cross-source pairs), households, eligible families (Phase 1), and twins (two true people of one household
born on one day) that ended up as one person. With several seeds it reports every
profile and seed, and each profile pooled over the seeds (eligible families found, eligible,
candidates and twin pairs summed, then the rates, with each rate's 95% Wilson score interval:
an 8-seed set of 3,000-household batches holds about 1,000 eligible families, so a recall of
0.980 there is 0.971 to 0.988, and two such sets differ by chance by more than the changes a
rule makes). ``--jobs N`` runs N batches at once. ``--profiles`` also takes profile files,
such as ``benchmarks/profiles/lagged-separated.yaml`` (a built-in profile with parents who stayed
when their family moved: ``separated_share``). Results go to ``benchmarks/results/profiles.md``
and ``profiles.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from tfident.synth.profiles import PROFILE_NAMES

RESULTS = Path(__file__).parent / "results"
AS_OF = "2026-10-31"
SEED = 101
"""Not a seed the shipped model was trained on (11, 12, 13)."""


def _tfident(*args: str) -> str:
    command = [str(Path(sys.executable).parent / "tfident"), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tfident {' '.join(args[:1])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def twins_merged(db: Path, batch: Path) -> tuple[int, int]:
    """``(twin pairs, twin pairs linked into one person)``: twins are two true people of one
    true household whose records most often give one date of birth.
    """
    with sqlite3.connect(db) as con:
        run = con.execute("select run_id from runs order by rowid desc limit 1").fetchone()[0]
        rows = con.execute(
            "select source, record_id, person_id, date_of_birth from source_records where run_id = ?", (run,)
        ).fetchall()
    records = pl.DataFrame(
        rows, schema=["source", "record_id", "person_id", "date_of_birth"], orient="row", infer_schema_length=None
    )
    truth = pl.read_csv(batch / "truth" / "persons.csv", infer_schema_length=0)
    joined = truth.join(records, on=["source", "record_id"])
    dob = (
        joined.drop_nulls("date_of_birth")
        .group_by("true_person_id", "true_household_id", "date_of_birth")
        .len()
        .sort(["true_person_id", "len", "date_of_birth"], descending=[False, True, False])
        .unique("true_person_id", keep="first", maintain_order=True)
        .drop("len")
    )
    pairs = dob.join(dob, on=["true_household_id", "date_of_birth"], suffix="_b").filter(
        pl.col("true_person_id") < pl.col("true_person_id_b")
    )
    persons = joined.group_by("true_person_id").agg(pl.col("person_id").unique())
    linked = (
        pairs.join(persons, on="true_person_id")
        .join(persons.rename({"true_person_id": "true_person_id_b", "person_id": "person_id_b"}), on="true_person_id_b")
        .filter(pl.col("person_id").list.set_intersection("person_id_b").list.len() > 0)
    )
    return pairs.height, linked.height


def out_of_sight(batch: Path) -> int:
    """Eligible families no record of whom is in the area: every record of every member gives a
    postcode outside every outward code of the gazetteer, and no gazetteer UPRN.

    The truth places them in the area (they moved in), but every agency still writes the home they
    left: no linker or household rule can find them, so they bound the recall any run can reach. A
    record with no postcode counts as in the area (it may be), so this is a floor on such families.
    """
    gazetteer = pl.read_csv(batch / "gazetteer.csv", infer_schema=False)
    outward = gazetteer["postcode"].str.to_uppercase().str.replace_all(" ", "").str.head(-3).unique()
    uprns = gazetteer["uprn"].unique()
    frames = []
    for path in sorted(batch.glob("*.csv")):
        if path.name == "gazetteer.csv":
            continue
        extract = pl.read_csv(path, infer_schema=False, columns=["record_id", "postcode", "uprn"])
        frames.append(extract.with_columns(pl.lit(path.stem).alias("source")))
    records = pl.concat(frames)
    postcode = pl.col("postcode").str.to_uppercase().str.replace_all(r"\s", "")
    in_area = (
        postcode.is_null()
        | (postcode.str.len_chars() < 5)
        | postcode.str.head(-3).is_in(outward.implode())
        | pl.col("uprn").is_in(uprns.implode())
    )
    truth = pl.read_csv(batch / "truth" / "persons.csv", infer_schema=False)
    households = pl.read_csv(batch / "truth" / "households.csv", infer_schema=False)
    eligible = households.filter(pl.col("eligible_phase1") == "Y")["true_household_id"]
    seen = (
        truth.join(records.with_columns(in_area.alias("_in")), on=["source", "record_id"])
        .group_by("true_household_id")
        .agg(pl.col("_in").any())
    )
    return seen.filter(pl.col("true_household_id").is_in(eligible.implode()) & ~pl.col("_in")).height


def run_profile(root: Path, profile: str, households: int, seed: int) -> dict[str, Any]:
    """One profile: generate, run, evaluate; the scores and timings."""
    name = Path(profile).stem  # a built-in's name, or a profile file's (benchmarks/profiles/*.yaml)
    batch, db = root / name, root / f"{name}.db"
    started = time.perf_counter()
    _tfident("synth", "--households", str(households), "--seed", str(seed), "--as-of", AS_OF, "--profile", profile,
             "--out", str(batch))  # fmt: skip
    generated = time.perf_counter()
    _tfident("run", "--extracts", str(batch), "--as-of", AS_OF, "--db", f"sqlite:///{db}")
    ran = time.perf_counter()
    scores = json.loads(_tfident("evaluate", "--extracts", str(batch), "--run", "latest", "--db", f"sqlite:///{db}",
                                 "--json"))  # fmt: skip
    twins, merged = twins_merged(db, batch)
    return {
        "profile": name,
        "households": households,
        "seed": seed,
        "scores": scores,
        "twin_pairs": twins,
        "twin_pairs_merged": merged,
        "eligible_out_of_sight": out_of_sight(batch),
        "synth_seconds": round(generated - started, 1),
        "run_seconds": round(ran - generated, 1),
    }


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% with the default ``z``): ``(low, high)``.

    Unlike the normal approximation it stays inside [0, 1] and is honest near 1, where every rate
    here lives. No trials: ``(0.0, 1.0)``, nothing is known.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def pooled(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each profile over its seeds: family counts and twin pairs summed, then the rates."""
    out: list[dict[str, Any]] = []
    for profile in dict.fromkeys(row["profile"] for row in rows):
        mine = [row for row in rows if row["profile"] == profile]
        families = {
            key: sum(row["scores"]["families"][key] for row in mine)
            for key in ("candidates", "candidates_eligible", "eligible", "eligible_found")
        }
        families["precision"] = (
            families["candidates_eligible"] / families["candidates"] if families["candidates"] else 1.0
        )
        families["recall"] = families["eligible_found"] / families["eligible"] if families["eligible"] else 1.0
        families["precision_interval"] = wilson(families["candidates_eligible"], families["candidates"])
        families["recall_interval"] = wilson(families["eligible_found"], families["eligible"])
        out.append(
            {
                "profile": profile,
                "seeds": [row["seed"] for row in mine],
                "families": families,
                "twin_pairs": sum(row["twin_pairs"] for row in mine),
                "twin_pairs_merged": sum(row["twin_pairs_merged"] for row in mine),
                "eligible_out_of_sight": sum(row.get("eligible_out_of_sight", 0) for row in mine),
                "min_households_f1": min(row["scores"]["households"]["f1"] for row in mine),
            }
        )
    return out


def markdown(report: dict[str, Any]) -> str:
    """The results as Markdown tables: each profile and seed, then (several seeds) pooled."""
    seeds = report.get("seeds", [report["seed"]])
    several = len(seeds) > 1
    seed_text = " ".join(str(seed) for seed in seeds)
    lines = [
        "# Every synthetic error profile, end to end (`python -m benchmarks.profiles`)",
        "",
        f"Run on {report['date']}: `tfident synth --households {report['households']} --seed "
        f"{'S' if several else seed_text} --profile P`{f' for S in {seed_text}' if several else ''}, then "
        f"`tfident run` with the shipped configuration and model ({report['model_version']}), then "
        f"`tfident evaluate`. Total {report['total_seconds']} s"
        + (
            f", {report['jobs']} batches at a time (run s: each batch sharing the machine)."
            if report.get("jobs", 1) > 1
            else "."
        ),
        "",
        f"| profile |{' seed |' if several else ''} cross-source pairs P / R / F1 | all pairs F1 | households F1 "
        "| eligible families P / R (found/eligible) | twin pairs merged | run s |",
        f"|---|{'---:|' if several else ''}---|---:|---:|---|---:|---:|",
    ]
    for row in report["profiles"]:
        s = row["scores"]
        x, f = s["persons_cross_source"], s["families"]
        seed_cell = f" {row['seed']} |" if several else ""
        lines.append(
            f"| {row['profile']} |{seed_cell} {x['precision']:.4f} / {x['recall']:.4f} / {x['f1']:.4f} "
            f"| {s['persons']['f1']:.4f} | {s['households']['f1']:.4f} "
            f"| {f['precision']:.3f} / {f['recall']:.3f} ({f['eligible_found']}/{f['eligible']}) "
            f"| {row['twin_pairs_merged']} of {row['twin_pairs']} | {row['run_seconds']} |"
        )
    if several:
        lines += [
            "",
            f"Pooled over seeds {seed_text} (found, eligible, candidates and twin pairs summed):",
            "",
            "| profile | eligible families P / R (found/eligible) | P, 95% interval | R, 95% interval "
            "| eligible out of sight: R of the rest | lowest households F1 | twin pairs merged |",
            "|---|---|---|---|---|---:|---:|",
        ]
        for row in report["pooled"]:
            f = row["families"]
            (p_low, p_high), (r_low, r_high) = f["precision_interval"], f["recall_interval"]
            hidden = row.get("eligible_out_of_sight", 0)
            in_sight = f["eligible"] - hidden
            rest = f"{f['eligible_found'] / in_sight:.3f}" if in_sight else "-"
            lines.append(
                f"| {row['profile']} | {f['precision']:.3f} / {f['recall']:.3f} ({f['eligible_found']}/"
                f"{f['eligible']}) | {p_low:.3f} to {p_high:.3f} | {r_low:.3f} to {r_high:.3f} "
                f"| {hidden}: {rest} | {row['min_households_f1']:.4f} | {row['twin_pairs_merged']} of "
                f"{row['twin_pairs']} |"
            )
    lines += [
        "",
        "The profiles are described in docs/synth-profiles.md. Twin pairs: two true people of one",
        "household whose records most often give one date of birth; merged: any of their records",
        "placed in one person. Intervals: 95% Wilson score intervals of the pooled rates. Eligible out",
        "of sight: eligible families every record of whom gives a postcode outside the gazetteer's",
        "outward codes (the family moved in and no agency has the new address): no run can find them.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every profile and write the results; returns the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiles", description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=SEED, help="One seed (ignored with --seeds).")
    parser.add_argument("--seeds", type=int, nargs="+", help="Several seeds: each, and every profile pooled.")
    parser.add_argument(
        "--profiles",
        nargs="*",
        default=list(PROFILE_NAMES),
        help="Built-in profile names or profile files (e.g. benchmarks/profiles/lagged-separated.yaml).",
    )
    parser.add_argument("--jobs", type=int, default=1, help="Batches run at once (each is one process).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from datetime import date

    from tfident.link import load_linkage_config

    seeds: list[int] = args.seeds or [args.seed]
    started = time.perf_counter()
    report: dict[str, Any] = {
        "date": date.today().isoformat(),
        "households": args.households,
        "seed": seeds[0],
        "seeds": seeds,
        "model_version": load_linkage_config().model_version,
        "jobs": max(1, args.jobs),
        "profiles": [],
    }
    with tempfile.TemporaryDirectory(prefix="tfident-profiles-") as tmp:
        for seed in seeds:
            (Path(tmp) / str(seed)).mkdir()

        def one(job: tuple[int, str]) -> dict[str, Any]:
            seed, profile = job
            print(f"{profile} seed {seed} ...", flush=True)
            return run_profile(Path(tmp) / str(seed), profile, args.households, seed)

        jobs = [(seed, profile) for seed in seeds for profile in args.profiles]
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            report["profiles"] = list(pool.map(one, jobs))  # in job order, whatever order they finish
    report["pooled"] = pooled(report["profiles"])
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profiles.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / "profiles.md").write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
