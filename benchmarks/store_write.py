"""Time writing a large run: ``python -m benchmarks.store_write --rows 1000000 [--db URL]``.

It writes ``--rows`` synthetic ``source_records`` (plus one person per record) in one
``write_run`` into a fresh SQLite file (default) or the given database, prints the time,
then times reading the person index back and exporting. A PostgreSQL database gets a
throw-away schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tfident.store import RunRecord, export_run, init_db, make_engine, read_persons_index, write_run


def synthetic_records(rows: int) -> pl.DataFrame:
    """``rows`` plausible source records: four sources, persons of three records, households of four persons."""
    index = pl.int_range(rows, eager=True)
    sources = ["school_census", "attendance", "benefits", "asb"]
    return (
        pl.DataFrame({"i": index})
        .select(
            source=pl.col("i").mod(4).replace_strict(list(range(4)), sources),
            record_id=pl.format("REC{}", pl.col("i")),
            person_id=pl.format("P{}", pl.col("i") // 3),
            household_id=pl.format("H{}", pl.col("i") // 12),
            forename=pl.format("Forename{}", pl.col("i").mod(5000)),
            middle_names=pl.lit(None, dtype=pl.String),
            surname=pl.format("Surname{}", pl.col("i").mod(20000)),
            date_of_birth=pl.date(1950, 1, 1) + pl.duration(days=pl.col("i").mod(25000)),
            sex=pl.when(pl.col("i").mod(2) == 0).then(pl.lit("F")).otherwise(pl.lit("M")),
            address=pl.format("{} HIGH STREET, TOWN", pl.col("i").mod(900)),
            postcode=pl.format("AB{} 2CD", pl.col("i").mod(99)),
            uprn=pl.lit(None, dtype=pl.Int64),
            uprn_matched=100000000000 + pl.col("i") // 12,
            address_match=pl.lit("exact"),
            evidence_date=pl.date(2026, 9, 1),
        )
        .with_columns(record_key=pl.col("source") + ":" + pl.col("record_id"))
    )


def main() -> None:
    """Run the benchmark and print timings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLAlchemy URL; default: a new SQLite file in a temporary folder")
    args = parser.parse_args()
    records = synthetic_records(args.rows)
    persons = records.group_by("person_id").agg(pl.col("household_id").first(), pl.col("date_of_birth").first())
    with tempfile.TemporaryDirectory() as folder:
        url, cleanup = args.db or f"sqlite:///{Path(folder) / 'bench.db'}", None
        if url.startswith("postgresql"):
            schema = f"tfident_bench_{secrets.token_hex(4)}"
            admin = sa.create_engine(url)
            with admin.begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            cleanup = (admin, schema)
            url = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
        engine = make_engine(url)
        try:
            init_db(engine)
            record = RunRecord(
                run_id="R20261031-bench000",
                as_of=date(2026, 10, 31),
                ruleset_id="phase1",
                ruleset_version="TF1_2012",
                linkage_model_version="bench",
                config_json="{}",
                config_hash="0" * 64,
            )
            started = time.perf_counter()
            write_run(engine, record, {"source_records": records})
            written = time.perf_counter() - started
            print(f"{engine.dialect.name}: write_run of {records.height:,} source_records: {written:.1f}s")
            record2 = RunRecord(**{**record.__dict__, "run_id": "R20261031-bench001"})
            started = time.perf_counter()
            write_run(engine, record2, {"source_records": records, "persons": persons})
            both = time.perf_counter() - started
            print(f"{engine.dialect.name}: ... plus {persons.height:,} persons (second run in the db): {both:.1f}s")
            started = time.perf_counter()
            index = read_persons_index(engine, record.run_id)
            took = time.perf_counter() - started
            print(f"{engine.dialect.name}: read_persons_index of {index.height:,} rows: {took:.1f}s")
            started = time.perf_counter()
            export_run(engine, record2.run_id, Path(folder) / "export")
            print(f"{engine.dialect.name}: export_run (no candidates): {time.perf_counter() - started:.1f}s")
        finally:
            engine.dispose()
            if cleanup is not None:
                admin, schema = cleanup
                with admin.begin() as connection:
                    connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
