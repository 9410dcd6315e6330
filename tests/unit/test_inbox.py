"""The monthly inbox: which folder is complete, which runs next, which is refused."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tfident.errors import BatchRefused, ConfigError
from tfident.inbox import REFUSED_MARKER, choose, expired, local_today, read_folder, scan


def folder(inbox: Path, name: str, *, ready: bool = True, files: dict[str, str] | None = None) -> Path:
    path = inbox / name
    path.mkdir(parents=True)
    for file, text in (files or {"school_census.csv": "upn\n"}).items():
        (path / file).write_text(text, encoding="utf-8")
    if ready:
        (path / "READY").touch()
    return path


def manifest(path: Path, entries: dict[str, str]) -> None:
    (path / "manifest.json").write_text(json.dumps({"files": {k: {"sha256": v} for k, v in entries.items()}}))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_folder_is_complete_with_its_ready_marker_and_dated_by_its_name(tmp_path: Path) -> None:
    """The READY marker completes a folder; the batch date is the folder's name."""
    ready = read_folder(folder(tmp_path, "2026-10-31"))
    waiting = read_folder(folder(tmp_path, "2026-11-30", ready=False))
    assert ready is not None
    assert ready.complete
    assert ready.as_of == date(2026, 10, 31)
    assert waiting is not None
    assert not waiting.complete
    assert "READY" in (waiting.why_incomplete or "")


def test_a_manifest_completes_a_folder_only_when_every_file_has_arrived_whole(tmp_path: Path) -> None:
    """Every file the manifest lists must be there with its SHA-256."""
    path = folder(tmp_path, "2026-10-31", ready=False, files={"a.csv": "x\n", "b.csv": "y\n"})
    manifest(path, {"a.csv": sha("x\n"), "b.csv": sha("y\n")})
    assert read_folder(path).complete  # type: ignore[union-attr]
    manifest(path, {"a.csv": sha("x\n"), "b.csv": sha("still writing")})
    result = read_folder(path)
    assert result is not None
    assert not result.complete
    assert "b.csv" in (result.why_incomplete or "")
    manifest(path, {"a.csv": sha("x\n"), "c.csv": sha("z")})
    assert "c.csv listed in manifest.json has not arrived" in (read_folder(path).why_incomplete or "")  # type: ignore[union-attr]
    manifest(path, {"../a.csv": sha("x\n")})
    assert not read_folder(path).complete  # type: ignore[union-attr]
    (path / "manifest.json").write_text("{not json")
    assert "cannot be read" in (read_folder(path).why_incomplete or "")  # type: ignore[union-attr]


def test_scan_lists_dated_folders_oldest_first_and_ignores_other_names(tmp_path: Path) -> None:
    """Folders not named YYYY-MM-DD (or not a real date) and plain files are not batches."""
    for name in ("2026-11-30", "2026-09-30", "2026-10-31"):
        folder(tmp_path, name)
    folder(tmp_path, "october")
    folder(tmp_path, "2026-02-30")
    (tmp_path / "2026-12-31").write_text("a file, not a folder")
    assert [f.as_of.isoformat() for f in scan(tmp_path)] == ["2026-09-30", "2026-10-31", "2026-11-30"]
    with pytest.raises(BatchRefused, match="not a folder"):
        scan(tmp_path / "missing")


def test_choose_takes_the_oldest_complete_folder_not_yet_processed(tmp_path: Path) -> None:
    """Processed folders (by path) and incomplete ones are passed over; nothing ready gives None."""
    september = folder(tmp_path, "2026-09-30")
    folder(tmp_path, "2026-10-31")
    folder(tmp_path, "2026-11-30", ready=False)
    chosen = choose(scan(tmp_path), [], None)
    assert chosen is not None
    assert chosen.as_of == date(2026, 9, 30)
    chosen = choose(scan(tmp_path), [str(september)], date(2026, 9, 30))
    assert chosen is not None
    assert chosen.as_of == date(2026, 10, 31)
    assert choose(scan(tmp_path), [str(september), str(tmp_path / "2026-10-31")], date(2026, 10, 31)) is None


def test_a_folder_not_after_the_last_published_run_is_refused_once(tmp_path: Path) -> None:
    """A late or re-sent batch is refused with a REFUSED note, so the next scan passes it by."""
    late = folder(tmp_path, "2026-08-31")
    folder(tmp_path, "2026-11-30")
    with pytest.raises(BatchRefused, match="not after the last published run's 2026-10-31") as refused:
        choose(scan(tmp_path), [], date(2026, 10, 31))
    assert refused.value.file == str(late)
    assert "2026-08-31" in (late / REFUSED_MARKER).read_text()
    chosen = choose(scan(tmp_path), [], date(2026, 10, 31))
    assert chosen is not None
    assert chosen.as_of == date(2026, 11, 30)


def test_a_second_folder_for_a_published_date_is_refused(tmp_path: Path) -> None:
    """The same month sent again in another folder does not replace the published run unattended."""
    folder(tmp_path, "2026-10-31")
    with pytest.raises(BatchRefused):
        choose(scan(tmp_path), [str(tmp_path / "elsewhere")], date(2026, 10, 31))


def test_expired_folders_are_old_and_processed_or_refused(tmp_path: Path) -> None:
    """Retention deletes only folders before the cutoff that a run processed or that were refused."""
    processed = folder(tmp_path, "2024-01-31")
    refused = folder(tmp_path, "2024-02-29")
    (refused / REFUSED_MARKER).write_text("refused\n")
    folder(tmp_path, "2024-03-31")  # never run: kept
    folder(tmp_path, "2026-10-31")  # recent: kept
    result = expired(scan(tmp_path), [str(processed), str(tmp_path / "2026-10-31")], date(2025, 1, 1))
    assert [f.path.name for f in result] == ["2024-01-31", "2024-02-29"]


def test_today_is_the_councils_date_not_utcs() -> None:
    """Just after midnight in a British summer, UTC still says yesterday."""
    late_evening_utc = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    assert local_today("Europe/London", late_evening_utc) == date(2026, 7, 1)
    assert local_today("UTC", late_evening_utc) == date(2026, 6, 30)
    with pytest.raises(ConfigError, match="not a time zone"):
        local_today("Mars/Olympus")


def test_the_time_zone_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """TFIDENT_TIMEZONE sets it; Europe/London by default."""
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    monkeypatch.delenv("TFIDENT_TIMEZONE", raising=False)
    assert local_today(now=moment) == date(2026, 12, 31)  # GMT in winter
    monkeypatch.setenv("TFIDENT_TIMEZONE", "Asia/Tokyo")
    assert local_today(now=moment) == date(2027, 1, 1)
