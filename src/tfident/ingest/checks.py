"""Data checks: what a council expects of each extract, checked after ingest and before anything is written.

A batch can read cleanly and still be wrong: a column renamed by the agency (every
postcode null), a file cut at a row boundary, last year's file sent again, every claim
dated after the batch date, a school that sent no attendance. :func:`run_checks` judges
a batch read by :func:`~tfident.ingest.read_batch` against the expectations of
``config/checks.yaml`` (:class:`ChecksConfig`), what the store knows of last month's
published run (:class:`PreviousMonth`) and any manifest the agencies sent
(:func:`read_manifests`). It is pure: the caller reads the config, the store and the
manifests, and decides what a ``stop`` means (the runner raises
:class:`~tfident.errors.DataCheckFailed` through :func:`raise_on_stop`).

Every check has a level: ``stop`` (the batch does not publish), ``warn`` (it publishes,
with the warning in the run summary) or ``off``. A check's result is ``pass``, ``warn``,
``stop`` or ``skipped`` (nothing to judge: no previous run, too few rows, an optional
input absent). Messages carry counts, source, file, column and check names and dates
only, never a cell value. ``docs/data-quality.md`` lists every check and its default.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BeforeValidator, Field, model_validator

from tfident.config import StrictModel, config_path, load_model
from tfident.errors import DataCheckFailed
from tfident.ingest.batch import Batch, FileInfo
from tfident.ingest.sources import SOURCES


def _yaml_off(value: Any) -> Any:
    """YAML reads a bare ``off`` as false: it means the level ``off``."""
    return "off" if value is False else value


Level = Annotated[Literal["stop", "warn", "off"], BeforeValidator(_yaml_off)]
Outcome = Literal["pass", "warn", "stop", "skipped"]

CHECK_NAMES: tuple[str, ...] = (
    "manifest",
    "expected_columns",
    "unknown_columns",
    "quarantine_rate",
    "future_dates",
    "recency",
    "terms",
    "volume",
    "same_file",
    "school_coverage",
    "month_gaps",
)
"""Every check, in the order results are reported for a source."""

# --- what the contract says (sections 2 and 3): the columns' expected, event and end_of keys in
# tfident/ingest/sources.yaml, read through these helpers ----------------------------------


def _expected_columns_of(name: str) -> tuple[str, ...]:
    """Columns a council expects beyond those the header must have (:attr:`Source.expected_columns`)."""
    return SOURCES[name].expected_columns if name in SOURCES else ()


def _event_dates_of(name: str) -> tuple[str, ...]:
    """Dates of something that has happened: none may be after the batch date."""
    return SOURCES[name].event_dates if name in SOURCES else ()


def _end_dates_of(name: str) -> tuple[str, ...]:
    """Dates that may lie after the batch date; they count for recency and month coverage up to the batch date."""
    return SOURCES[name].end_dates if name in SOURCES else ()


TERM_LABEL = re.compile(r"^(\d{4})/(\d{2})-(AUT|SPR|SUM)$")
TERMS = ("AUT", "SPR", "SUM")


# --- configuration (config/checks.yaml) ---------------------------------------------------


class _Check(StrictModel):
    level: Level = "stop"


class ExpectedColumnsCheck(_Check):
    """Columns the source's description expects (or ``columns``) missing from the header."""

    columns: list[str] | None = Field(default=None, description="replaces the contract's expected columns")


class UnknownColumnsCheck(_Check):
    """Columns the contract does not define: not loaded, reported."""

    level: Level = "warn"


class QuarantineRateCheck(_Check):
    """Share of a file's rows quarantined; every row quarantined is always a stop. Above ``max_share`` with
    fewer than ``min_rows`` rows quarantined (one bad row in a file of 30) it is a warning, not a stop.
    """

    max_share: float = Field(default=0.02, ge=0.0, le=1.0)
    min_rows: int = Field(default=5, ge=0)


class FutureDatesCheck(_Check):
    """Share of rows with an event date after the batch date: a warning above ``warn_above``, a stop above
    ``stop_above``.
    """

    warn_above: float = Field(default=0.0, ge=0.0, le=1.0)
    stop_above: float = Field(default=0.5, ge=0.0, le=1.0)


class RecencyCheck(_Check):
    """No record dated in the last ``months`` months (a file of ``min_rows`` rows or more; an empty file always)."""

    months: int = Field(default=3, ge=1, le=60)
    min_rows: int = Field(default=50, ge=0)


class TermsCheck(_Check):
    """Attendance term labels: the three terms the rules need present, and rows outside the window of the
    term in progress and the ``terms_back`` before it (or with a label that is not a term of its dates).
    """

    terms_back: int = Field(default=4, ge=3, le=12)
    warn_above: float = Field(default=0.0, ge=0.0, le=1.0)
    stop_above: float = Field(default=0.5, ge=0.0, le=1.0)


class VolumeCheck(_Check):
    """Rows and distinct people against last month's published run: a fall of more than ``max_drop`` (data
    lost) at ``level``, a rise of more than ``max_rise`` at ``rise_level``; changes of fewer than
    ``min_change`` rows are never judged.
    """

    max_drop: float = Field(default=0.2, ge=0.0, le=1.0)
    max_rise: float = Field(default=0.2, ge=0.0)
    rise_level: Level = "warn"
    min_change: int = Field(default=20, ge=0)


class SameFileCheck(_Check):
    """The file has the SHA-256 of last month's file of the same source (re-sent); a file of fewer than
    ``min_rows`` rows may not have changed in a month, so it is a warning at most.
    """

    min_rows: int = Field(default=200, ge=0)


class ManifestCheck(_Check):
    """Rows and SHA-256 against the agency's manifest, when it sent one."""


class SchoolCoverageCheck(_Check):
    """Schools expected (``schools`` in checks.yaml, else the census's) with no row in the source."""


class MonthGapsCheck(_Check):
    """Months of the last 12 with no record (a file of ``min_rows`` rows or more; ``ignore_months`` such as
    August for schools).
    """

    level: Level = "warn"
    min_rows: int = Field(default=200, ge=0)
    ignore_months: list[int] = Field(default_factory=list)


class SourceChecks(StrictModel):
    """Every check's settings for one source (or the defaults for all)."""

    manifest: ManifestCheck = Field(default_factory=ManifestCheck)
    expected_columns: ExpectedColumnsCheck = Field(default_factory=ExpectedColumnsCheck)
    unknown_columns: UnknownColumnsCheck = Field(default_factory=UnknownColumnsCheck)
    quarantine_rate: QuarantineRateCheck = Field(default_factory=QuarantineRateCheck)
    future_dates: FutureDatesCheck = Field(default_factory=FutureDatesCheck)
    recency: RecencyCheck = Field(default_factory=RecencyCheck)
    terms: TermsCheck = Field(default_factory=TermsCheck)
    volume: VolumeCheck = Field(default_factory=VolumeCheck)
    same_file: SameFileCheck = Field(default_factory=SameFileCheck)
    school_coverage: SchoolCoverageCheck = Field(default_factory=SchoolCoverageCheck)
    month_gaps: MonthGapsCheck = Field(default_factory=MonthGapsCheck)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class SourceOverride(StrictModel):
    """A source's entry under ``sources:``: what it never sends, and settings that differ from the defaults."""

    never_sends: list[str] = Field(default_factory=list, description="expected columns this agency never sends")
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)


class ChecksConfig(StrictModel):
    """The whole of ``config/checks.yaml``."""

    defaults: SourceChecks = Field(default_factory=SourceChecks)
    sources: dict[str, SourceOverride] = Field(default_factory=dict)
    schools: list[str] = Field(
        default_factory=list, description="URNs of the schools expected to send attendance and exclusions"
    )

    @model_validator(mode="before")
    @classmethod
    def _flatten_sources(cls, data: Any) -> Any:
        """``sources.NAME`` holds ``never_sends`` and check settings side by side; check names are validated."""
        if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
            return data
        sources = {}
        for name, entry in data["sources"].items():
            if isinstance(entry, dict):
                checks = {k: v for k, v in entry.items() if k != "never_sends"}
                sources[name] = {"never_sends": entry.get("never_sends", []), "checks": checks}
            else:
                sources[name] = entry
        return {**data, "sources": sources}

    @model_validator(mode="after")
    def _known_names(self) -> ChecksConfig:
        problems = []
        for name, entry in self.sources.items():
            if name not in SOURCES:
                problems.append(f"sources.{name}: unknown source (choices: {', '.join(SOURCES)})")
                continue
            for column in entry.never_sends:
                if column not in SOURCES[name].column_names:
                    problems.append(f"sources.{name}.never_sends: {column!r} is not a column of {name}")
            for check, settings in entry.checks.items():
                if check not in SourceChecks.model_fields:
                    problems.append(f"sources.{name}.{check}: unknown check (choices: {', '.join(CHECK_NAMES)})")
                elif not isinstance(settings, dict):
                    problems.append(f"sources.{name}.{check}: expected a mapping of settings such as level: warn")
            if not problems:
                try:
                    self.for_source(name)
                except ValueError as error:
                    problems.append(f"sources.{name}: {error}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def for_source(self, name: str) -> SourceChecks:
        """The settings of every check for source ``name``: the defaults, then the ``checks:`` of the source's
        description (what the contract implies for the source), then the source's own overrides in checks.yaml.
        """
        entry = self.sources.get(name)
        builtin = SOURCES[name].checks if name in SOURCES else {}
        if (entry is None or not entry.checks) and not builtin:
            return self.defaults
        merged = _merge(self.defaults.model_dump(), builtin)
        merged = _merge(merged, entry.checks if entry is not None else {})
        try:
            return SourceChecks.model_validate(merged)
        except Exception as error:  # pydantic's ValidationError, re-raised as a config problem
            raise ValueError(str(error).replace("\n", " ")) from None

    def never_sends(self, name: str) -> set[str]:
        """The expected columns the agency behind source ``name`` never sends (their absence is no file fault)."""
        entry = self.sources.get(name)
        return set(entry.never_sends) if entry is not None else set()


def load_checks_config(path: Path | None = None) -> ChecksConfig:
    """Load ``checks.yaml`` from the config folders (a missing file means the defaults)."""
    path = path or config_path("checks.yaml")
    if not path.exists():
        return ChecksConfig()
    return load_model(path, ChecksConfig)


# --- what the store and the agencies tell us -------------------------------------------------


@dataclass(frozen=True)
class SourceFacts:
    """What last month's published run stored of one source (counts and the file hash only)."""

    rows_read: int | None = None
    rows_accepted: int | None = None
    people: int | None = None
    """Accepted rows less those repeating an earlier record's name and date of birth."""
    sha256: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class PreviousMonth:
    """The published run of the latest earlier month, as the checks need it."""

    run_id: str
    as_of: date
    sources: dict[str, SourceFacts] = field(default_factory=dict)


@dataclass(frozen=True)
class ManifestEntry:
    """What an agency's manifest says of one file."""

    rows: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Manifests:
    """Manifests found in a batch folder: entries by file name, and those that could not be read."""

    entries: dict[str, ManifestEntry] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """File name -> the manifest it came from."""
    problems: dict[str, str] = field(default_factory=dict)
    """Manifest file name -> why it cannot be used."""


MANIFEST = "manifest.json"


def _manifest_entries(path: Path) -> dict[str, ManifestEntry]:
    data = json.loads(path.read_text(encoding="utf-8"))
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise ValueError('expected {"files": {"NAME": {"rows": N, "sha256": "..."}}}')
    entries = {}
    for name, entry in files.items():
        if not isinstance(entry, dict):
            raise ValueError(f"the entry for {name} is not an object")
        rows, sha = entry.get("rows"), entry.get("sha256")
        if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 0):
            raise ValueError(f"rows for {name} is not a non-negative whole number")
        if sha is not None and not isinstance(sha, str):
            raise ValueError(f"sha256 for {name} is not text")
        entries[str(name)] = ManifestEntry(rows=rows, sha256=sha.lower() if isinstance(sha, str) else None)
    return entries


def read_manifests(folder: Path) -> Manifests:
    """The batch folder's ``manifest.json`` (the monthly inbox's format, with ``rows``) and every
    ``<file>.manifest.json`` beside a file; a file's own manifest wins over the folder's.
    """
    entries: dict[str, ManifestEntry] = {}
    origin: dict[str, str] = {}
    problems: dict[str, str] = {}
    if not folder.is_dir():
        return Manifests()
    candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(MANIFEST))
    candidates.sort(key=lambda p: p.name.lower() != MANIFEST)  # the folder's first, files' own after
    for path in candidates:
        try:
            found = _manifest_entries(path)
        except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
            problems[path.name] = f"cannot be read ({type(error).__name__}: {str(error).splitlines()[0][:120]})"
            continue
        if path.name.lower() != MANIFEST:
            own = path.name[: -len(".manifest.json")]
            found = {own: found[own]} if own in found else {own: next(iter(found.values()))} if found else {}
        for name, entry in found.items():
            entries[name] = entry
            origin[name] = path.name
    return Manifests(entries, origin, problems)


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one source (``source`` "batch" for a check of the whole folder)."""

    source: str
    file: str | None
    check: str
    level: Level
    outcome: Outcome
    message: str
    count: int | None = None

    def line(self) -> str:
        """The result as one line of the check report."""
        where = f"{self.source} ({self.file})" if self.file else self.source
        return f"{where}: {self.check}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (``tfident check --json``)."""
        return {
            "source": self.source,
            "file": self.file,
            "check": self.check,
            "level": self.level,
            "outcome": self.outcome,
            "count": self.count,
            "message": self.message,
        }


@dataclass(frozen=True)
class CheckReport:
    """Every check's result, and the coverage of schools and months."""

    results: tuple[CheckResult, ...]
    coverage: dict[str, Any] = field(default_factory=dict)

    @property
    def stops(self) -> tuple[CheckResult, ...]:
        """The results that stop the run."""
        return tuple(r for r in self.results if r.outcome == "stop")

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        """The results that only warn."""
        return tuple(r for r in self.results if r.outcome == "warn")

    def summary(self) -> dict[str, Any]:
        """For ``runs.summary_json["checks"]``: counts per outcome, the checks that did not pass (source, check,
        outcome, count) and the warnings' messages (counts and names only).
        """
        outcomes = {o: sum(1 for r in self.results if r.outcome == o) for o in ("pass", "warn", "stop", "skipped")}
        return {
            **outcomes,
            "not_passed": [
                {"source": r.source, "check": r.check, "outcome": r.outcome, "count": r.count}
                for r in self.results
                if r.outcome in ("warn", "stop")
            ],
            "warnings": [r.line() for r in self.warnings],
        }

    def as_dict(self) -> dict[str, Any]:
        """Every result and the coverage, as JSON-ready data."""
        return {"results": [r.as_dict() for r in self.results], "coverage": self.coverage}


def raise_on_stop(report: CheckReport) -> None:
    """Raise :class:`DataCheckFailed` listing every check that stopped the batch (nothing when none did)."""
    stops = report.stops
    if not stops:
        return
    files = sorted({r.file for r in stops if r.file})
    lines = "\n".join(f"  - {r.line()}" for r in stops)
    raise DataCheckFailed(
        f"the batch fails {len(stops)} data check{'s' if len(stops) > 1 else ''} (config/checks.yaml); "
        f"nothing was published:\n{lines}\n"
        "Ask the agency for a corrected file, or change the check's level in checks.yaml if this is expected.",
        file=files[0] if files else None,
    )


# --- the checks --------------------------------------------------------------------------------


def _judge(level: Level, severity: Outcome) -> Outcome:
    """The outcome of a check that found ``severity`` (warn or stop), capped by its configured level."""
    if severity == "stop" and level == "stop":
        return "stop"
    if severity in ("stop", "warn") and level in ("stop", "warn"):
        return "warn"
    return "pass"


def _share(part: int, whole: int) -> str:
    return f"{part:,} of {whole:,} rows ({part / whole:.0%})" if whole else f"{part:,} rows"


class _Checker:
    def __init__(self, batch: Batch, as_of: date, config: ChecksConfig) -> None:
        self.batch, self.as_of, self.config = batch, as_of, config
        self.results: list[CheckResult] = []

    def add(
        self,
        source: str,
        check: str,
        level: Level,
        severity: Outcome,
        message: str,
        count: int | None = None,
        file: str | None = None,
    ) -> None:
        if level == "off":
            return
        outcome: Outcome = severity if severity in ("pass", "skipped") else _judge(level, severity)
        info = self.batch.files.get(source)
        name = file if file is not None else (Path(info.path).name if info is not None else None)
        self.results.append(CheckResult(source, name, check, level, outcome, message, count))


def _date_columns(frame: pl.DataFrame, names: Iterable[str]) -> list[str]:
    return [c for c in names if c in frame.columns and frame.schema[c] == pl.Date]


def _months_back(as_of: date, months: int) -> date:
    index = as_of.year * 12 + as_of.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(as_of.day, calendar.monthrange(year, month + 1)[1]))


def _expected_columns(c: _Checker, name: str, info: FileInfo, settings: SourceChecks) -> None:
    expected = settings.expected_columns.columns
    columns = list(expected) if expected is not None else list(_expected_columns_of(name))
    never = c.config.never_sends(name)
    missing = [col for col in columns if col not in info.columns and col not in never]
    level = settings.expected_columns.level
    if missing:
        c.add(
            name,
            "expected_columns",
            level,
            "stop",
            f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing from the header, so "
            f"{'they are' if len(missing) > 1 else 'it is'} null on every row (map the agency's name in sources.yaml, "
            f"or list {'them' if len(missing) > 1 else 'it'} under never_sends in checks.yaml)",
            len(missing),
        )
    else:
        c.add(name, "expected_columns", level, "pass", f"all {len(columns)} expected columns present")
    unknown = list(info.unknown_columns)
    level = settings.unknown_columns.level
    if unknown:
        c.add(
            name,
            "unknown_columns",
            level,
            "warn",
            f"column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} not in the contract: not loaded "
            "(map {} in sources.yaml if {} a contract column)".format(
                "them" if len(unknown) > 1 else "it", "they are" if len(unknown) > 1 else "it is"
            ),
            len(unknown),
        )
    else:
        c.add(name, "unknown_columns", level, "pass", "no unknown columns")


def _quarantine(c: _Checker, name: str, settings: SourceChecks) -> None:
    q = c.batch.quality[name]
    level = settings.quarantine_rate.level
    if q.rows_read and q.rows_quarantined == q.rows_read:
        top = next(iter(q.quarantined_by_reason), "quarantined")
        # every row lost is always a stop, whatever the level
        c.results.append(
            CheckResult(
                name,
                q.file,
                "quarantine_rate",
                level,
                "stop",
                f"every row quarantined ({q.rows_read:,} rows; most for: {top}); check the date format and column "
                "names in sources.yaml",
                q.rows_quarantined,
            )
        )
        return
    share = q.rows_quarantined / q.rows_read if q.rows_read else 0.0
    limit = settings.quarantine_rate.max_share
    if share > limit:
        top = ", ".join(f"{reason} ({n:,})" for reason, n in list(q.quarantined_by_reason.items())[:3])
        message = f"{_share(q.rows_quarantined, q.rows_read)} quarantined, above {limit:.0%}: {top}"
        severity: Outcome = "stop" if q.rows_quarantined >= settings.quarantine_rate.min_rows else "warn"
        c.add(name, "quarantine_rate", level, severity, message, q.rows_quarantined)
    else:
        c.add(name, "quarantine_rate", level, "pass", f"{_share(q.rows_quarantined, q.rows_read)} quarantined")


def _future(c: _Checker, name: str, frame: pl.DataFrame, settings: SourceChecks) -> None:
    columns = _date_columns(frame, _event_dates_of(name))
    s = settings.future_dates
    if not columns:
        return
    if frame.is_empty():
        c.add(name, "future_dates", s.level, "skipped", "no rows")
        return
    after = int(frame.select(pl.any_horizontal([pl.col(col) > c.as_of for col in columns]).sum()).item() or 0)
    share = after / frame.height
    what = f"{_share(after, frame.height)} with {' or '.join(columns)} after the batch date {c.as_of:%Y-%m-%d}"
    if share > s.stop_above:
        c.add(name, "future_dates", s.level, "stop", what, after)
    elif share > s.warn_above:
        c.add(name, "future_dates", s.level, "warn", what, after)
    else:
        c.add(name, "future_dates", s.level, "pass", what, after)


def _latest_up_to(frame: pl.DataFrame, columns: list[str], as_of: date) -> date | None:
    if not columns or frame.is_empty():
        return None
    values = [frame.filter(pl.col(col) <= as_of)[col].max() for col in columns]
    dated = [v for v in values if isinstance(v, date)]
    return max(dated) if dated else None


def _recency(c: _Checker, name: str, frame: pl.DataFrame, settings: SourceChecks) -> None:
    columns = _date_columns(frame, (*_event_dates_of(name), *_end_dates_of(name)))
    s = settings.recency
    if not columns:
        return
    since = _months_back(c.as_of, s.months)
    if frame.is_empty():
        c.add(name, "recency", s.level, "stop", "no records at all", 0)
        return
    if frame.height < s.min_rows:
        c.add(name, "recency", s.level, "skipped", f"{frame.height:,} rows, fewer than {s.min_rows:,} to judge")
        return
    latest = _latest_up_to(frame, columns, c.as_of)
    if latest is None or latest < since:
        when = f"the latest is {latest:%Y-%m-%d}" if latest else "none is on or before the batch date"
        c.add(
            name,
            "recency",
            s.level,
            "stop",
            f"no record dated in the {s.months} months before the batch date {c.as_of:%Y-%m-%d} ({when}): an old file?",
            0,
        )
    else:
        c.add(name, "recency", s.level, "pass", f"latest record {latest:%Y-%m-%d}")


def term_index(label: str) -> int | None:
    """A term label ``2025/26-AUT`` as a number (three per academic year), or None when it is not one."""
    match = TERM_LABEL.match(label.strip().upper()) if isinstance(label, str) else None
    if match is None:
        return None
    year, short, term = int(match.group(1)), int(match.group(2)), match.group(3)
    if (year + 1) % 100 != short:
        return None
    return year * 3 + TERMS.index(term)


def term_label(index: int) -> str:
    """The label of school term number ``index`` (three terms a school year)."""
    year, term = divmod(index, 3)
    return f"{year}/{(year + 1) % 100:02d}-{TERMS[term]}"


def term_of_date(day: date) -> int:
    """The term a date falls in, by the usual English calendar (autumn from September, spring from January,
    summer from mid-April to August): the term in progress (or the holiday after it) on that day.
    """
    if day.month >= 9:
        return day.year * 3
    if day.month < 4 or (day.month == 4 and day.day < 15):
        return (day.year - 1) * 3 + 1
    return (day.year - 1) * 3 + 2


def expected_terms(as_of: date, current_complete: bool) -> list[int]:
    """The three terms the attendance rule needs for batch date ``as_of`` (domain.md: the three most recent
    complete terms): the current term and the two before it once it is complete, else the three before it.
    """
    now = term_of_date(as_of)
    last = now if current_complete else now - 1
    return [last - 2, last - 1, last]


def _terms(c: _Checker, name: str, frame: pl.DataFrame, settings: SourceChecks) -> None:
    s = settings.terms
    if name != "attendance" or "term" not in frame.columns:
        return
    if frame.is_empty():
        c.add(name, "terms", s.level, "skipped", "no rows")
        return
    now = term_of_date(c.as_of)
    # once per distinct (label, academic year of its start date): an extract has a handful, not a row each
    start = pl.col("term_start")
    year = (
        pl.when(start.dt.month() >= 8).then(start.dt.year()).otherwise(start.dt.year() - 1)
        if frame.schema["term_start"] == pl.Date
        else pl.lit(None, dtype=pl.Int32)
    )
    labels: dict[int, int] = {}
    outside = 0
    for term, start_year, n in frame.group_by(pl.col("term"), year.alias("year")).len().iter_rows():
        index = term_index(term)
        if index is None or (start_year is not None and start_year != index // 3):
            outside += n  # not a term label, or a label that is not the term of its dates
            continue
        if index > now or index < now - s.terms_back:
            outside += n
            continue
        labels[index] = labels.get(index, 0) + n
    ended = (
        frame.filter(pl.col("term_end") <= c.as_of)["term"].unique().to_list()
        if frame.schema["term_end"] == pl.Date
        else []
    )
    complete = any(term_index(term) == now for term in ended)
    missing = [t for t in expected_terms(c.as_of, complete) if t not in labels]
    share = outside / frame.height
    window = f"{term_label(now - s.terms_back)} to {term_label(now)}"
    problems = []
    severity: Outcome = "pass"
    if missing:
        problems.append(
            f"term{'s' if len(missing) > 1 else ''} {', '.join(term_label(t) for t in missing)} needed for the "
            f"batch date {c.as_of:%Y-%m-%d} not in the file"
        )
        severity = "stop"
    if share > s.stop_above:
        severity = "stop"
    elif share > s.warn_above and severity == "pass":
        severity = "warn"
    if outside:
        problems.append(f"{_share(outside, frame.height)} with a term outside {window} or not matching its dates")
    message = "; ".join(problems) if problems else f"terms {', '.join(term_label(t) for t in sorted(labels))}"
    c.add(name, "terms", s.level, severity, message, outside + len(missing))


def _people(rows_accepted: int, duplicates: int | None) -> int | None:
    return None if duplicates is None else rows_accepted - duplicates


def _volume(c: _Checker, name: str, settings: SourceChecks, previous: PreviousMonth | None) -> None:
    s = settings.volume
    before = previous.sources.get(name) if previous is not None else None
    if previous is None or before is None or before.rows_accepted is None:
        why = "no earlier published run" if previous is None else f"run {previous.run_id} stored no counts for it"
        c.add(name, "volume", s.level, "skipped", why)
        return
    q = c.batch.quality[name]
    now = {"rows": q.rows_accepted, "people": _people(q.rows_accepted, q.possible_duplicate_persons)}
    then = {"rows": before.rows_accepted, "people": before.people}
    worst: Outcome = "pass"
    parts = []
    changed = 0
    for what in ("rows", "people"):
        a, b = then[what], now[what]
        if a is None or b is None:
            continue
        change = b - a
        ratio = change / a if a else (1.0 if b else 0.0)
        parts.append(f"{what} {a:,} -> {b:,} ({ratio:+.0%})")
        if abs(change) < s.min_change:
            continue
        if change < 0 and -ratio > s.max_drop:
            worst = "stop"  # data lost: at the check's level
            changed = max(changed, -change)
        elif change > 0 and ratio > s.max_rise and s.rise_level != "off":
            if worst != "stop":
                worst = "stop" if s.rise_level == "stop" else "warn"
            changed = max(changed, change)
    message = f"against run {previous.run_id} ({previous.as_of:%Y-%m-%d}): " + ", ".join(parts)
    if worst != "pass":
        limits = f"more than -{s.max_drop:.0%} or +{s.max_rise:.0%}"
        message += f"; a change of {limits}"
    c.add(name, "volume", s.level, worst, message, changed or None)


def _same_file(c: _Checker, name: str, info: FileInfo, settings: SourceChecks, previous: PreviousMonth | None) -> None:
    s = settings.same_file
    before = previous.sources.get(name) if previous is not None else None
    if previous is None or before is None or before.sha256 is None:
        c.add(name, "same_file", s.level, "skipped", "no earlier published run with this source's file")
        return
    if before.sha256 != info.sha256:
        c.add(name, "same_file", s.level, "pass", f"differs from run {previous.run_id}'s file")
        return
    small = info.rows < s.min_rows
    message = (
        f"identical (SHA-256) to the file of run {previous.run_id} ({previous.as_of:%Y-%m-%d}): last month's file "
        "re-sent?" + (f" ({info.rows:,} rows, fewer than {s.min_rows:,}: may not have changed)" if small else "")
    )
    c.add(name, "same_file", s.level, "warn" if small else "stop", message, info.rows)


def _manifest(c: _Checker, name: str, info: FileInfo, settings: SourceChecks, manifests: Manifests | None) -> None:
    s = settings.manifest
    file = Path(info.path).name
    entry = manifests.entries.get(file) if manifests is not None else None
    if entry is None:
        c.add(name, "manifest", s.level, "skipped", "no manifest for this file")
        return
    problems = []
    if entry.rows is not None and entry.rows != info.rows:
        problems.append(f"{info.rows:,} data rows, the manifest says {entry.rows:,}")
    if entry.sha256 is not None and entry.sha256 != info.sha256:
        problems.append("SHA-256 differs from the manifest's")
    origin = manifests.sources.get(file, MANIFEST) if manifests is not None else MANIFEST
    if problems:
        c.add(name, "manifest", s.level, "stop", f"{'; '.join(problems)} ({origin}): cut short or changed?", info.rows)
    else:
        c.add(name, "manifest", s.level, "pass", f"rows and SHA-256 match {origin}")


def _school_coverage(c: _Checker, settings_of: dict[str, SourceChecks]) -> dict[str, Any]:
    census = c.batch.extracts.get("school_census")
    configured = [u.strip() for u in c.config.schools if u.strip()]
    if configured:
        expected, origin = sorted(set(configured)), "checks.yaml"
    elif census is not None and "school_urn" in census.columns:
        expected, origin = sorted(u for u in census["school_urn"].drop_nulls().unique().to_list() if u), "school_census"
    else:
        expected, origin = [], "none"
    children: dict[str, int] = {}
    if census is not None and {"school_urn", "record_id"} <= set(census.columns):
        counted = (
            census.filter(pl.col("school_urn").is_not_null()).group_by("school_urn").agg(pl.col("record_id").n_unique())
        )
        children = {str(u): int(n) for u, n in counted.iter_rows()}
    coverage: dict[str, Any] = {"expected": len(expected), "from": origin}
    for name in (s.name for s in SOURCES.values() if s.per_school):
        frame = c.batch.extracts.get(name)
        s = settings_of[name].school_coverage
        if frame is None or "school_urn" not in frame.columns:
            continue
        present = set(frame["school_urn"].drop_nulls().unique().to_list())
        missing = [u for u in expected if u not in present]
        affected = sum(children.get(u, 0) for u in missing)
        unexpected = len(present - set(expected)) if expected else 0
        coverage[name] = {
            "present": len(present & set(expected)) if expected else len(present),
            "missing": missing,
            "children": affected,
            "unexpected": unexpected,
        }
        if not expected:
            c.add(name, "school_coverage", s.level, "skipped", "no schools expected (no census URNs, none configured)")
            continue
        if missing:
            meaning = SOURCES[name].missing_school_means
            message = (
                f"{len(missing)} of {len(expected)} schools sent no rows (URN {', '.join(missing)}): {meaning} for "
                f"{affected:,} children at {len(missing)} school{'s' if len(missing) > 1 else ''}"
            )
            c.add(name, "school_coverage", s.level, "stop", message, len(missing))
        else:
            c.add(name, "school_coverage", s.level, "pass", f"all {len(expected)} schools present")
    return coverage


def _month_gaps(c: _Checker, name: str, frame: pl.DataFrame, settings: SourceChecks) -> list[str] | None:
    """Months of the 12 up to the batch date with no record (a record spans its start to its end date)."""
    starts = _date_columns(frame, _event_dates_of(name))
    if not starts:
        return None
    months = [_months_back(c.as_of, k) for k in range(11, -1, -1)]
    keys = [m.year * 12 + m.month - 1 for m in months]
    covered: set[int] = set()
    ends = _date_columns(frame, _end_dates_of(name))
    for start in starts:
        s_key = pl.col(start).dt.year() * 12 + pl.col(start).dt.month() - 1
        if ends:
            e = pl.min_horizontal(pl.col(ends[0]).fill_null(c.as_of), pl.lit(c.as_of))
            e_key = e.dt.year() * 12 + e.dt.month() - 1
            spans = frame.select(s_key.alias("s"), e_key.alias("e")).drop_nulls().unique()
            for s_val, e_val in spans.iter_rows():
                covered.update(range(max(s_val, keys[0]), min(e_val, keys[-1]) + 1))
        else:
            covered.update(frame.select(s_key.alias("s")).drop_nulls().unique()["s"].to_list())
    s = settings.month_gaps
    gaps = [f"{k // 12}-{k % 12 + 1:02d}" for k in keys if k not in covered and (k % 12 + 1) not in s.ignore_months]
    if frame.height < s.min_rows:
        c.add(name, "month_gaps", s.level, "skipped", f"{frame.height:,} rows, fewer than {s.min_rows:,} to judge")
    elif gaps:
        c.add(
            name, "month_gaps", s.level, "warn", f"no records in {', '.join(gaps)} (of the last 12 months)", len(gaps)
        )
    else:
        c.add(name, "month_gaps", s.level, "pass", "records in every month of the last 12")
    return gaps


def run_checks(
    batch: Batch,
    as_of: date,
    config: ChecksConfig,
    previous: PreviousMonth | None = None,
    manifests: Manifests | None = None,
) -> CheckReport:
    """Every data check of ``batch`` for the batch date ``as_of``; pure (nothing read or written)."""
    c = _Checker(batch, as_of, config)
    if manifests is not None:
        for manifest, problem in sorted(manifests.problems.items()):
            c.add("batch", "manifest", config.defaults.manifest.level, "stop", f"{manifest} {problem}", file=manifest)
        read = {Path(info.path).name for info in batch.files.values()}
        for file in sorted(set(manifests.entries) - read):
            c.add(
                "batch",
                "manifest",
                config.defaults.manifest.level,
                "stop",
                f"{file} is listed in {manifests.sources.get(file, MANIFEST)} but was not read as an extract",
                file=file,
            )
    settings_of = {name: config.for_source(name) for name in SOURCES}
    gaps: dict[str, list[str]] = {}
    for name in SOURCES:
        info = batch.files.get(name)
        if info is None or name not in batch.quality:
            continue
        settings = settings_of[name]
        frame = batch.extracts[name]
        _manifest(c, name, info, settings, manifests)
        _expected_columns(c, name, info, settings)
        _quarantine(c, name, settings)
        _future(c, name, frame, settings)
        _recency(c, name, frame, settings)
        _terms(c, name, frame, settings)
        _volume(c, name, settings, previous)
        _same_file(c, name, info, settings, previous)
        found = _month_gaps(c, name, frame, settings)
        if found is not None:
            gaps[name] = found
    coverage = {"schools": _school_coverage(c, settings_of), "months_without_records": gaps}
    order = {name: i for i, name in enumerate(["batch", *SOURCES])}
    results = sorted(c.results, key=lambda r: (order.get(r.source, 99), CHECK_NAMES.index(r.check)))
    return CheckReport(tuple(results), coverage)


def previous_facts(
    quality: dict[str, dict[str, Any]], hashes: dict[str, str], files: dict[str, str]
) -> dict[str, SourceFacts]:
    """:class:`SourceFacts` per source from a stored run's quality reports and input file hashes."""
    facts = {}
    for name in sorted(set(quality) | set(hashes)):
        report = quality.get(name, {})
        accepted = report.get("rows_accepted")
        duplicates = report.get("possible_duplicate_persons")
        facts[name] = SourceFacts(
            rows_read=report.get("rows_read"),
            rows_accepted=accepted,
            people=_people(accepted, duplicates) if isinstance(accepted, int) else None,
            sha256=hashes.get(name),
            file=files.get(name),
        )
    return facts
