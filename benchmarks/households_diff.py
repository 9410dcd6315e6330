"""Who a households rule moves, against the truth: ``python -m benchmarks.households_diff BATCH OFF ON ...``.

For each synthetic batch and two databases of ``tfident run`` on it, one with a households rule off
and one with it on (triples of arguments), every person placed in a different household by the two
runs is read against the batch's truth: is anyone of their true household (by the majority of their
records) placed with them, before and after? A parent who moved with the children and whose agencies
never heard of it is "with their own family" once the rule moves them; a separated parent who stayed
at the old home (``separated_share`` in docs/synth-profiles.md) is with their own family (themselves:
their true household holds only them) only where they were. Synthetic data only.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections import Counter
from pathlib import Path

import polars as pl


def _placed(db: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(person_id -> household_id, source/record_id -> person_id)`` of the database's last run."""
    with sqlite3.connect(db) as con:
        (run,) = con.execute("select run_id from runs order by rowid desc limit 1").fetchone()
        persons = con.execute("select person_id, household_id from persons where run_id = ?", (run,)).fetchall()
        records = con.execute(
            "select source, record_id, person_id from source_records where run_id = ?", (run,)
        ).fetchall()
    return (
        pl.DataFrame(persons, schema=["person_id", "household_id"], orient="row"),
        pl.DataFrame(records, schema=["source", "record_id", "person_id"], orient="row"),
    )


def _judged(batch: Path, db: Path) -> pl.DataFrame:
    """``person_id, household_id, true_household_id, alone, with_own``: each person placed by the run,
    their true household (the commonest among their records'), whether they are the only one of it
    in the batch's truth, and whether someone else of it is placed with them.
    """
    truth = pl.read_csv(batch / "truth" / "persons.csv", infer_schema=False)
    persons, records = _placed(db)
    true_of = (
        records.join(truth, on=["source", "record_id"])
        .group_by("person_id")
        .agg(pl.col("true_household_id").mode().sort().first(), pl.col("true_person_id").mode().sort().first())
    )
    people = persons.join(true_of, on="person_id", how="inner")
    size = truth.group_by("true_household_id").agg(pl.col("true_person_id").n_unique().alias("_size"))
    together = people.group_by("household_id", "true_household_id").agg(pl.col("true_person_id").n_unique().alias("_n"))
    return (
        people.join(size, on="true_household_id", how="left")
        .join(together, on=["household_id", "true_household_id"], how="left")
        .select(
            "person_id",
            "household_id",
            "true_household_id",
            (pl.col("_size") == 1).alias("alone"),
            (pl.col("_n") > 1).alias("with_own"),
        )
    )


def moved(batch: Path, off: Path, on: Path) -> Counter[tuple[str, str]]:
    """Counts of the people placed differently by the two runs, by ``(before, after)``: ``own``
    (with someone of their true household, or alone as their true household is), ``other``, or
    ``unplaced`` (in no household).
    """
    before, after = _judged(batch, off), _judged(batch, on)
    both = before.join(after, on="person_id", suffix="_on").filter(
        pl.col("household_id").ne_missing(pl.col("household_id_on"))
    )

    def verdict(with_own: bool | None, alone: bool, n_there: int | None) -> str:
        if n_there is None:
            return "unplaced"  # in no household (no record of theirs gives an address)
        return "own" if with_own or (alone and n_there == 1) else "other"

    n_off = before.group_by("household_id").len()
    n_on = after.group_by("household_id").len().rename({"household_id": "household_id_on", "len": "len_on"})
    both = both.join(n_off, on="household_id", how="left").join(n_on, on="household_id_on", how="left")
    counts: Counter[tuple[str, str]] = Counter()
    for row in both.iter_rows(named=True):
        counts[
            (
                verdict(row["with_own"], row["alone"], row["len"]),
                verdict(row["with_own_on"], row["alone_on"], row["len_on"]),
            )
        ] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.households_diff", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="BATCH OFF_DB ON_DB triples")
    args = parser.parse_args(argv)
    if len(args.runs) % 3:
        parser.error("give BATCH OFF_DB ON_DB triples")
    total: Counter[tuple[str, str]] = Counter()
    for batch, off, on in zip(args.runs[::3], args.runs[1::3], args.runs[2::3], strict=True):
        counts = moved(Path(batch), Path(off), Path(on))
        total += counts
        print(f"{batch}: {sum(counts.values())} placed differently: {dict(sorted(counts.items()))}")
    print(f"all: {sum(total.values())} placed differently (before, after): {dict(sorted(total.items()))}")


if __name__ == "__main__":
    main()
