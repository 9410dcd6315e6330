"""Whom ``flat_from_surname`` places, against the truth: ``python -m benchmarks.flat_from_surname BATCH DB ...``.

For each synthetic batch and the database of a ``tfident run`` on it (pairs of arguments), the households
rule ``flat_from_surname`` (docs/households.md) is applied again to the run's stored records (address keys
as the households stage makes them, surnames standardised as ``tfident.standardise`` does), with the donor
roles given (``--roles``, by default the shipped ``flat_from_surname_roles``), and every person it places
in a flat is read against the batch's truth: placed with their own family (someone of their true household
lives in that flat on D) or with another. ``--rare``: ``flat_from_surname_rare`` (an adult of a surname
fewer than this share of the batch's people have counts too; ``none``: off). The rule's other guards are
the shipped ones. Synthetic data only.
"""

from __future__ import annotations

import argparse
import sqlite3
from datetime import date
from pathlib import Path

import polars as pl

from tfident.households import (
    _flat_from_surname,
    _months_before,
    address_keys,
    load_households_config,
    resolve_address,
    resolve_dob,
)
from tfident.households.roles import role_expr
from tfident.standardise.names import surname_std

COLUMNS = (
    "record_key, source, record_id, person_id, surname, date_of_birth, address, postcode, uprn_matched, "
    "address_match, evidence_date"
)


def placements(batch: Path, db: Path, roles: tuple[str, ...], rare: float | None = None) -> pl.DataFrame:
    """``person_id, true_household_id, flat, own_family``: each person the rule places, on the run's last run."""
    with sqlite3.connect(db) as con:
        run, as_of = con.execute("select run_id, as_of from runs order by rowid desc limit 1").fetchone()
        rows = con.execute(f"select {COLUMNS} from source_records where run_id = ?", (run,)).fetchall()
    day = date.fromisoformat(str(as_of)[:10])
    records = pl.DataFrame(rows, schema=[c.strip() for c in COLUMNS.split(",")], orient="row", infer_schema_length=None)
    records = records.with_columns(
        pl.col("evidence_date").cast(pl.String).str.to_date(),
        pl.col("date_of_birth").cast(pl.String).str.to_date(strict=False),
        pl.col("uprn_matched").cast(pl.Int64),
        pl.col("surname").map_elements(surname_std, return_dtype=pl.String).alias("surname_std"),
    )
    gazetteer = pl.read_csv(batch / "gazetteer.csv", infer_schema_length=0)
    config = load_households_config()
    keyed = address_keys(
        records,
        gazetteer,
        complete_postcodes=config.complete_postcodes,
        recheck_flat_uprns=config.recheck_flat_uprns,
        flat_from_surname=True,
    )
    sources = list(config.open_record_sources)
    keyed = keyed.with_columns(
        (pl.col("source").is_in(sources) & (pl.col("evidence_date") >= day)).fill_null(False).alias("_open"),
        (pl.col("source").is_in(sources) & (pl.col("evidence_date") < day)).fill_null(False).alias("_closed"),
    )
    stale = None if config.undated_after_months is None else _months_before(day, config.undated_after_months)
    people = keyed.select("person_id").unique()
    role = people.join(resolve_dob(keyed), on="person_id", how="left").select(
        "person_id", role_expr(pl.col("date_of_birth"), day).alias("role")
    )
    _, placed = _flat_from_surname(keyed, role, stale, roles, rare)
    truth = pl.read_csv(batch / "truth" / "persons.csv", infer_schema_length=0)
    household = (
        records.join(truth, on=["source", "record_id"])
        .group_by("person_id")
        .agg(pl.col("true_household_id").mode().first())
    )
    at_flat = resolve_address(keyed, stale).join(household, on="person_id")
    out = pl.DataFrame(
        {"person_id": list(placed), "flat": list(placed.values())}, schema={"person_id": pl.String, "flat": pl.String}
    ).join(household, on="person_id", how="left")
    families = at_flat.filter(~pl.col("person_id").is_in(list(placed))).group_by(pl.col("address_key").alias("flat"))
    living = families.agg(pl.col("true_household_id").unique().alias("_there"))
    return (
        out.join(living, on="flat", how="left")
        .with_columns(pl.col("_there").list.contains(pl.col("true_household_id")).fill_null(False).alias("own_family"))
        .drop("_there")
        .sort("person_id")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flat_from_surname", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="BATCH DB pairs")
    parser.add_argument("--roles", nargs="+", default=None, help="donor roles (adult, child, unknown)")
    parser.add_argument(
        "--rare", default="config", help="flat_from_surname_rare: a share, or none (default: the shipped value)"
    )
    args = parser.parse_args(argv)
    if len(args.runs) % 2:
        parser.error("give BATCH DB pairs")
    config = load_households_config()
    roles = tuple(args.roles) if args.roles else config.flat_from_surname_roles
    rare = config.flat_from_surname_rare if args.rare == "config" else None if args.rare == "none" else float(args.rare)
    total = own = 0
    for batch, db in zip(args.runs[::2], args.runs[1::2], strict=True):
        placed = placements(Path(batch), Path(db), roles, rare)
        right = int(placed["own_family"].sum())
        total, own = total + placed.height, own + right
        others = placed.filter(~pl.col("own_family"))["true_household_id"].to_list()
        print(f"{batch}: {placed.height} placed, {right} with their own family; with another: {others}")
    print(f"roles {list(roles)}, rare {rare}: {total} placed, {own} with their own family, {total - own} with another")


if __name__ == "__main__":
    main()
