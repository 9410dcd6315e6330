"""The synthetic council a month later: same people and records, 5% of households moving."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path

import polars as pl
import pytest

from tfident.ingest.sources import PERSON_SOURCES as ALL_PERSON_SOURCES
from tfident.ingest.sources import VERSION_1_SOURCES
from tfident.synth import SyntheticBatch, generate_batch, generate_months, month_date, synthesise_months
from tfident.synth.months import ADDRESS_COLUMNS

# The default batch is written to contract version 1: the sources (and columns) added later
# are generated only when asked (tfident.synth ... supporting_families=True).
PERSON_SOURCES = tuple(s for s in ALL_PERSON_SOURCES if s in VERSION_1_SOURCES)
AS_OF = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def months() -> list[SyntheticBatch]:
    """Three months of a council of 800 households."""
    return list(generate_months(800, 4, AS_OF, 3))


def test_month_dates_stay_month_ends() -> None:
    """It steps a month end to the next month's end, and other days to the same day."""
    assert [month_date(AS_OF, k) for k in range(4)] == [
        AS_OF,
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 31),
        dt.date(2027, 1, 31),
    ]
    assert month_date(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)
    assert month_date(dt.date(2026, 10, 15), 2) == dt.date(2026, 12, 15)


def test_month_zero_is_the_plain_batch(months: list[SyntheticBatch]) -> None:
    """``month_offset=0`` and the first of the months are exactly ``generate_batch``'s batch."""
    plain = generate_batch(800, 4, AS_OF)
    for batch in (months[0], generate_batch(800, 4, AS_OF, month_offset=0, churn=0.3)):
        assert all(batch.extracts[s].equals(plain.extracts[s]) for s in plain.extracts)
        assert batch.truth_persons.equals(plain.truth_persons)
        assert batch.truth_households.equals(plain.truth_households)
        assert batch.faults.equals(plain.faults)


def test_a_later_month_is_the_same_whichever_way_it_is_made(months: list[SyntheticBatch]) -> None:
    """``generate_batch(month_offset=k)`` gives the k-th of ``generate_months``."""
    direct = generate_batch(800, 4, AS_OF, month_offset=2)
    assert direct.as_of == dt.date(2026, 12, 31)
    assert all(direct.extracts[s].equals(months[2].extracts[s]) for s in direct.extracts)
    assert direct.truth_households.equals(months[2].truth_households)


def test_records_persist_with_the_same_ids_and_text(months: list[SyntheticBatch]) -> None:
    """Every record of a month is in the next with its id and text; new records get new ids.
    Only records of people whose family moved change: a child's current-term attendance record
    and the family's open records (a live claim, an open episode) show the new address, and
    its housing claims still running end before the move.
    """
    for before, after in itertools.pairwise(months):
        movers = set(
            after.truth_persons.join(after.changes, on="true_household_id").filter(pl.col("change") != "arrived")[
                "record_id"
            ]
        )
        for source in PERSON_SOURCES:
            old, new = before.extracts[source], after.extracts[source]
            assert new["record_id"].is_unique().all()
            joined = old.join(new, on="record_id", how="left", suffix="_next")
            assert set(old["record_id"]) <= set(new["record_id"])
            other = [c for c in old.columns if c not in ("record_id", "claim_end", *ADDRESS_COLUMNS)]
            same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(f"{c}_next")) for c in other])
            assert joined.filter(~same).is_empty(), source
            changed = joined.filter(
                ~pl.all_horizontal(
                    [pl.col(c).eq_missing(pl.col(f"{c}_next")) for c in ADDRESS_COLUMNS if c in old.columns]
                )
            )
            if source not in ("attendance", "benefits", "social_care"):
                assert changed.is_empty(), source
            assert set(changed["record_id"]) <= movers, source
            if source == "benefits":
                ended = joined.filter(~pl.col("claim_end").eq_missing(pl.col("claim_end_next")))
                assert ended.height > 0
                assert set(ended["record_id"]) <= movers
                assert ended["benefit_type"].is_in(["HB", "CTR"]).all()
                assert (ended["claim_end_next"] <= after.as_of).all()
        assert (
            after.truth_persons.join(before.truth_persons, on=["source", "record_id"])
            .filter(pl.col("true_person_id") != pl.col("true_person_id_right"))
            .is_empty()
        )


def test_about_five_percent_of_households_move_and_as_many_arrive_as_leave(months: list[SyntheticBatch]) -> None:
    """Churn 5%: three in four moves stay in the area; arrivals replace leavers; truth covers everyone."""
    for before, after in itertools.pairwise(months):
        changes = dict(after.changes.group_by("change").len().iter_rows())
        living = before.truth_households.filter(pl.col("in_area") == "Y").height
        assert abs(changes["moved"] + changes["left"] - round(living * 0.05)) <= 1
        assert changes["moved"] > changes["left"] > 0
        assert changes["arrived"] == changes["left"]
        assert after.truth_households.height == before.truth_households.height + changes["arrived"]
        left = after.changes.filter(pl.col("change") == "left")["true_household_id"].implode()
        assert (after.truth_households.filter(pl.col("true_household_id").is_in(left))["in_area"] == "N").all()
        records = pl.concat(
            [after.extracts[s].select(pl.lit(s).alias("source"), "record_id") for s in PERSON_SOURCES]
        ).sort("source", "record_id")
        assert records.equals(after.truth_persons.select("source", "record_id"))


def test_movers_claim_at_their_new_address(months: list[SyntheticBatch]) -> None:
    """Each adult of a family that moved has a new benefit claim starting in the month."""
    before, after = months[0], months[1]
    moved = after.changes.filter(pl.col("change") == "moved")["true_household_id"].implode()
    new_claims = (
        after.extracts["benefits"]
        .join(before.extracts["benefits"].select("record_id"), on="record_id", how="anti")
        .filter(pl.col("benefit_type").is_in(["HB", "CTR"]) & (pl.col("claim_start") > AS_OF))
        .join(after.truth_persons.filter(pl.col("source") == "benefits"), on="record_id")
    )
    assert new_claims.filter(pl.col("true_household_id").is_in(moved))["true_household_id"].n_unique() > 0


def test_months_are_written_per_batch_date_and_deterministic(tmp_path: Path) -> None:
    """``synthesise_months`` writes OUT/<date>/ per month, the same bytes for the same seed."""
    digests = []
    for run in ("a", "b"):
        folders = synthesise_months(60, 2, AS_OF, tmp_path / run, 2, churn=0.1)
        assert [f.name for f in folders] == ["2026-10-31", "2026-11-30"]
        assert (folders[1] / "truth" / "changes.csv").is_file()
        digests.append(
            {
                str(p.relative_to(tmp_path / run)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((tmp_path / run).rglob("*.csv"))
            }
        )
    assert digests[0] == digests[1]
