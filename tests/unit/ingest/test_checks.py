"""The data checks (tfident.ingest.checks) on small batches: each check's pass, warn, stop and skip, levels
from checks.yaml, and the config's errors.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfident.config import load_model, parse_model
from tfident.errors import ConfigError, DataCheckFailed
from tfident.ingest.batch import Batch, FileInfo
from tfident.ingest.checks import (
    ChecksConfig,
    PreviousMonth,
    SourceFacts,
    expected_terms,
    load_checks_config,
    raise_on_stop,
    read_manifests,
    run_checks,
    term_index,
    term_label,
    term_of_date,
)
from tfident.ingest.quality import source_quality
from tfident.ingest.sources import SOURCES
from tfident.ingest.validate import QUARANTINE_SCHEMA

AS_OF = date(2026, 10, 31)


def frame(source: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {c.name: c.polars_type for c in SOURCES[source].columns}
    full = [{**{c: None for c in schema}, **row} for row in rows]
    return pl.DataFrame(full, schema=schema).with_columns(line=pl.int_range(2, len(rows) + 2, dtype=pl.Int64))


def batch_of(
    extracts: dict[str, pl.DataFrame],
    quarantined: dict[str, int] | None = None,
    columns: dict[str, tuple[str, ...]] | None = None,
    unknown: dict[str, tuple[str, ...]] | None = None,
) -> Batch:
    quality, files = {}, {}
    for name, accepted in extracts.items():
        n = (quarantined or {}).get(name, 0)
        quarantine = pl.DataFrame(
            {"source": [name] * n, "file": [f"{name}.csv"] * n, "line": list(range(n)), "record_id": ["x"] * n}
            | {"field": ["f"] * n, "value": ["v"] * n, "reason": ["unreadable date"] * n},
            schema=QUARANTINE_SCHEMA,
        )
        quality[name] = source_quality(SOURCES[name], f"{name}.csv", "csv", accepted, quarantine, {})
        cols = (columns or {}).get(name, SOURCES[name].column_names)
        files[name] = FileInfo(
            path=f"/batch/{name}.csv",
            sha256=f"sha-{name}",
            format="csv",
            rows=accepted.height + n,
            columns=tuple(cols) + (unknown or {}).get(name, ()),
            unknown_columns=(unknown or {}).get(name, ()),
        )
    return Batch(extracts=extracts, quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), quality=quality, files=files)


def asb(n: int, day: date = date(2026, 10, 1)) -> pl.DataFrame:
    return frame(
        "asb",
        [
            {
                "record_id": f"A{i}",
                "forename": f"F{i}",
                "surname": "S",
                "intervention_type": "CPN",
                "intervention_date": day,
            }
            for i in range(n)
        ],
    )


def outcome(report_results: tuple, source: str, check: str) -> str:  # type: ignore[type-arg]
    (found,) = [r for r in report_results if r.source == source and r.check == check]
    return str(found.outcome)


def test_a_clean_source_passes_every_check_it_can_judge() -> None:
    report = run_checks(batch_of({"asb": asb(60)}), AS_OF, ChecksConfig())
    assert not report.stops
    assert not report.warnings
    assert outcome(report.results, "asb", "volume") == "skipped"  # no earlier run


def test_a_missing_expected_column_stops_unless_the_agency_never_sends_it() -> None:
    columns = tuple(c for c in SOURCES["asb"].column_names if c != "postcode")
    batch = batch_of({"asb": asb(60)}, columns={"asb": columns}, unknown={"asb": ("Post Code",)})
    report = run_checks(batch, AS_OF, ChecksConfig())
    (stop,) = report.stops
    assert stop.check == "expected_columns"
    assert "postcode" in stop.message
    assert outcome(report.results, "asb", "unknown_columns") == "warn"
    relaxed = parse_model({"sources": {"asb": {"never_sends": ["postcode"]}}}, ChecksConfig, "checks.yaml")
    assert not run_checks(batch, AS_OF, relaxed).stops


def test_quarantine_rate_above_the_limit_stops_and_every_row_lost_always_stops() -> None:
    report = run_checks(batch_of({"asb": asb(60)}, quarantined={"asb": 5}), AS_OF, ChecksConfig())
    assert [r.check for r in report.stops] == ["quarantine_rate"]
    few = run_checks(batch_of({"asb": asb(60)}, quarantined={"asb": 4}), AS_OF, ChecksConfig())
    assert not few.stops
    assert outcome(few.results, "asb", "quarantine_rate") == "warn"
    warn_only = parse_model({"defaults": {"quarantine_rate": {"level": "warn"}}}, ChecksConfig, "checks.yaml")
    assert not run_checks(batch_of({"asb": asb(60)}, quarantined={"asb": 3}), AS_OF, warn_only).stops
    everything = batch_of({"asb": asb(0)}, quarantined={"asb": 5})
    assert "every row quarantined" in run_checks(everything, AS_OF, warn_only).stops[0].message


@given(st.integers(min_value=0, max_value=40))
def test_future_dates_warn_for_a_few_and_stop_for_most(later: int) -> None:
    rows = asb(40 - later).vstack(asb(later, date(2026, 11, 5)).with_columns(pl.col("record_id") + "L"))
    report = run_checks(batch_of({"asb": rows}), AS_OF, ChecksConfig())
    expected = "pass" if later == 0 else "warn" if later / 40 <= 0.5 else "stop"
    assert outcome(report.results, "asb", "future_dates") == expected


def test_recency_stops_an_old_file_and_skips_a_small_one() -> None:
    old = run_checks(batch_of({"asb": asb(60, date(2025, 10, 1))}), AS_OF, ChecksConfig())
    assert outcome(old.results, "asb", "recency") == "stop"
    small = run_checks(batch_of({"asb": asb(10, date(2025, 10, 1))}), AS_OF, ChecksConfig())
    assert outcome(small.results, "asb", "recency") == "skipped"


def test_volume_against_last_month_stops_a_fall_and_warns_of_a_rise() -> None:
    def previous(rows: int) -> PreviousMonth:
        return PreviousMonth("R1", date(2026, 9, 30), {"asb": SourceFacts(rows_accepted=rows, people=rows)})

    config = ChecksConfig()
    assert (
        outcome(run_checks(batch_of({"asb": asb(60)}), AS_OF, config, previous(100)).results, "asb", "volume") == "stop"
    )
    assert (
        outcome(run_checks(batch_of({"asb": asb(130)}), AS_OF, config, previous(100)).results, "asb", "volume")
        == "warn"
    )
    assert (
        outcome(run_checks(batch_of({"asb": asb(95)}), AS_OF, config, previous(100)).results, "asb", "volume") == "pass"
    )
    # a change of fewer than min_change rows is noise
    assert (
        outcome(run_checks(batch_of({"asb": asb(5)}), AS_OF, config, previous(12)).results, "asb", "volume") == "pass"
    )


def test_last_months_file_resent_stops_but_a_small_file_only_warns() -> None:
    batch = batch_of({"asb": asb(60)})
    same = PreviousMonth("R1", date(2026, 9, 30), {"asb": SourceFacts(sha256="sha-asb", rows_accepted=60, people=60)})
    report = run_checks(batch, AS_OF, parse_model({"defaults": {"same_file": {"min_rows": 10}}}, ChecksConfig, "c"))
    assert outcome(report.results, "asb", "same_file") == "skipped"  # no previous
    report = run_checks(
        batch, AS_OF, parse_model({"defaults": {"same_file": {"min_rows": 10}}}, ChecksConfig, "c"), same
    )
    assert outcome(report.results, "asb", "same_file") == "stop"
    assert outcome(run_checks(batch, AS_OF, ChecksConfig(), same).results, "asb", "same_file") == "warn"


def test_manifest_rows_and_hash(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"files": {"asb.csv": {"rows": 99}}}))
    manifests = read_manifests(tmp_path)
    report = run_checks(batch_of({"asb": asb(60)}), AS_OF, ChecksConfig(), None, manifests)
    (stop,) = report.stops
    assert stop.check == "manifest"
    assert "60 data rows, the manifest says 99" in stop.message
    (tmp_path / "asb.csv.manifest.json").write_text(
        json.dumps({"files": {"asb.csv": {"rows": 60, "sha256": "SHA-ASB"}}})
    )
    assert not run_checks(batch_of({"asb": asb(60)}), AS_OF, ChecksConfig(), None, read_manifests(tmp_path)).stops
    (tmp_path / "manifest.json").write_text("{not json")
    broken = run_checks(batch_of({"asb": asb(60)}), AS_OF, ChecksConfig(), None, read_manifests(tmp_path))
    assert [r.source for r in broken.stops] == ["batch"]


def attendance(terms: list[tuple[str, date, date]], urn: str = "100001") -> pl.DataFrame:
    return frame(
        "attendance",
        [
            {"record_id": f"T{i}", "term": t, "term_start": s, "term_end": e, "school_urn": urn}
            | {"sessions_possible": 100, "sessions_authorised": 0, "sessions_unauthorised": 0}
            for i, (t, s, e) in enumerate(terms)
        ],
    )


TERMS_2026 = [
    ("2025/26-AUT", date(2025, 9, 3), date(2025, 12, 19)),
    ("2025/26-SPR", date(2026, 1, 5), date(2026, 4, 2)),
    ("2025/26-SUM", date(2026, 4, 16), date(2026, 7, 22)),
    ("2026/27-AUT", date(2026, 9, 3), date(2026, 12, 18)),
]


def test_terms_in_the_window_pass_and_last_years_terms_stop() -> None:
    good = run_checks(batch_of({"attendance": attendance(TERMS_2026)}), AS_OF, ChecksConfig())
    assert outcome(good.results, "attendance", "terms") == "pass"
    stale = run_checks(batch_of({"attendance": attendance(TERMS_2026)}), date(2027, 10, 31), ChecksConfig())
    assert outcome(stale.results, "attendance", "terms") == "stop"
    mislabelled = [("2024/25-SUM", date(2026, 4, 16), date(2026, 7, 22)), *TERMS_2026]
    warned = run_checks(batch_of({"attendance": attendance(mislabelled)}), AS_OF, ChecksConfig())
    assert outcome(warned.results, "attendance", "terms") == "warn"


def _terms_per_row(rows: list[tuple[str | None, date | None, date | None]], as_of: date, back: int = 4) -> tuple:
    """The terms check's counts worked out row by row (as it was before it went per distinct label)."""
    now, labels, outside = term_of_date(as_of), {}, 0
    for term, start, _end in rows:
        index = term_index(term) if term is not None else None
        year = None if start is None else (start.year if start.month >= 8 else start.year - 1)
        if index is None or (year is not None and year != index // 3) or index > now or index < now - back:
            outside += 1
            continue
        labels[index] = labels.get(index, 0) + 1
    complete = any(t is not None and term_index(t) == now and e is not None and e <= as_of for t, _s, e in rows)
    missing = [t for t in expected_terms(as_of, complete) if t not in labels]
    return outside + len(missing), sorted(labels), missing


@settings(deadline=None)  # a loaded machine's first example can take longer than the default 200 ms
@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, "2024/25-SUM", "2025/26-AUT", "2025/26-SPR", "2025/26-SUM", "2026/27-AUT", "x"]),
            st.one_of(st.none(), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))),
            st.one_of(st.none(), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_the_terms_check_counts_as_it_would_row_by_row(rows: list[tuple[str | None, date | None, date | None]]) -> None:
    count, labels, missing = _terms_per_row(rows, AS_OF)
    report = run_checks(batch_of({"attendance": attendance(rows)}), AS_OF, ChecksConfig())  # type: ignore[arg-type]
    (found,) = [r for r in report.results if r.source == "attendance" and r.check == "terms"]
    assert found.count == count
    if missing:
        assert all(term_label(t) in found.message for t in missing)
    elif count == 0:
        assert found.message == f"terms {', '.join(term_label(t) for t in labels)}"


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_term_labels_round_trip_and_the_expected_terms_end_before_the_batch_date(day: date) -> None:
    now = term_of_date(day)
    assert term_index(term_label(now)) == now
    assert expected_terms(day, current_complete=False) == [now - 3, now - 2, now - 1]
    assert expected_terms(day, current_complete=True)[-1] == now


def test_a_school_with_no_attendance_is_a_stop_naming_the_children_not_assessed() -> None:
    census = frame(
        "school_census",
        [
            {"record_id": f"C{i}", "school_urn": urn, "provision": "MAINSTREAM", "census_date": date(2026, 10, 1)}
            for i, urn in enumerate(["100001"] * 3 + ["100002"] * 4)
        ],
    )
    batch = batch_of({"school_census": census, "attendance": attendance(TERMS_2026)})
    report = run_checks(batch, AS_OF, ChecksConfig())
    (stop,) = [r for r in report.stops if r.check == "school_coverage"]
    assert "not assessed for 4 children at 1 school" in stop.message
    assert report.coverage["schools"]["attendance"]["missing"] == ["100002"]
    configured = parse_model({"schools": ["100001"]}, ChecksConfig, "checks.yaml")
    assert not [r for r in run_checks(batch, AS_OF, configured).stops if r.check == "school_coverage"]


def test_raise_on_stop_lists_every_failed_check_in_one_message() -> None:
    batch = batch_of({"asb": asb(60, date(2025, 1, 1))}, quarantined={"asb": 10})
    report = run_checks(batch, AS_OF, ChecksConfig())
    with pytest.raises(DataCheckFailed) as caught:
        raise_on_stop(report)
    text = str(caught.value)
    assert "asb (asb.csv): quarantine_rate" in text
    assert "asb (asb.csv): recency" in text
    assert report.summary()["stop"] == 2


def test_the_shipped_config_loads_and_a_bad_key_is_one_error_naming_file_and_key(tmp_path: Path) -> None:
    shipped = load_checks_config()
    assert shipped.for_source("gazetteer").same_file.level == "off"
    assert shipped.for_source("exclusions").school_coverage.level == "off"
    for text, key in (
        ("defaults:\n  future_datez: {level: warn}\n", "future_datez"),
        ("sources:\n  benefits:\n    future_dates: {warn_abov: 0.1}\n", "warn_abov"),
        ("sources:\n  benfits: {}\n", "benfits"),
        ("sources:\n  attendance:\n    never_sends: [pupil_upn]\n", "pupil_upn"),
    ):
        path = tmp_path / "checks.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_model(path, ChecksConfig)
        assert str(path) in str(caught.value)
        assert key in str(caught.value)


def test_a_level_can_be_off(tmp_path: Path) -> None:
    config = parse_model({"sources": {"asb": {"recency": {"level": False}}}}, ChecksConfig, "c")  # YAML's bare off
    report = run_checks(batch_of({"asb": asb(60, date(2025, 1, 1))}), AS_OF, config)
    assert not [r for r in report.results if r.check == "recency"]
    assert replace(report.results[0]).source == "asb"


def test_a_councils_own_file_keeps_the_per_source_settings_it_does_not_change() -> None:
    own = parse_model({"defaults": {"quarantine_rate": {"max_share": 0.05}}}, ChecksConfig, "checks.yaml")
    assert own.for_source("exclusions").school_coverage.level == "off"
    assert own.for_source("benefits").future_dates.warn_above == 0.05
    assert own.for_source("benefits").quarantine_rate.max_share == 0.05
    assert ChecksConfig().for_source("gazetteer").same_file.level == "off"
