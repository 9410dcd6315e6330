"""The pseudopeople adapter and the competent Splink peer's settings (fast: no linkage run)."""

from __future__ import annotations

import polars as pl
import pytest

from benchmarks import linkage as lb
from benchmarks.peers import splink_competent

pytest.importorskip("pseudopeople")


@pytest.fixture(scope="module")
def built() -> dict[str, pl.DataFrame]:
    from benchmarks import pseudopeople_data as ppl

    return ppl.build(ppl.generate("default"), people=60)


def test_the_adapter_gives_tfident_its_columns_and_the_truth(built: dict) -> None:
    from tfident.ingest.sources import PERSON_COLUMNS

    canonical = {c.name for c in PERSON_COLUMNS}
    assert set(built["extracts"]) == {"school_census", "benefits", "health"}
    for frame in built["extracts"].values():
        assert {"record_id", "forename", "surname", "date_of_birth"} <= set(frame.columns) <= canonical
        assert frame["record_id"].is_unique().all()
    census = built["extracts"]["school_census"]
    assert census["date_of_birth"].dtype == pl.Date
    assert census["date_of_birth"].null_count() < census.height / 5
    assert set(census["sex"].drop_nulls().unique()) <= {"M", "F"}
    ids = built["identifiers"]
    assert ids.columns == ["record_key", "nino"]
    assert ids["nino"].drop_nulls().str.contains(r"^\d{9}$").all()
    assert ids["nino"].drop_nulls().len() > 0
    truth = built["truth"]
    assert truth.columns == ["record_key", "side", "entity", "household"]
    assert truth["entity"].null_count() == 0
    assert truth["entity"].n_unique() == 60
    assert truth.height == sum(f.height for f in built["extracts"].values()) == built["peers"].height
    # the datasets share people: there are true cross-dataset pairs
    assert lb._pairs(truth, ["entity"], cross=True) > 50


def test_the_peers_table_has_the_fields_the_competent_peer_reads(built: dict) -> None:
    meta = {"link_type": "link_and_dedupe", "fields": lb.PSEUDOPEOPLE_FIELDS}
    assert set(splink_competent.columns(meta)) <= set(built["peers"].columns)
    dob = built["peers"]["dob"].drop_nulls()
    assert dob.str.contains(r"^\d{4}-\d{2}-\d{2}$").all()


@pytest.mark.parametrize(
    ("link_type", "fields"),
    [
        ("link_only", lb.FEBRL_FIELDS),
        ("dedupe_only", lb.FEBRL_FIELDS),
        ("dedupe_only", lb.SYNTHETIC_FIELDS),
        ("link_and_dedupe", lb.PSEUDOPEOPLE_FIELDS),
    ],
)
def test_the_competent_splink_settings_build(link_type: str, fields: dict) -> None:
    meta = {"link_type": link_type, "fields": fields}
    settings = splink_competent.settings(meta).get_settings("duckdb").as_dict()
    names = [c["output_column_name"] for c in settings["comparisons"]]
    assert names[:3] == ["forename", "surname", "dob"]
    for name in fields["identifiers"]:
        assert name in names
    assert ("sex" in names) == fields["sex"]
    assert ("uprn" in names) == fields["uprn"]
    levels = settings["comparisons"][0]["comparison_levels"]
    assert any(level.get("tf_adjustment_column") == "forename" for level in levels)
    assert any("jaro_winkler" in level["sql_condition"] for level in levels)
    rules = [r["blocking_rule"] for r in settings["blocking_rules_to_generate_predictions"]]
    assert len(rules) >= 3 + len(fields["identifiers"])
    assert any("postcode" in r for r in rules) == fields.get("block_postcode", True)
