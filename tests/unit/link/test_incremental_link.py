"""Incremental linkage (``tfident.link.incremental``): weights from levels as Splink computes them,
and a month linked with the previous month's cache exactly as without it.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tfident.checkpoints import (
    FORMAT,
    RUN_CACHE_FOLDER,
    StageCheckpoints,
    discard_run_caches,
    file_sha256,
    load_run_cache,
    save_run_cache,
)
from tfident.link import LinkageConfig, link_persons, link_persons_cached
from tfident.link.incremental import crowded_flags, dirty_profiles, mapped, pair_gammas, profile_keys, score_pairs
from tfident.link.prediction import predict
from tfident.link.profiles import build_profiles, splink_input, tf_tables
from tfident.standardise import match_addresses, standardise_persons
from tfident.synth import generate_months

FIRST = date(2026, 1, 31)


@pytest.fixture(scope="module")
def months() -> list[pl.DataFrame]:
    """Standardised records of two months of a 150-household council (churn and corrections)."""
    out = []
    for batch in generate_months(150, 21, FIRST, 2, churn=0.2, corrections=0.5):
        persons = standardise_persons(batch.extracts, batch.as_of)
        out.append(match_addresses(persons, batch.extracts["gazetteer"]))
    return out


def test_weights_from_levels_match_splink(months: list[pl.DataFrame], linkage: LinkageConfig) -> None:
    """Every pair Splink keeps has the same levels, weights and probability from :func:`score_pairs` (1e-9)."""
    persons = months[0]
    profiles, _ = build_profiles(persons)
    tf = tf_tables(persons, linkage.model_data)
    splink = predict(profiles, tf, linkage.model_data, linkage)
    gammas = pair_gammas(profiles, tf, linkage.model_data, linkage)
    ours = score_pairs(gammas, profiles, tf, linkage.model_data, threshold=linkage.thresholds.uncertain)
    assert splink.height > 100
    assert gammas.height > splink.height  # every blocked pair is kept for next month, not only the scored
    assert_frame_equal(ours.select(splink.columns), splink, check_exact=False, rel_tol=0, abs_tol=1e-9)


def test_a_month_linked_with_last_months_cache_is_the_full_result(
    months: list[pl.DataFrame], linkage: LinkageConfig
) -> None:
    """Links, persons and the next cache are the same with the previous month's cache, which is reused."""
    _, _, cache = link_persons_cached(months[0], linkage)
    full_index, full_links, full_cache = link_persons_cached(months[1], linkage)
    index, links, again = link_persons_cached(months[1], linkage, previous=cache)
    assert_frame_equal(index, full_index)
    assert_frame_equal(links, full_links)
    assert_frame_equal(again.pairs.sort(pl.all()), full_cache.pairs.sort(pl.all()))
    profiles, _ = build_profiles(months[1])
    dirty = dirty_profiles(profile_keys(profiles), cache)
    assert 0 < int(dirty.sum()) < profiles.height // 2


def test_a_ruling_makes_its_records_dirty(months: list[pl.DataFrame], linkage: LinkageConfig) -> None:
    """A cannot-link ruling made between months is respected by the incremental run as by the full one."""
    _, _, cache = link_persons_cached(months[0], linkage)
    _, full_links = link_persons(months[1], linkage)
    same = full_links.filter(pl.col("match_rule") == "splink").row(0)
    ruling = pl.DataFrame({"record_key_l": [same[0]], "record_key_r": [same[1]], "kind": ["cannot_link"]})
    expected = link_persons(months[1], linkage, ruling)
    got = link_persons_cached(months[1], linkage, ruling, previous=cache)
    assert_frame_equal(got[0], expected[0])
    assert_frame_equal(got[1], expected[1])
    assert (
        not got[1]
        .filter((pl.col("record_key_l") == same[0]) & (pl.col("record_key_r") == same[1]))["match_rule"]
        .is_in(["splink"])
        .any()
    )


def test_run_cache_keeps_only_the_latest_run(tmp_path: Path) -> None:
    """Saving a run's cache deletes the previous one's; a damaged file is no cache; files are private; the
    pairs are an Arrow file (memory-mapped when read), the rest Parquet.
    """
    frame = pl.DataFrame({"a": [1, 2]})
    save_run_cache(tmp_path, "db", "R1", {"link_pairs": frame, "link_profiles": frame})
    folder = save_run_cache(tmp_path, "db", "R2", {"link_pairs": frame, "link_profiles": frame})
    assert load_run_cache(tmp_path, "db", "R1") is None
    loaded = load_run_cache(tmp_path, "db", "R2")
    assert loaded is not None
    assert_frame_equal(loaded["link_pairs"], frame)
    assert_frame_equal(loaded["link_profiles"], frame)
    assert (folder / "link_profiles.parquet").stat().st_mode & 0o777 == 0o600
    assert (folder / "link_pairs.arrow").stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    (folder / "link_pairs.arrow").write_bytes(b"damaged")
    assert load_run_cache(tmp_path, "db", "R2") is None
    assert discard_run_caches(tmp_path, "db", ["R1", "R2"]) == ["R2"]  # retention purging R2
    assert not folder.exists()


def test_run_cache_links_the_checkpoint_files(tmp_path: Path) -> None:
    """A frame the link stage's checkpoint holds goes into the run cache by a hard link (same file, same
    SHA-256), and stays readable once the checkpoints are discarded; a frame without one is written.
    """
    pairs = pl.DataFrame({"pid_l": [0, 1], "pid_r": [2, 3], "gamma_dob": pl.Series([1, -1], dtype=pl.Int8)})
    profiles = pl.DataFrame({"pid": [0, 1, 2, 3]})
    checkpoints = StageCheckpoints.open(tmp_path / "checkpoints", "R1", "db")
    checkpoints.save("link", {"link_pairs": pairs, "link_profiles": profiles})
    saved = checkpoints.saved_file("link_pairs")
    assert saved is not None
    assert saved[0].suffix == ".arrow"
    restored = StageCheckpoints.open(tmp_path / "checkpoints", "R1", "db").load("link")  # as a resumed run
    assert restored is not None
    assert_frame_equal(restored["link_pairs"], pairs)
    folder = save_run_cache(
        tmp_path, "db", "R1", {"link_pairs": pairs, "link_profiles": profiles}, saved={"link_pairs": saved}
    )
    assert (folder / "link_pairs.arrow").samefile(saved[0])
    assert (folder / "link_pairs.arrow").stat().st_mode & 0o777 == 0o600
    checkpoints.discard()
    loaded = load_run_cache(tmp_path, "db", "R1")
    assert loaded is not None
    assert_frame_equal(loaded["link_pairs"], pairs)
    assert_frame_equal(loaded["link_profiles"], profiles)


def test_an_older_parquet_cache_of_pairs_is_read_and_mapped(tmp_path: Path) -> None:
    """A cache written before the pairs were kept as Arrow (Parquet) is still read, through ``map_parquet``."""
    pairs = pl.DataFrame({"pid_l": [0], "pid_r": [1]})
    folder = tmp_path / RUN_CACHE_FOLDER / "db" / "R1"
    folder.mkdir(parents=True)
    pairs.write_parquet(folder / "link_pairs.parquet")
    files = {"link_pairs": {"file": "link_pairs.parquet", "sha256": file_sha256(folder / "link_pairs.parquet")}}
    (folder / "manifest.json").write_text(json.dumps({"format": FORMAT, "run_id": "R1", "files": files}))
    seen: list[int] = []
    loaded = load_run_cache(tmp_path, "db", "R1", map_parquet=lambda frame: seen.append(frame.height) or mapped(frame))
    assert loaded is not None
    assert seen == [1]
    assert_frame_equal(loaded["link_pairs"], pairs)


@pytest.mark.parametrize("cap", [2, 4, 8])
def test_a_block_crossing_the_cap_between_months_gives_the_full_result(
    months: list[pl.DataFrame], linkage: LinkageConfig, cap: int
) -> None:
    """With ``blocking_max_block`` so small that blocks grow past it (or fall under it) between months,
    the incremental month still gives the full run's persons, links and cache.
    """
    capped = linkage.model_copy(update={"blocking_max_block": cap})
    flags = [
        crowded_flags(splink_input(build_profiles(m)[0]), capped).sum().to_dicts()[0] if m.height else {}
        for m in months
    ]
    assert flags[0] != flags[1]  # some block's crowding changed between the months
    _, _, cache = link_persons_cached(months[0], capped)
    full_index, full_links, full_cache = link_persons_cached(months[1], capped)
    index, links, again = link_persons_cached(months[1], capped, previous=cache)
    assert_frame_equal(index, full_index)
    assert_frame_equal(links, full_links)
    assert_frame_equal(again.pairs.sort(pl.all()), full_cache.pairs.sort(pl.all()))


def test_scoring_slice_by_slice_is_scoring_at_once(
    months: list[pl.DataFrame], linkage: LinkageConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pairs are scored in slices (memory); the scores do not depend on the slice size."""
    import tfident.link.incremental as incremental

    persons = months[0]
    profiles, _ = build_profiles(persons)
    tf = tf_tables(persons, linkage.model_data)
    gammas = pair_gammas(profiles, tf, linkage.model_data, linkage)
    whole = score_pairs(gammas, profiles, tf, linkage.model_data, threshold=linkage.thresholds.uncertain)
    monkeypatch.setattr(incremental, "SCORE_SLICE_ROWS", 37)
    sliced = score_pairs(gammas, profiles, tf, linkage.model_data, threshold=linkage.thresholds.uncertain)
    assert gammas.height > 10 * 37
    assert_frame_equal(sliced, whole)


def test_the_byte_path_scores_as_the_general_one(months: list[pl.DataFrame], linkage: LinkageConfig) -> None:
    """Int8 levels without nulls take the one-pass, byte-indexed path of ``score_pairs``; Int32 levels
    (and a null) the general one: the same scores to the bit, and a threshold only drops rows.
    """
    persons = months[1]
    profiles, _ = build_profiles(persons)
    tf = tf_tables(persons, linkage.model_data)
    gammas = pair_gammas(profiles, tf, linkage.model_data, linkage)
    model = linkage.model_data
    every = score_pairs(gammas, profiles, tf, model)
    widened = gammas.with_columns(pl.col("^gamma_.*$").cast(pl.Int32))
    assert_frame_equal(score_pairs(widened, profiles, tf, model), every, check_exact=True)
    threshold = linkage.thresholds.uncertain
    kept = every.filter(pl.col("match_probability") >= threshold)
    assert 0 < kept.height < every.height
    assert_frame_equal(score_pairs(gammas, profiles, tf, model, threshold=threshold), kept, check_exact=True)
    nulled = gammas.with_columns(
        pl.when(pl.col("pid_l") == gammas["pid_l"][0]).then(None).otherwise(pl.col("gamma_dob")).alias("gamma_dob")
    )
    scored = score_pairs(nulled, profiles, tf, model)
    assert scored.filter(pl.col("gamma_dob").is_null())["match_probability"].is_nan().all()
    assert_frame_equal(
        scored.filter(pl.col("gamma_dob").is_not_null()),
        every.filter(pl.col("pid_l") != gammas["pid_l"][0]),
        check_exact=True,
    )


def test_a_mapped_frame_is_the_frame() -> None:
    """The cache's pairs are mapped from a temporary file (:func:`mapped`): same values and types, no
    file left behind, and the frame still usable after the file is gone (saved, joined).
    """
    import tempfile

    from tfident.link.incremental import GAMMAS_SCHEMA, mapped

    rows = 1000
    frame = pl.DataFrame(
        {
            "pid_l": list(range(rows)),
            "pid_r": [i + 1 for i in range(rows)],
            **{name: [(i % 5) - 1 for i in range(rows)] for name in list(GAMMAS_SCHEMA)[2:]},
        },
        schema=GAMMAS_SCHEMA,
    )
    frame = pl.concat([frame, frame.slice(0, 10)], rechunk=False)  # chunks as Splink's slices give them
    left = set(Path(tempfile.gettempdir()).glob("tfident-*"))
    out = mapped(frame)
    assert set(Path(tempfile.gettempdir()).glob("tfident-*")) == left
    assert_frame_equal(out, frame)
    assert_frame_equal(mapped(frame.clear()), frame.clear())
    assert out.join(frame.unique(), on=["pid_l", "pid_r"]).height == frame.height


@pytest.mark.parametrize(
    ("dirty", "expected"),
    [
        # previous profiles 0, 1, 2 are this run's 1, 2, 3 (a new profile 0 came first); pairs (0,1), (0,2), (1,2)
        ([True, False, False, False], [(1, 2, 2), (1, 3, 1), (2, 3, 0)]),  # only the new profile dirty
        ([True, False, True, False], [(1, 3, 1)]),  # previous profile 1 (now 2) changed: its pairs go
        ([True, True, True, True], []),  # nothing clean
    ],
)
def test_reused_pairs_are_the_clean_pairs_renumbered(dirty: list[bool], expected: list[tuple[int, int, int]]) -> None:
    """:func:`reuse_gammas` keeps a previous pair only when both its profiles are clean now, under their new ids."""
    from tfident.link.incremental import GAMMAS_SCHEMA, LinkCache, mapped, reuse_gammas

    def keys(pids: list[int], names: list[str]) -> pl.DataFrame:
        return pl.DataFrame(
            {"pid": pids, "key_a": [ord(n) for n in names], "key_b": [7] * len(names), "rep_key": names},
            schema={"pid": pl.Int64, "key_a": pl.UInt64, "key_b": pl.UInt64, "rep_key": pl.String},
        )

    levels = {name: [2, 1, 0] for name in list(GAMMAS_SCHEMA)[2:]}
    pairs = pl.DataFrame({"pid_l": [0, 0, 1], "pid_r": [1, 2, 2], **levels}, schema=GAMMAS_SCHEMA)
    previous = LinkCache(keys([0, 1, 2], ["b", "c", "d"]), mapped(pairs))
    now = keys([0, 1, 2, 3], ["a", "b", "c", "d"])
    reused = reuse_gammas(now, pl.Series("_dirty", dirty), previous).sort("pid_l", "pid_r")
    assert reused.schema == pl.Schema(GAMMAS_SCHEMA)
    got = list(zip(reused["pid_l"], reused["pid_r"], reused[list(GAMMAS_SCHEMA)[2]], strict=True))
    assert got == expected
