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


def _truth(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_key": [r[0] for r in rows],
            "side": ["a"] * len(rows),
            "entity": [r[1] for r in rows],
            "household": [r[2] for r in rows],
        },
        schema={"record_key": pl.String, "side": pl.String, "entity": pl.String, "household": pl.String},
    )


# records: r1, r2 one person (p1) in household h1 with p2 (r3); p3 (r4) in h2; r5 no household
HOUSEHOLD_TRUTH = [("r1", "p1", "h1"), ("r2", "p1", "h1"), ("r3", "p2", "h1"), ("r4", "p3", "h2"), ("r5", "p4", None)]


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        # exactly right: the two between-people pairs of h1 (r1-r3, r2-r3)
        ({"r1": "A", "r2": "A", "r3": "A", "r4": "B"}, (2, 2, 2, 1.0, 1.0)),
        # p3 wrongly put with h1: 2 more predicted pairs (r1-r4, r2-r4, r3-r4 -> 3), all false
        ({"r1": "A", "r2": "A", "r3": "A", "r4": "A"}, (2, 5, 2, 0.4, 1.0)),
        # p1's records split across households: only r2-r3 found
        ({"r1": "C", "r2": "A", "r3": "A", "r4": "B"}, (1, 1, 2, 1.0, 0.5)),
        # nobody placed: every record a household of its own; r5 (no true household) never counts
        ({"r5": "A"}, (0, 0, 2, 0.0, 0.0)),
        # a record with no true household placed with others adds nothing
        ({"r1": "A", "r2": "A", "r3": "A", "r4": "B", "r5": "A"}, (2, 2, 2, 1.0, 1.0)),
    ],
)
def test_household_scores_count_pairs_of_different_people(assignment: dict[str, str], expected: tuple) -> None:
    assign = pl.DataFrame({"record_key": list(assignment), "cluster": list(assignment.values())})
    s = lb.score_households(assign, _truth(HOUSEHOLD_TRUTH))
    assert (s["true_positive"], s["predicted"], s["true"], s["precision"], s["recall"]) == expected


def test_tfident_forms_households_on_pseudopeople_without_a_gazetteer(built: dict) -> None:
    import datetime as dt

    from benchmarks.peers import tfident_linker

    state = {"extracts": built["extracts"], "as_of": dt.date(2026, 10, 31), "identifiers": built["identifiers"]}
    persons = tfident_linker._standardise(state, {"kind": "pseudopeople"})
    # the true people as the person index: what is left to score is the households stage itself
    index = persons.select("record_key").join(
        built["truth"].select("record_key", pl.col("entity").alias("person_id")), on="record_key"
    )
    assign = tfident_linker.households(persons, index, state["as_of"])
    assert set(assign.columns) == {"record_key", "cluster"}
    assert assign.height > 0
    assert assign["cluster"].str.starts_with("H").all()
    s = lb.score_households(assign, built["truth"])
    assert s["true"] > 0
    # measured on this slice: precision 0.976, recall 0.854 (taxes' mailing addresses differ)
    assert s["precision"] > 0.9
    assert s["recall"] > 0.7
