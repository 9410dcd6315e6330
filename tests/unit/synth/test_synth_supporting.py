"""The optional sources of contract 1.2 in the synthetic council, and the sf2022 oracle.

Asked for, the generator adds the seven new sources and ``truth/sf2022.csv``; the
version 1 extracts stay byte for byte what they are without them. The engine, given
error-free linkage, agrees with the oracle on every headline, the gate and eligibility.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
import pytest

from tfident.criteria import evaluate_criteria, load_pack
from tfident.criteria.pack import GATE_ID
from tfident.ingest import SourcesMapping, read_batch
from tfident.ingest.sources import SOURCES, VERSION_1_SOURCES
from tfident.synth import SyntheticBatch, generate_batch, synthesise
from tfident.synth.supporting import HEADLINES, SF_SOURCES, SF_TRUTH_COLUMNS

AS_OF = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def pair() -> tuple[SyntheticBatch, SyntheticBatch]:
    """The same council without and with the new sources."""
    return generate_batch(300, 5, AS_OF), generate_batch(300, 5, AS_OF, supporting_families=True)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_version_1_extracts_do_not_change(pair: tuple[SyntheticBatch, SyntheticBatch]) -> None:
    """It leaves the version 1 extracts, their truth records, faults and the Phase 1 truth as they are."""
    plain, with_sf = pair
    assert set(plain.extracts) == set(VERSION_1_SOURCES)
    assert set(with_sf.extracts) == set(VERSION_1_SOURCES) | set(SF_SOURCES)
    for name in VERSION_1_SOURCES:
        assert plain.extracts[name].equals(with_sf.extracts[name]), name
    assert with_sf.truth_persons.filter(pl.col("source").is_in(VERSION_1_SOURCES)).equals(plain.truth_persons)
    assert with_sf.faults.filter(pl.col("source").is_in(VERSION_1_SOURCES)).equals(plain.faults)
    assert with_sf.truth_households.equals(plain.truth_households)
    assert plain.sf_truth is None


def test_written_batch_is_the_same_files_plus_the_new_ones(tmp_path: Path) -> None:
    """It writes the bytes of the plain batch for every version 1 file, and the new sources and truth/sf2022.csv."""
    synthesise(120, 9, AS_OF, tmp_path / "plain")
    synthesise(120, 9, AS_OF, tmp_path / "sf", supporting_families=True)
    synthesise(120, 9, AS_OF, tmp_path / "sf_again", supporting_families=True)
    plain, sf = _digest(tmp_path / "plain"), _digest(tmp_path / "sf")
    assert sf == _digest(tmp_path / "sf_again")
    added = {name for name in sf if name not in plain}
    assert added == {f"{s}.csv" for s in SF_SOURCES} | {"truth/sf2022.csv"}
    assert {name: sf[name] for name in plain if name != "truth/persons.csv" and name != "truth/faults.csv"} == {
        name: digest for name, digest in plain.items() if name not in ("truth/persons.csv", "truth/faults.csv")
    }
    truth = pl.read_csv(tmp_path / "sf" / "truth" / "sf2022.csv", infer_schema=False)
    assert tuple(truth.columns) == SF_TRUTH_COLUMNS


def test_new_sources_follow_the_contract_and_read_cleanly(tmp_path: Path) -> None:
    """It writes each new source with its canonical columns and codes, read by ingest without a quarantined row."""
    synthesise(200, 4, AS_OF, tmp_path, supporting_families=True)
    batch = read_batch(tmp_path, SourcesMapping())
    assert batch.quarantine.is_empty()
    for name in SF_SOURCES:
        frame = batch.extracts[name]
        assert frame.height > 0, name
        assert frame.columns[: len(SOURCES[name].columns)] == list(SOURCES[name].column_names)
        for column in SOURCES[name].columns:
            if column.codes and column.name != "sex":
                assert set(frame[column.name].drop_nulls()) <= set(column.codes), (name, column.name)
            if column.event:
                assert (frame[column.name].drop_nulls() <= AS_OF).all(), (name, column.name)


@pytest.mark.parametrize(("seed", "as_of"), [(1, AS_OF), (7, dt.date(2028, 2, 29)), (3, dt.date(2025, 7, 20))])
def test_engine_agrees_with_the_sf2022_oracle(seed: int, as_of: dt.date) -> None:
    """It finds, on error-free linkage, exactly the oracle's headlines, gate and eligible households."""
    batch = generate_batch(400, seed, as_of, supporting_families=True)
    assert batch.sf_truth is not None
    record_index = batch.truth_persons.select(
        "source",
        "record_id",
        pl.col("true_person_id").alias("person_id"),
        pl.col("true_household_id").alias("household_id"),
    )
    people = batch.people.select(
        pl.col("true_person_id").alias("person_id"),
        pl.col("true_household_id").alias("household_id"),
        "date_of_birth",
    )
    evidence, hc = evaluate_criteria(batch.extracts, record_index, people, load_pack("sf2022"), as_of)
    gate = evidence.filter(pl.col("criterion") == GATE_ID)["household_id"].unique()
    hc = hc.with_columns(pl.col("household_id").is_in(gate.implode()).alias("gate"))
    truth = batch.sf_truth
    joined = truth.join(hc, left_on="true_household_id", right_on="household_id", how="inner", suffix="_engine")
    assert joined.height == hc.height
    for column in (*HEADLINES, "gate"):
        disagree = joined.filter((pl.col(column) == "Y") != pl.col(f"{column}_engine"))
        assert disagree.height == 0, (column, disagree["true_household_id"].to_list()[:5])
    in_area = joined.filter(pl.col("in_area") == "Y")
    assert in_area.filter((pl.col("eligible_sf2022") == "Y") != pl.col("eligible")).height == 0
    # not trivial: every headline, the gate both ways, and eligible households occur
    assert all((truth[h] == "Y").any() for h in HEADLINES), [h for h in HEADLINES if not (truth[h] == "Y").any()]
    assert (truth["eligible_sf2022"] == "Y").sum() >= 5
    assert (truth["gate"] == "N").any()
