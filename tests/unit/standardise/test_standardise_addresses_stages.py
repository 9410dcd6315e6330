"""The residual stages of address matching, their configuration and the per-source summary."""

from __future__ import annotations

import os
import socket
from typing import Any

import polars as pl
import pytest

import tfident.standardise.uam as uam
from tests.unit.standardise.test_standardise_addresses import GAZETTEER, persons
from tfident.config import CONFIG_DIR
from tfident.errors import ConfigError
from tfident.standardise import AddressConfig, address_match_summary, load_address_config, match_addresses
from tfident.standardise.addresses import address_match_method_expr


def config(*stages: str, **uam_settings: Any) -> AddressConfig:
    return AddressConfig.model_validate({"residual_stages": list(stages), "uk_address_matcher": uam_settings})


def test_committed_config_keeps_uk_address_matcher_off() -> None:
    loaded = load_address_config(CONFIG_DIR / "addresses.yaml")
    assert loaded.residual_stages == ("fuzzy",)
    assert loaded == AddressConfig()


@pytest.mark.parametrize(
    "data",
    [
        {"residual_stages": ["fuzzy", "fuzzy"]},
        {"residual_stages": ["soundex"]},
        {"fuzzy": {"min_street_similarity": 1.5}},
        {"uk_address_matcher": {"min_margin": -1}},
        {"uk_address_matcher": {"min_weight": 3}},
    ],
)
def test_bad_config_is_rejected(tmp_path: Any, data: dict[str, Any]) -> None:
    import yaml

    path = tmp_path / "addresses.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"addresses\.yaml"):
        load_address_config(path)


def test_without_residual_stages_only_deterministic_matches() -> None:
    rows = [("3 Mil Lane", "TF1 1AB", None), ("15 High Street", "TF4 2BA", None)]
    out = match_addresses(persons(rows), GAZETTEER, config())
    assert out["address_match"].to_list() == ["unmatched", "exact"]
    assert out["uprn_matched"].to_list() == [None, 13]
    assert out.schema["address_match_weight"] == pl.Float64
    assert out["address_match_weight"].null_count() == 2


def fake_candidates(found: dict[str, tuple[int, float | None, float | None]], seen: list[list[str]]) -> Any:
    """A stand-in for uk_address_matcher: fixed answers by address text."""

    def candidates(queries: pl.DataFrame, canonical: pl.DataFrame, threads: int | None = None) -> pl.DataFrame:
        seen.append(sorted(queries["address"].to_list()))
        rows = [(qid, *found[a]) for qid, a in queries.select("qid", "address").iter_rows() if a in found]
        return pl.DataFrame(rows, schema={**uam.UAM_SCHEMA, "margin": pl.Float64()}, orient="row")

    return candidates


def test_uam_stage_sees_only_distinct_residual_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    answers = {"3 Mil Lane": (20, 14.2, 9.0), "6 Chaucer Road, Tenford": (30, 11.04, None)}
    monkeypatch.setattr(uam, "uam_candidates", fake_candidates(answers, seen))
    rows = [
        ("3 Mil Lane", "TF1 1AB", None),
        ("3 Mil Lane", "TF1 1AB", None),
        ("15 High Street", "TF4 2BA", None),  # exact: never sent
        ("somewhere odd", None, 13),  # settled by its own UPRN: never sent
        ("6 Chaucer Road, Tenford", None, None),
        ("3 Mill Lane, Wrekinford", "TF10 7LF", None),  # outward code outside the area: never sent
        (None, None, None),
    ]
    out = match_addresses(persons(rows), GAZETTEER, config("uk_address_matcher"))
    assert seen == [["3 Mil Lane", "6 Chaucer Road, Tenford"]]
    assert out["uprn_matched"].to_list() == [20, 20, 13, 13, 30, None, None]
    assert out["address_match"].to_list() == [
        "uam:14.2", "uam:14.2", "exact", "uprn_given", "uam:11.0", "unmatched", "unmatched",
    ]  # fmt: skip
    assert out["address_match_weight"].to_list() == [14.2, 14.2, None, None, 11.04, None, None]


def test_uam_thresholds_on_weight_and_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"a": (20, 14.0, 1.0), "b": (20, 9.0, None), "c": (20, 14.0, None), "d": (20, None, None)}
    monkeypatch.setattr(uam, "uam_candidates", fake_candidates(answers, []))
    queries = pl.DataFrame({"qid": [0, 1, 2, 3], "address": list("abcd"), "postcode": [None] * 4})
    kept = uam.uam_matches(queries.cast({"qid": pl.UInt32, "postcode": pl.String}), pl.DataFrame(), 10.0, 3.0)
    assert kept["qid"].to_list() == [2, 3]  # clear margin or a lone candidate; its own exact match


@pytest.mark.parametrize("order", [("fuzzy", "uk_address_matcher"), ("uk_address_matcher", "fuzzy")])
def test_later_stages_see_only_what_earlier_ones_left(monkeypatch: pytest.MonkeyPatch, order: tuple[str, ...]) -> None:
    seen: list[list[str]] = []
    answers = {"3 Mil Lane": (20, 14.2, None), "6 Chaucer Road, Tenford": (30, 12.0, None)}
    monkeypatch.setattr(uam, "uam_candidates", fake_candidates(answers, seen))
    rows = [("3 Mil Lane", "TF1 1AB", None), ("6 Chaucer Road, Tenford", None, None)]
    out = match_addresses(persons(rows), GAZETTEER, config(*order))
    if order[0] == "fuzzy":
        assert seen == [["6 Chaucer Road, Tenford"]]  # fuzzy found the misspelt street, not the ambiguous one
        assert out["address_match"].to_list()[0].startswith("fuzzy:0.")
    else:
        assert seen == [["3 Mil Lane", "6 Chaucer Road, Tenford"]]
        assert out["address_match"].to_list()[0] == "uam:14.2"
    assert out["uprn_matched"].to_list() == [20, 30]


def test_address_match_summary_counts_per_source_and_method() -> None:
    frame = pl.DataFrame(
        {
            "source": ["asb", "asb", "asb", "health", "health"],
            "address_match": ["exact", "fuzzy:0.93", "unmatched", "uam:12.3", "uam:-1.5"],
        }
    )
    assert address_match_summary(frame) == {
        "asb": {"matched": 2, "unmatched": 1, "by_method": {"exact": 1, "fuzzy": 1, "unmatched": 1}},
        "health": {"matched": 2, "unmatched": 0, "by_method": {"uam": 2}},
    }
    methods = pl.Series(["exact:uprn_conflict", "uam:exact", "uprn_given"])
    assert methods.to_frame("m").select(address_match_method_expr(pl.col("m")))["m"].to_list() == [
        "exact:uprn_conflict", "uam:exact", "uprn_given",
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("TFIDENT_TEST_UAM"), reason="set TFIDENT_TEST_UAM=1 (10-60 s: Splink start-up)")
def test_uk_address_matcher_for_real_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("uk_address_matcher tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    rows = [("3 Mil Lane, Tenford", None, None), ("flat 2 14 high st northfield", "TF4 2BA", None)]
    out = match_addresses(persons(rows), GAZETTEER, config("uk_address_matcher", min_match_weight=5.0))
    assert out["uprn_matched"].to_list() == [20, 11]
    assert out["address_match"][0].startswith("uam:")
    assert out["address_match_weight"][0] is not None
