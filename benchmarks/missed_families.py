"""The eligible families a run missed and its false candidates, with every record of theirs.

``python -m benchmarks.missed_families BATCH DB [TH...]``: BATCH is a synthetic batch folder
(``tfident synth``, with ``truth/``), DB the SQLite file of a ``tfident run`` on it. For each
eligible family no candidate stands for, and each candidate standing for a family that is not
eligible (or only the true households named), it prints the households its members were placed
in (with who else is there) and every record of those people: source, date, address, UPRN,
and the faults the generator logged (``address_stale``: an agency that lags a move). Scored
as ``tfident evaluate`` scores families (a candidate stands for the true household most of
its records belong to). Synthetic data only: it prints names.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import polars as pl


def _query(con: sqlite3.Connection, sql: str, run: str) -> pl.DataFrame:
    cur = con.execute(sql, (run,))
    cols = [d[0] for d in cur.description]
    return pl.DataFrame(cur.fetchall(), schema=cols, orient="row", infer_schema_length=None)


def main(argv: list[str] | None = None) -> None:
    """Print the missed eligible families and false candidates of the latest run in DB."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.missed_families", description=__doc__.split("\n")[0])
    parser.add_argument("batch", type=Path)
    parser.add_argument("db", type=Path)
    parser.add_argument("households", nargs="*", help="True household ids to show instead of the misses.")
    args = parser.parse_args(argv)
    con = sqlite3.connect(args.db)
    run = con.execute("select run_id from runs order by rowid desc limit 1").fetchone()[0]
    records = _query(
        con,
        "select source, record_id, person_id, address, postcode, uprn_matched, evidence_date, forename"
        " from source_records where run_id = ?",
        run,
    )
    persons = _query(con, "select person_id, household_id, role from persons where run_id = ?", run)
    households = _query(
        con, "select household_id, uprn, address, n_members, address_status, review_reason from households"
        " where run_id = ?", run,
    )  # fmt: skip
    candidates = _query(con, "select household_id from candidates where run_id = ?", run)["household_id"]
    truth = pl.read_csv(args.batch / "truth" / "persons.csv", infer_schema=False)
    truth_households = pl.read_csv(args.batch / "truth" / "households.csv", infer_schema=False)
    faults = (
        pl.read_csv(args.batch / "truth" / "faults.csv", infer_schema=False)
        .group_by("source", "record_id")
        .agg(pl.col("fault").str.join(",").alias("faults"))
    )
    rows = (
        truth.join(records, on=["source", "record_id"], how="left")
        .join(faults, on=["source", "record_id"], how="left")
        .join(persons, on="person_id", how="left")
    )
    eligible = truth_households.filter(pl.col("eligible_phase1") == "Y")["true_household_id"]
    stands_for = (
        rows.filter(pl.col("household_id").is_in(candidates.implode()))
        .group_by("household_id", "true_household_id")
        .len()
        .sort(["household_id", "len", "true_household_id"], descending=[False, True, False])
        .unique("household_id", keep="first", maintain_order=True)
    )
    found = set(stands_for.filter(pl.col("true_household_id").is_in(eligible.implode()))["true_household_id"])
    false = stands_for.filter(~pl.col("true_household_id").is_in(eligible.implode()))["true_household_id"].to_list()
    missed = [h for h in eligible.to_list() if h not in found]
    print(f"run {run}: {candidates.len()} candidates, {len(found)} of {eligible.len()} eligible families found")
    print(f"missed: {missed}")
    print(f"false candidates stand for: {false}")
    pl.Config.set_tbl_rows(500)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_fmt_str_lengths(30)
    pl.Config.set_tbl_width_chars(250)
    for family in args.households or [*missed, *false]:
        print(f"\n===== {family}", truth_households.filter(pl.col("true_household_id") == family).to_dicts())
        placed = rows.filter(pl.col("true_household_id") == family)["household_id"].drop_nulls().unique()
        print(
            households.filter(pl.col("household_id").is_in(placed.implode())).with_columns(
                pl.col("household_id").is_in(candidates.implode()).alias("candidate")
            )
        )
        shown = rows.filter(pl.col("household_id").is_in(placed.implode()) | (pl.col("true_household_id") == family))
        print(
            shown.select(
                "true_household_id", "true_person_id", "person_id", "role", "household_id", "source",
                "evidence_date", "uprn_matched", "address", "postcode", "forename", "faults",
            ).sort("true_household_id", "true_person_id", "evidence_date")
        )  # fmt: skip


if __name__ == "__main__":
    main()
