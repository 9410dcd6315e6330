"""A batch whose families live at addresses the gazetteer lacks still yields those families, flagged."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from tfident.pipeline import load_run_config, run_pipeline
from tfident.synth import generate_batch, write_batch

D = date(2026, 10, 31)


def test_candidate_families_at_addresses_missing_from_the_gazetteer_are_still_candidates(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    write_batch(generate_batch(400, 11, D), folder)
    config = load_run_config()
    before = run_pipeline(folder, D, config)
    assert before.summary()["household_addresses"]["by_status"].get("not_in_gazetteer", 0) == 0
    # three candidate families' homes become new builds the gazetteer does not have yet
    chosen = before.candidates.filter(pl.col("uprn").is_not_null()).sort("rank").head(3)
    members = {
        hid: set(before.records.filter(pl.col("household_id") == hid)["record_key"]) for hid in chosen["household_id"]
    }
    gazetteer = pl.read_csv(folder / "gazetteer.csv", infer_schema=False)
    gazetteer.filter(~pl.col("uprn").cast(pl.Int64).is_in(chosen["uprn"].implode())).write_csv(folder / "gazetteer.csv")

    after = run_pipeline(folder, D, config)

    flagged = after.households.filter(pl.col("address_status").is_not_null())
    for hid, keys in members.items():
        now = after.records.filter(pl.col("record_key").is_in(list(keys)))["household_id"].unique().to_list()
        assert len(now) == 1, f"family {hid} split or lost: {now}"
        (new,) = now
        assert new in after.candidates["household_id"].to_list()
        status = flagged.filter(pl.col("household_id") == new)["address_status"].to_list()
        assert status == ["not_in_gazetteer"], status
        assert after.candidates.filter(pl.col("household_id") == new)["uprn"].to_list() == [None]
    assert after.summary()["household_addresses"]["by_status"]["not_in_gazetteer"] >= 3
