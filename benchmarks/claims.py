"""Claims against truth on a nine-month synthetic council: ``python -m benchmarks.claims``.

1. ``tfident synth --months 9 --outcomes SHARE`` (1,500 households by default, first batch
   date 31 December 2025): a share of the eligible families attached on each of the first
   three batch dates and followed, with ``truth/claims.csv`` per month.
2. ``tfident run`` each month into a fresh SQLite database; after each run, every family the
   truth says was attached on that batch date is accepted as a coordinator would: the run's
   candidate standing for it (the true household most of its records belong to) gets an
   ``accept`` decision (which freezes the attachment). A family with no candidate cannot be
   attached and is counted.
3. After the last run, ``prepare_claims`` for a programme period with the ``phase1`` results
   rules covering the nine months, then ``tfident evaluate --json`` on the last month: claims
   precision and recall against ``truth/claims.csv``. Misses are listed with the truth's
   reason and tfident's observations.

Writes ``benchmarks/results/claims.md`` and ``claims.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from typer.testing import CliRunner

from tfident.cli import app
from tfident.config import CONFIG_DIR_ENV
from tfident.evaluate import families_of
from tfident.outcomes import ProgrammePeriod
from tfident.store import make_engine, read_candidates, read_persons_index
from tfident.store.attachments import read_observations
from tfident.store.claims import prepare_claims
from tfident.store.review import DecisionInput, add_decision
from tfident.synth import synthesise_months

RESULTS = Path(__file__).parent / "results"

COUNCIL_CHECKS = """\
# A small synthetic council: a source with nothing new in a month sends the same file again.
defaults:
  same_file: {level: off}
"""
"""The council's ``checks.yaml`` for the check (``TFIDENT_CONFIG_DIR``)."""


def invoke(*args: str) -> str:
    """Run a ``tfident`` command in process; its standard output."""
    result = CliRunner().invoke(app, list(args))
    if result.exit_code != 0:
        raise RuntimeError(f"tfident {' '.join(args)} failed: {result.output}")
    return result.stdout


def candidate_for(engine: Any, run_id: str, folder: Path) -> dict[str, str]:
    """Each true household a candidate of the run stands for -> that candidate (the one with most records)."""
    truth = pl.read_csv(folder / "truth" / "persons.csv", infer_schema=False)
    candidates = read_candidates(engine, run_id)["household_id"]
    index = read_persons_index(engine, run_id).filter(pl.col("household_id").is_in(candidates.implode()))
    majority = (
        index.join(truth, on=["source", "record_id"], how="inner")
        .group_by("household_id", "true_household_id")
        .len()
        .sort(["household_id", "len", "true_household_id"], descending=[False, True, False])
        .unique("household_id", keep="first", maintain_order=True)
        .sort(["true_household_id", "len", "household_id"], descending=[False, True, False])
        .unique("true_household_id", keep="first", maintain_order=True)
    )
    return dict(zip(majority["true_household_id"], majority["household_id"], strict=True))


def attach_month(engine: Any, run_id: str, folder: Path, as_of: date) -> tuple[int, list[str]]:
    """Accept the families the truth says were attached on ``as_of``; (accepted, not found)."""
    truth = pl.read_csv(folder / "truth" / "claims.csv", try_parse_dates=True)
    families = truth.filter(pl.col("attached_on") == as_of)["true_household_id"].to_list()
    found = candidate_for(engine, run_id, folder)
    missing = [f for f in families if f not in found]
    for family in families:
        if family in found:
            decision = DecisionInput(
                household_id=found[family],
                run_id=run_id,
                decision="accept",
                username="coordinator",
                lead_agency="Early Help",
            )
            add_decision(engine, decision)
    return len(families) - len(missing), missing


def run_check(households: int, seed: int, first: date, months: int, share: float, work: Path) -> dict[str, Any]:
    """Synthesise, run, attach, claim and evaluate; the measured numbers."""
    config = work / "config"
    config.mkdir(parents=True)
    (config / "checks.yaml").write_text(COUNCIL_CHECKS)
    before = os.environ.get(CONFIG_DIR_ENV)
    os.environ[CONFIG_DIR_ENV] = str(config)
    try:
        return _run_check(households, seed, first, months, share, work)
    finally:
        if before is None:
            os.environ.pop(CONFIG_DIR_ENV, None)
        else:
            os.environ[CONFIG_DIR_ENV] = before


def _run_check(households: int, seed: int, first: date, months: int, share: float, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    folders = synthesise_months(households, seed, first, work / "months", months, attach_share=share)
    synth_s = time.perf_counter() - started
    db = f"sqlite:///{work / 'tfident.db'}"
    engine = make_engine(db)
    runs: list[str] = []
    accepted, not_found = 0, []
    run_started = time.perf_counter()
    for folder in folders:
        as_of = date.fromisoformat(folder.name)
        out = invoke("run", "--extracts", str(folder), "--as-of", folder.name, "--db", db, "--no-prefect")
        run_id = out.strip().splitlines()[-1]
        runs.append(run_id)
        made, missing = attach_month(engine, run_id, folder, as_of)
        accepted += made
        not_found += missing
    runs_s = time.perf_counter() - run_started
    final = folders[-1]
    period = ProgrammePeriod(
        id="SYN-TF1",
        ruleset_id="phase1",
        valid_from=first,
        valid_to=date.fromisoformat(final.name),
        rates={"tf1_results": 4000, "tf1_ce": 4000},
    )
    proposals = prepare_claims(engine, period, "benchmark", run_id=runs[-1])
    scores = json.loads(invoke("evaluate", "--extracts", str(final), "--run", runs[-1], "--db", db, "--json"))
    misses = analyse(engine, runs[-1], final, proposals)
    engine.dispose()
    truth = pl.read_csv(final / "truth" / "claims.csv", infer_schema=False)
    return {
        "households": households,
        "seed": seed,
        "months": months,
        "first_batch_date": first.isoformat(),
        "attach_share": share,
        "truth_attached": truth.height,
        "truth_claimable": int((truth["claimable"] == "Y").sum()),
        "truth_reasons": dict(sorted(truth.group_by("reason").len().iter_rows())),
        "accepted": accepted,
        "attached_without_candidate": sorted(not_found),
        "claims_prepared": len(proposals),
        "claims": scores.get("claims"),
        "families": scores["families"],
        "misses": misses,
        "seconds": {"synth": round(synth_s, 1), "runs": round(runs_s, 1)},
    }


def analyse(engine: Any, run_id: str, folder: Path, proposals: list[Any]) -> list[dict[str, Any]]:
    """The families claims got wrong (claimed but not claimable, claimable but not claimed), with the truth's
    measures and tfident's observations of the family's attachment on the claim run.
    """
    import sqlalchemy as sa

    truth = pl.read_csv(folder / "truth" / "claims.csv", infer_schema=False)
    truth_persons = pl.read_csv(folder / "truth" / "persons.csv", infer_schema=False)
    with engine.connect() as connection:
        members = pl.DataFrame(
            connection.execute(sa.text("SELECT attachment_id, person_id FROM attachment_members")).all(),
            schema={"key": pl.Int64, "person_id": pl.String},
            orient="row",
        )
        households = dict(connection.execute(sa.text("SELECT attachment_id, household_id FROM attachments")).all())
        observations = {a: read_observations(connection, run_id, a) for a in households}
    family = families_of(members, read_persons_index(engine, run_id), truth_persons)
    attachment_of = dict(zip(family["true_household_id"], family["key"], strict=True))
    claimed = {p.attachment_id for p in proposals}
    out = []
    for row in truth.iter_rows(named=True):
        attachment = attachment_of.get(row["true_household_id"])
        if (attachment in claimed) == (row["claimable"] == "Y"):
            continue
        out.append(
            {
                "true_household_id": row["true_household_id"],
                "truth": row["claimable"],
                "reason": row["reason"],
                "truth_measures": {k: row[k] for k in ("education", "offending", "asb")},
                "attachment_id": attachment,
                "household_id": households.get(attachment) if attachment is not None else None,
                "observations": [
                    {k: o[k] for k in ("need", "measure", "value", "met", "reason")}
                    for o in observations.get(attachment, [])
                ]
                if attachment is not None
                else None,
            }
        )
    return out


def report(result: dict[str, Any]) -> str:
    """The Markdown report."""
    c = result["claims"] or {}
    lines = [
        "# Claims against truth: a nine-month synthetic council",
        "",
        f"`python -m benchmarks.claims` ({result['households']:,} households, seed {result['seed']}, "
        f"{result['months']} months from {result['first_batch_date']}, attach share {result['attach_share']}).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| families attached (truth) | {result['truth_attached']} |",
        f"| accepted in the store | {result['accepted']} |",
        f"| attached in truth without a candidate | {len(result['attached_without_candidate'])} |",
        f"| claimable on the last month (truth) | {result['truth_claimable']} |",
        f"| claims prepared | {result['claims_prepared']} |",
        f"| claims precision | {c.get('precision', float('nan')):.4f} ({c.get('claims_valid')}/{c.get('claims')}) |",
        f"| claims recall | {c.get('recall', float('nan')):.4f} ({c.get('claimable_claimed')}/{c.get('claimable')}) |",
        f"| claims F1 | {c.get('f1', float('nan')):.4f} |",
        f"| candidate families precision / recall (last month) | {result['families']['precision']:.4f} / "
        f"{result['families']['recall']:.4f} |",
        f"| time: synth / 9 runs | {result['seconds']['synth']} s / {result['seconds']['runs']} s |",
        "",
        "Truth reasons on the last month: " + ", ".join(f"{k} {v}" for k, v in result["truth_reasons"].items()) + ".",
        "",
        f"## Misses ({len(result['misses'])})",
        "",
    ]
    for miss in result["misses"]:
        lines.append(
            f"- {miss['true_household_id']}: truth {miss['truth']} ({miss['reason']}, {miss['truth_measures']}); "
            f"household {miss['household_id']}; observations {miss['observations']}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the check and write the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", type=int, default=9)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--first", type=date.fromisoformat, default=date(2025, 12, 31))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, help="Keep the batches and database in this (new) folder.")
    args = parser.parse_args()
    if args.work is not None:
        args.work.mkdir(parents=True)
        result = run_check(args.households, args.seed, args.first, args.months, args.share, args.work)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = run_check(args.households, args.seed, args.first, args.months, args.share, Path(folder))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "claims.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "claims.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
