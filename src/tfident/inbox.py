"""The monthly inbox: one folder per batch, and which one an unattended run takes next.

Agencies' transfers (or the analyst) write each month's extracts into a folder of its
own, named by its batch date, under one inbox folder::

    incoming/
      2026-09-30/   READY  school_census.csv  ...      (processed in October)
      2026-10-31/   READY  school_census.csv  ...      (complete: the next to run)
      2026-11-30/          school_census.csv           (still arriving: no READY yet)

A folder is **complete** when it holds a ``READY`` marker (written last, after every
file), or a ``manifest.json`` whose every listed file is present with its SHA-256::

    {"files": {"school_census.csv": {"sha256": "9f2c..."}, "attendance.csv": {"sha256": "..."}}}

The batch date is the folder's name, never the clock. A scheduled run takes the
**oldest** complete folder that no stored run has processed. It refuses (exit 2, with a
``REFUSED`` note written into the folder so the refusal is made once, not every month)
a folder whose date is not after the last published run's batch date: a late or re-sent
batch must not be published as a later month, nor replace a month already published.
Folders with other names are ignored. This module reads folders and decides; what the
store knows (processed folders, the last published date) is passed in.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tfident.errors import BatchRefused, ConfigError

READY_MARKER = "READY"
MANIFEST = "manifest.json"
REFUSED_MARKER = "REFUSED"
TIMEZONE_ENV = "TFIDENT_TIMEZONE"
DEFAULT_TIMEZONE = "Europe/London"
_FOLDER_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def council_timezone(name: str | None = None) -> ZoneInfo:
    """The council's time zone: ``name``, else ``TFIDENT_TIMEZONE``, else Europe/London."""
    text = name or os.environ.get(TIMEZONE_ENV, "").strip() or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{TIMEZONE_ENV}={text!r}: not a time zone (expected a name such as Europe/London)") from None


def local_today(timezone: str | None = None, now: datetime | None = None) -> date:
    """Today's date in the council's time zone (a run just after midnight in June is not yesterday in UTC)."""
    zone = council_timezone(timezone)
    return (now.astimezone(zone) if now is not None else datetime.now(zone)).date()


@dataclass(frozen=True)
class InboxFolder:
    """One dated folder of the inbox and what its files say."""

    path: Path
    as_of: date
    complete: bool
    why_incomplete: str | None = None
    refused: str | None = None
    """The reason written in its ``REFUSED`` note, when an earlier scan refused it."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_problem(folder: Path) -> str | None:
    """None when the folder's manifest lists files that are all present with their SHA-256; else why not."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        return f"{MANIFEST} cannot be read ({type(error).__name__})"
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not files:
        return f'{MANIFEST} lists no files (expected {{"files": {{"NAME": {{"sha256": ...}}}}}})'
    for name, entry in sorted(files.items()):
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        target = folder / str(name)
        if Path(str(name)).name != str(name):
            return f"{MANIFEST} names {name!r}, which is not a file name in this folder"
        if not target.is_file():
            return f"{name} listed in {MANIFEST} has not arrived"
        if isinstance(expected, str) and _sha256(target).lower() != expected.lower():
            return f"{name} does not have the SHA-256 {MANIFEST} gives (still being written, or damaged)"
    return None


def read_folder(path: Path) -> InboxFolder | None:
    """The inbox folder at ``path``, or None when its name is not a batch date ``YYYY-MM-DD``."""
    if not path.is_dir() or not _FOLDER_NAME.match(path.name):
        return None
    try:
        as_of = date.fromisoformat(path.name)
    except ValueError:
        return None
    refused_note = path / REFUSED_MARKER
    refused = refused_note.read_text(encoding="utf-8").strip() or "refused" if refused_note.is_file() else None
    if (path / READY_MARKER).is_file():
        return InboxFolder(path, as_of, True, refused=refused)
    if (path / MANIFEST).is_file():
        problem = _manifest_problem(path)
        return InboxFolder(path, as_of, problem is None, problem, refused)
    return InboxFolder(path, as_of, False, f"no {READY_MARKER} marker or {MANIFEST} yet", refused)


def scan(inbox: Path) -> list[InboxFolder]:
    """Every dated folder of ``inbox``, oldest first; an error naming the inbox when it is not a folder."""
    if not inbox.is_dir():
        raise BatchRefused(f"inbox {inbox} is not a folder (expected one folder per batch, named YYYY-MM-DD)")
    folders = (read_folder(child) for child in inbox.iterdir())
    return sorted((f for f in folders if f is not None), key=lambda f: f.as_of)


def _same(a: Path | str, b: Path | str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def choose(folders: Iterable[InboxFolder], processed: Iterable[str], last_published: date | None) -> InboxFolder | None:
    """The folder to run next: the oldest complete folder not processed nor refused before.

    ``processed`` are the extracts folders of the runs the store holds, ``last_published``
    the batch date of the newest published run. Raises :class:`BatchRefused` when that
    folder's date is not after ``last_published`` (and notes the refusal in the folder).
    None when nothing is ready.
    """
    done = list(processed)
    for folder in folders:
        if not folder.complete or folder.refused is not None:
            continue
        if any(_same(folder.path, p) for p in done):
            continue
        if last_published is not None and folder.as_of <= last_published:
            reason = (
                f"inbox folder {folder.path} has batch date {folder.as_of:%Y-%m-%d}, not after the last published "
                f"run's {last_published:%Y-%m-%d}: a late or re-sent batch is not published as a later month. "
                f"Run it by hand with `tfident run --extracts {folder.path} --as-of {folder.as_of:%Y-%m-%d}` "
                "if it should replace that month, or move it out of the inbox"
            )
            refuse(folder.path, reason)
            raise BatchRefused(reason, file=str(folder.path))
        return folder
    return None


def refuse(folder: Path, reason: str) -> None:
    """Write the ``REFUSED`` note (the reason, no personal data) so later scans pass the folder by."""
    with contextlib.suppress(OSError):  # a read-only inbox: the refusal is still raised, and repeated next time
        (folder / REFUSED_MARKER).write_text(reason + "\n", encoding="utf-8")


def expired(folders: Iterable[InboxFolder], processed: Iterable[str], cutoff: date) -> list[InboxFolder]:
    """Folders retention may delete: dated before ``cutoff`` and processed by a stored run, or refused."""
    done = list(processed)
    return [f for f in folders if f.as_of < cutoff and (f.refused is not None or any(_same(f.path, p) for p in done))]
