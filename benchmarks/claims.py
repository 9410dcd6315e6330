"""Claims against truth on a nine-month synthetic council: ``python -m benchmarks.claims``.

1. For each seed (7, 11 and 13 by default), ``tfident synth --months 9 --outcomes SHARE``
   (1,500 households, first batch date 31 December 2025): a share of the eligible families
   attached on each of the first three batch dates and followed, with ``truth/claims.csv``
   per month.
2. ``tfident run`` each month into a fresh SQLite database; after each run, every family the
   truth says was attached on that batch date is accepted as a coordinator would: the run's
   candidate standing for it (the true household most of its records belong to) gets an
   ``accept`` decision (which freezes the attachment). A family with no candidate cannot be
   attached and is counted.
3. After the last run, ``prepare_claims`` for a programme period with the ``phase1`` results
   rules covering the nine months, then ``tfident evaluate --json`` on the last month: claims
   precision and recall against ``truth/claims.csv``. Misses are listed with the truth's
   reason, a cause (no attachment; frozen members not the true family; same members) and
   tfident's observations. The seeds' counts are pooled.

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


def run_check(
    households: int, seed: int, first: date, months: int, share: float, work: Path, profile: str = "default"
) -> dict[str, Any]:
    """Synthesise, run, attach, claim and evaluate; the measured numbers."""
    config = work / "config"
    config.mkdir(parents=True)
    (config / "checks.yaml").write_text(COUNCIL_CHECKS)
    before = os.environ.get(CONFIG_DIR_ENV)
    os.environ[CONFIG_DIR_ENV] = str(config)
    try:
        return _run_check(households, seed, first, months, share, work, profile)
    finally:
        if before is None:
            os.environ.pop(CONFIG_DIR_ENV, None)
        else:
            os.environ[CONFIG_DIR_ENV] = before


def _run_check(
    households: int, seed: int, first: date, months: int, share: float, work: Path, profile: str
) -> dict[str, Any]:
    started = time.perf_counter()
    folders = synthesise_months(households, seed, first, work / "months", months, profile=profile, attach_share=share)
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
    routes = by_route(engine, runs[-1], final, proposals)
    engine.dispose()
    truth = pl.read_csv(final / "truth" / "claims.csv", infer_schema=False)
    return {
        "households": households,
        "seed": seed,
        "months": months,
        "first_batch_date": first.isoformat(),
        "attach_share": share,
        "profile": profile,
        "truth_attached": truth.height,
        "truth_claimable": int((truth["claimable"] == "Y").sum()),
        "truth_reasons": dict(sorted(truth.group_by("reason").len().iter_rows())),
        "accepted": accepted,
        "attached_without_candidate": sorted(not_found),
        "claims_prepared": len(proposals),
        "claims": scores.get("claims"),
        "families": scores["families"],
        "misses": misses,
        "routes": routes,
        "seconds": {"synth": round(synth_s, 1), "runs": round(runs_s, 1)},
    }


def _truth_and_members(engine: Any, folder: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The month's claims truth and true persons, and the frozen members of every attachment (``key``)."""
    import sqlalchemy as sa

    truth = pl.read_csv(folder / "truth" / "claims.csv", infer_schema=False)
    truth_persons = pl.read_csv(folder / "truth" / "persons.csv", infer_schema=False)
    with engine.connect() as connection:
        members = pl.DataFrame(
            connection.execute(sa.text("SELECT attachment_id, person_id FROM attachment_members")).all(),
            schema={"key": pl.Int64, "person_id": pl.String},
            orient="row",
        )
    return truth, truth_persons, members


def analyse(engine: Any, run_id: str, folder: Path, proposals: list[Any]) -> list[dict[str, Any]]:
    """The families claims got wrong (claimed but not claimable, claimable but not claimed), with the truth's
    measures and tfident's observations of the family's attachment on the claim run.
    """
    import sqlalchemy as sa

    truth, truth_persons, members = _truth_and_members(engine, folder)
    with engine.connect() as connection:
        households = dict(connection.execute(sa.text("SELECT attachment_id, household_id FROM attachments")).all())
        observations = {a: read_observations(connection, run_id, a) for a in households}
    index = read_persons_index(engine, run_id)
    family = families_of(members, index, truth_persons)
    attachment_of = dict(zip(family["true_household_id"], family["key"], strict=True))
    people = members.join(
        index.join(truth_persons, on=["source", "record_id"]).select("person_id", "true_person_id").unique(),
        on="person_id",
    )
    claimed = {p.attachment_id for p in proposals}
    route_of = {p.attachment_id: p.route for p in proposals}
    out = []
    for row in truth.iter_rows(named=True):
        attachment = attachment_of.get(row["true_household_id"])
        if (attachment in claimed) == (row["claimable"] == "Y"):
            continue
        true_members = set(
            truth_persons.filter(pl.col("true_household_id") == row["true_household_id"])["true_person_id"]
        )
        frozen = set(people.filter(pl.col("key") == attachment)["true_person_id"]) if attachment is not None else set()
        if attachment is None:
            cause = "no attachment stands for the family (no candidate on its month)"
        elif frozen != true_members:
            cause = (
                f"frozen members differ from the true family: missing {sorted(true_members - frozen)}, "
                f"extra {sorted(frozen - true_members)}"
            )
        else:
            cause = "same members: a difference in the records or the rules"
        out.append(
            {
                "true_household_id": row["true_household_id"],
                "cause": cause,
                "truth": row["claimable"],
                "reason": row["reason"],
                "truth_route": row.get("route") or None,
                "claimed_route": route_of.get(attachment) if attachment is not None else None,
                "truth_measures": {k: row.get(k, "") for k in ("education", "offending", "asb", "employment")},
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


def by_route(engine: Any, run_id: str, folder: Path, proposals: list[Any]) -> dict[str, dict[str, int]]:
    """Per claim route: tfident's claims by that route, those whose family the truth gives that route,
    the truth's families of that route, and those tfident claimed by it (``claims``, ``claims_valid``,
    ``claimable``, ``claimable_claimed``).
    """
    truth, truth_persons, members = _truth_and_members(engine, folder)
    family = families_of(members, read_persons_index(engine, run_id), truth_persons)
    family_of = dict(zip(family["key"], family["true_household_id"], strict=True))
    truth_route = {r["true_household_id"]: r["route"] or "" for r in truth.iter_rows(named=True)}
    claimed = {(family_of.get(p.attachment_id), p.route) for p in proposals}
    out: dict[str, dict[str, int]] = {}
    for route in ("tf1_results", "tf1_ce"):
        mine = [hh for hh, r in claimed if r == route]
        theirs = [hh for hh, r in truth_route.items() if r == route]
        out[route] = {
            "claims": len(mine),
            "claims_valid": sum(1 for hh in mine if truth_route.get(hh or "") == route),
            "claims_claimable_other_route": sum(1 for hh in mine if truth_route.get(hh or "") not in ("", route)),
            "claimable": len(theirs),
            "claimable_claimed": sum(1 for hh in theirs if (hh, route) in claimed),
        }
    return out


def route_scores(counts: dict[str, int]) -> str:
    """``precision (valid/claims) / recall (claimed/claimable)`` of one route's counts."""
    p = counts["claims_valid"] / counts["claims"] if counts["claims"] else 1.0
    r = counts["claimable_claimed"] / counts["claimable"] if counts["claimable"] else 1.0
    return (
        f"{p:.4f} ({counts['claims_valid']}/{counts['claims']}) | "
        f"{r:.4f} ({counts['claimable_claimed']}/{counts['claimable']})"
    )


def pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The claims counts of every seed added up, with precision, recall and F1."""
    keys = (
        "claims",
        "claims_valid",
        "claimable",
        "claimable_claimed",
        "attached_truth",
        "attached_found",
        "claimable_attached",
    )
    total = {k: sum((r["claims"] or {}).get(k, 0) for r in results) for k in keys}
    p = total["claims_valid"] / total["claims"] if total["claims"] else 1.0
    r = total["claimable_claimed"] / total["claimable"] if total["claimable"] else 1.0
    ra = total["claimable_claimed"] / total["claimable_attached"] if total["claimable_attached"] else 1.0
    return total | {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "recall_attached": ra}


def report(results: list[dict[str, Any]], total: dict[str, Any]) -> str:
    """The Markdown report."""
    first = results[0]
    lines = [
        "# Claims against truth: a nine-month synthetic council",
        "",
        f"`python -m benchmarks.claims`: {first['households']:,} households, {first['months']} months from "
        f"{first['first_batch_date']}, attach share {first['attach_share']} on each of the first three batch "
        f"dates, error profile {first['profile']}; seeds {', '.join(str(r['seed']) for r in results)}. "
        "Claims are prepared on the last month's run and scored against its `truth/claims.csv`.",
        "",
        "| seed | attached (truth) | accepted | no candidate | claimable (truth) | claims | precision | recall "
        "| F1 | recall of attached | candidates P / R | synth / runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c = r["claims"] or {}
        lines.append(
            f"| {r['seed']} | {r['truth_attached']} | {r['accepted']} | {len(r['attached_without_candidate'])} "
            f"| {r['truth_claimable']} | {r['claims_prepared']} "
            f"| {c.get('precision', float('nan')):.4f} ({c.get('claims_valid')}/{c.get('claims')}) "
            f"| {c.get('recall', float('nan')):.4f} ({c.get('claimable_claimed')}/{c.get('claimable')}) "
            f"| {c.get('f1', float('nan')):.4f} "
            f"| {c.get('recall_attached', float('nan')):.4f} "
            f"({c.get('claimable_claimed')}/{c.get('claimable_attached')}) "
            f"| {r['families']['precision']:.3f} / {r['families']['recall']:.3f} "
            f"| {r['seconds']['synth']} s / {r['seconds']['runs']} s |"
        )
    lines += [
        f"| **all** | {total['attached_truth']} | | | {total['claimable']} | {total['claims']} "
        f"| **{total['precision']:.4f}** ({total['claims_valid']}/{total['claims']}) "
        f"| **{total['recall']:.4f}** ({total['claimable_claimed']}/{total['claimable']}) "
        f"| {total['f1']:.4f} "
        f"| **{total['recall_attached']:.4f}** ({total['claimable_claimed']}/{total['claimable_attached']}) | | |",
        "",
        "*Recall of attached*: of the claimable families that were attached in the store (a coordinator "
        "could accept them: the run of their month had a candidate standing for them). *No candidate*: "
        "families the truth attached that no candidate of that month's run stood for (an identification miss; "
        "they cannot be claimed).",
        "",
        "Per route (a claim counts as valid for its route when the truth gives the family that route; "
        "the truth takes results before continuous employment, as `claim_route` does):",
        "",
        "| seed | route | precision | recall | claims the truth gives the other route |",
        "|---|---|---|---|---|",
        *[
            f"| {r['seed']} | {route} | {route_scores(c)} | {c['claims_claimable_other_route']} |"
            for r in results
            for route, c in r.get("routes", {}).items()
        ],
        *[
            f"| **all** | {route} | **{route_scores(c)}** | {c['claims_claimable_other_route']} |"
            for route in ("tf1_results", "tf1_ce")
            if (
                c := {
                    k: sum(r.get("routes", {}).get(route, {}).get(k, 0) for r in results)
                    for k in (
                        "claims",
                        "claims_valid",
                        "claims_claimable_other_route",
                        "claimable",
                        "claimable_claimed",
                    )
                }
            )
        ],
        "",
        "Truth reasons on the last month: "
        + "; ".join(
            f"seed {r['seed']}: " + ", ".join(f"{k} {v}" for k, v in r["truth_reasons"].items()) for r in results
        )
        + ".",
        "",
        f"## Misses ({sum(len(r['misses']) for r in results)})",
        "",
    ]
    for r in results:
        for miss in r["misses"]:
            lines.append(
                f"- seed {r['seed']}, {miss['true_household_id']}: truth {miss['truth']} ({miss['reason']}, "
                f"route {miss.get('truth_route')}, claimed by {miss.get('claimed_route')}, "
                f"{miss['truth_measures']}); **{miss['cause']}**; household {miss['household_id']}; "
                f"observations {miss['observations']}"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the check for every seed and write the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1500)
    parser.add_argument("--seeds", default="7,11,13", help="Comma-separated seeds, one council each.")
    parser.add_argument("--months", type=int, default=9)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--first", type=date.fromisoformat, default=date(2025, 12, 31))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, help="Keep the batches and databases in this (new) folder.")
    parser.add_argument("--profile", default="default", help="Error profile of the synthetic council.")
    args = parser.parse_args()
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        if args.work is not None:
            work = args.work / f"seed{seed}"
            work.mkdir(parents=True)
            results.append(run_check(args.households, seed, args.first, args.months, args.share, work, args.profile))
        else:
            with tempfile.TemporaryDirectory() as folder:
                results.append(
                    run_check(args.households, seed, args.first, args.months, args.share, Path(folder), args.profile)
                )
    total = pooled(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "claims.json").write_text(json.dumps({"pooled": total, "seeds": results}, indent=2, default=str) + "\n")
    (args.out / "claims.md").write_text(report(results, total))
    print(report(results, total))


if __name__ == "__main__":
    main()
