"""Smoke test of the linkage benchmark: every linker runs end to end on tiny data.

No timing asserts: the harness must run, score and report, nothing more.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from benchmarks import linkage as lb

COLUMNS = [
    "pairs scored",
    "links predicted",
    "precision",
    "recall",
    "F1",
    "train s",
    "wall s",
    "peak MiB",
    "time ×tfident",
]


def _truth() -> pl.DataFrame:
    # two households; a and b are one person, c and d twins in household 1; e shares c's name and dob elsewhere
    return pl.DataFrame(
        {
            "record_key": ["a", "b", "c", "d", "e", "f"],
            "side": ["s1", "s2", "s1", "s2", "s1", "s2"],
            "entity": ["p1", "p1", "p2", "p3", "p4", "p5"],
            "household": ["h1", "h1", "h1", "h1", "h2", "h2"],
            "namekey": ["x", "x", "y", "z", "y", "w"],
        }
    )


def test_cluster_and_pair_scores_agree_and_count_false_links_by_kind() -> None:
    truth = _truth()
    clusters = pl.DataFrame({"record_key": ["a", "b", "c", "d", "e"], "cluster": [1, 1, 2, 2, 2]})
    pairs = pl.DataFrame({"record_key_l": ["a", "c", "c", "d"], "record_key_r": ["b", "d", "e", "e"]})
    by_cluster = lb.score_clusters(clusters, truth, cross=False, kinds=True)
    by_pair = lb.score_pair_list(pairs, truth, cross=False, kinds=True)
    for scores in (by_cluster, by_pair):
        assert (scores["true_positive"], scores["predicted"], scores["true"]) == (1, 4, 1)
        assert scores["false_links"] == {"total": 3, "household": 1, "name_dob": 1, "other": 1}
    cross = lb.score_clusters(clusters, truth, cross=True, kinds=False)
    assert (cross["true_positive"], cross["predicted"]) == (1, 3)  # c-e (both s1) is not a cross pair
    assert lb.score_pair_list(pairs, truth, cross=True, kinds=False)["predicted"] == 3


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    # every linker end to end, in this process: a spawned child per linker (as the real
    # benchmark runs them, for honest peak memory) spends most of its time re-importing
    root = tmp_path_factory.mktemp("linkage")
    febrl4 = next(d for d in lb.prepare_febrl(root, subset=200) if d.name == "FEBRL4")
    synthetic = lb.prepare_synthetic(root, households=80, seed=lb.SEED, name="synthetic-80h")
    datasets = [
        lb.bench_dataset(ds, timeout=600, log=lambda _m: None, isolate=False, repeats=1) for ds in (febrl4, synthetic)
    ]
    return {"environment": lb.environment(), "datasets": datasets, "total_seconds": 0.0, "_work": synthetic.work}


def test_every_linker_runs_on_febrl4_and_a_synthetic_batch(report: dict) -> None:
    febrl4, synthetic = report["datasets"]
    assert febrl4["records"] == 200
    assert febrl4["true_pairs"] == 100
    assert synthetic["records"] > 250
    for ds in (febrl4, synthetic):
        assert [r["linker"] for r in ds["linkers"]] == ["tfident", "splink_competent", "splink_plain", "recordlinkage"]
        for r in ds["linkers"]:
            assert r["status"] == "ok", r.get("error")
            assert r["pairs_compared"] > 0
            assert r["seconds"] >= 0
            assert r["peak_rss_mib"] > 0
            assert 0.0 <= r["scores"]["precision"] <= 1.0
            assert 0.0 < r["scores"]["recall"] <= 1.0
            assert r["time_ratio"] is not None
            assert r["memory_ratio"] > 0
    for r in synthetic["linkers"]:
        kinds = r["scores"]["false_links"]
        assert kinds["total"] == kinds["household"] + kinds["name_dob"] + kinds["other"]
        assert "f1" in r["scores_cross_source"]


def test_markdown_has_the_table_columns(report: dict, tmp_path: Path) -> None:
    text = lb.markdown(report)
    header = next(line for line in text.splitlines() if line.startswith("| linker | pairs scored"))
    for column in COLUMNS:
        assert column in header
    assert "## FEBRL4" in text
    assert "## synthetic-80h" in text
    assert "same true household" in text
    assert "How to reproduce" in text


def test_a_spawned_child_gives_what_the_in_process_run_gave(report: dict) -> None:
    # the isolated path the real benchmark takes: a fresh spawn process for one linker
    work = report["_work"]
    here = pl.read_parquet(work / "out_tfident.parquet")
    result = lb.run_child("tfident", work, timeout=300)
    assert result["status"] == "ok", result.get("error")
    assert result["peak_rss_mib"] > 0
    assert result["process_seconds"] >= result["seconds"]
    spawned = pl.read_parquet(work / "out_tfident.parquet")
    assert spawned.sort("record_key").equals(here.sort("record_key"))
