"""Stage checkpoints: what a run has computed so far, kept on disk so a killed run can resume.

After each checkpointed stage (``tfident.pipeline.CHECKPOINTED_STAGES``: every stage of
``tfident.pipeline.NODES`` after ``ingest`` and ``checks``), the run saves the stage's output
frames, named by the stage's declared outputs, as Parquet files (the link stage's pairs, as an
Arrow file: :data:`MAPPED_FRAMES`) in the run's checkpoint folder, with a ``manifest.json``
listing the stages done, in order, and the SHA-256 of every file::

    <root>/<run_id>/<database>/manifest.json
    <root>/<run_id>/<database>/standardise.standardised.parquet
    <root>/<run_id>/<database>/link.person_index.parquet
    <root>/<run_id>/<database>/link.links.parquet
    <root>/<run_id>/<database>/link.link_pairs.arrow
    ...

``<database>`` is a hash of the database's URL (``tfident.runner``): the same batch gives the same
run id whichever database it is run into, so runs of it into two databases whose checkpoint root is
one (two SQLite files in one folder, two PostgreSQL databases run from one working folder), at the
same time or one after the other, keep their checkpoints apart. Checkpoints of the layout before
(files directly in ``<root>/<run_id>/``) are not used: a run finding its database's deletes them,
says so in a warning, and computes every stage.

``tfident run --resume RUN_ID`` (or a plain re-run of the same inputs while the run is
``running`` or ``failed`` in the store) loads the stages done, checking each file's
hash, and computes only the rest, plainly or under Prefect alike. ``ingest`` (and the
data checks) are never checkpointed: a resumed run reads its extracts again anyway, to
check they are the ones the run started with.

The root is ``TFIDENT_CHECKPOINT_DIR`` when set, else ``.tfident/checkpoints`` next to
the SQLite database file, else in the working folder (PostgreSQL). Checkpoints hold
personal data: folders are created ``0700`` and files ``0600``, and a run's folder is
deleted once the run is published (its ``<run_id>`` folder too, once no database's is left in it).

A file is written beside its final name and renamed into place, and the manifest is
rewritten (the same way) only after the stage's files are in place, so a process killed
while saving leaves the previous, consistent set of checkpoints. A damaged or missing
checkpoint file is not fatal: the stage (and every later one) is computed again.

This module knows nothing of the pipeline's stages beyond their names; it implements
:class:`tfident.pipeline.Checkpoints`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from tfident.errors import CannotResume

__all__ = [
    "CHECKPOINT_DIR_ENV",
    "CannotResume",
    "StageCheckpoints",
    "checkpoint_folder",
    "checkpoint_root",
    "file_sha256",
]

log = logging.getLogger(__name__)

CHECKPOINT_DIR_ENV = "TFIDENT_CHECKPOINT_DIR"
"""Environment variable: the folder that holds every run's checkpoint folder."""
DEFAULT_FOLDER = Path(".tfident") / "checkpoints"
MANIFEST = "manifest.json"
FORMAT = 2
"""The manifest's format: 2 since identity became a stage of its own and frames are named by the stages'
declared outputs (checkpoints of format 1 are not used: every stage is computed again)."""
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

MAPPED_FRAMES: frozenset[str] = frozenset({"link_pairs"})
"""Frames saved as uncompressed Arrow IPC files (``.arrow``) and memory-mapped when read, not as Parquet:
the link stage's blocked pairs' levels (tens of millions of rows of small integers at a million records),
which a run only passes on to the next month. Writing and reading them costs a copy and a SHA-256
instead of Parquet's encoding and decoding (several CPU seconds at a million records), their pages stay
the kernel's to drop, and the run cache takes the checkpoint's file by a hard link (:func:`save_run_cache`)
instead of writing it again. They take about five times the disk of Parquet (25 bytes a pair)."""


def _write_frame(folder: Path, stem: str, name: str, frame: pl.DataFrame) -> Path:
    """Write ``frame`` as ``folder/stem`` with its format's suffix (:data:`MAPPED_FRAMES`: Arrow, else Parquet)."""
    if name in MAPPED_FRAMES:
        path = folder / f"{stem}.arrow"
        _write_private(path, lambda partial: frame.write_ipc(partial, compression="uncompressed"))
    else:
        path = folder / f"{stem}.parquet"
        _write_private(path, frame.write_parquet)
    return path


def read_frame(path: Path) -> pl.DataFrame:
    """A frame saved by this module: an ``.arrow`` file memory-mapped (its pages read from disk when used;
    the mapping keeps the file's data even once it is deleted or replaced by a rename), else Parquet.
    """
    if path.suffix != ".arrow":
        return pl.read_parquet(path)
    table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
    out = pl.from_arrow(table, rechunk=False)
    if not isinstance(out, pl.DataFrame):  # pragma: no cover - a table gives a frame
        raise TypeError(f"{path.name} did not give a frame")
    return out


def checkpoint_root(sqlite_database: str | None = None) -> Path:
    """Where checkpoint folders go: ``TFIDENT_CHECKPOINT_DIR``, else beside the SQLite file, else the working folder."""
    configured = os.environ.get(CHECKPOINT_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    if sqlite_database and sqlite_database != ":memory:" and not sqlite_database.startswith("file:"):
        return Path(sqlite_database).expanduser().resolve().parent / DEFAULT_FOLDER
    return Path.cwd() / DEFAULT_FOLDER


def _private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by its owner only."""
    for attempt in range(3):
        missing = [p for p in (path, *path.parents) if not p.exists()]
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except FileNotFoundError:
            # a parent just made was removed as empty by another run's discard (another database's
            # run of the same batch, finishing): make it again
            if attempt == 2:
                raise
            continue
        for created in missing:
            os.chmod(created, 0o700)  # mkdir's mode is reduced by the umask
        return


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_private(path: Path, write: Any) -> None:
    """Write a file beside ``path`` with ``write(partial_path)``, make it 0600, flush it to disk, rename it in place."""
    partial = path.with_name(path.name + ".partial")
    write(partial)
    os.chmod(partial, 0o600)
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)


@dataclass
class StageCheckpoints:
    """The checkpoints of one run: :meth:`load` and :meth:`save` a stage's frames, :meth:`discard` them all."""

    folder: Path
    """``<root>/<run_id>/<database>``."""
    run_id: str
    database: str
    """Which database the run is stored in (a hash of its URL): it names the folder, and the manifest
    records it too (checkpoints written for another are not used)."""
    remove_empty_root: bool = False
    stages: list[dict[str, Any]] = field(default_factory=list)
    """The manifest's stage entries, in the order they were computed."""
    loaded: list[str] = field(default_factory=list)
    """Stages :meth:`load` has returned frames for."""
    _diverged: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, root: Path, run_id: str, database: str) -> StageCheckpoints:
        """The checkpoints of ``run_id`` in ``database`` under ``root``, creating their folder (0700) when
        there is none (and deleting this database's checkpoints of the run in the layout before).
        """
        folder = checkpoint_folder(root, run_id, database)
        default_root = CHECKPOINT_DIR_ENV not in os.environ or not os.environ[CHECKPOINT_DIR_ENV]
        _private_dir(folder)
        _discard_old_layout(root, run_id, database)
        checkpoints = cls(folder=folder, run_id=run_id, database=database, remove_empty_root=default_root)
        checkpoints._read_manifest()
        return checkpoints

    @staticmethod
    def exist(root: Path, run_id: str, database: str) -> bool:
        """Whether ``root`` holds checkpoints of ``run_id`` in ``database`` (in either layout)."""
        if not (_SAFE_NAME.match(run_id) and _SAFE_NAME.match(database)):
            return False
        return (root / run_id / database).is_dir() or bool(_old_layout_files(root, run_id, database))

    @property
    def completed(self) -> tuple[str, ...]:
        """The stages saved, in order."""
        return tuple(entry["stage"] for entry in self.stages)

    # ------------------------------------------------------------------ the interface

    def load(self, stage: str) -> dict[str, pl.DataFrame] | None:
        """The frames saved for ``stage``, or None when it must be computed (then so must every later stage)."""
        if self._diverged:
            return None
        entry = next((e for e in self.stages if e["stage"] == stage), None)
        if entry is None:
            self._diverged = True
            return None
        frames: dict[str, pl.DataFrame] = {}
        for item in entry["files"]:
            path = self.folder / item["file"]
            problem = None
            if not path.is_file():
                problem = "a file is missing"
            elif file_sha256(path) != item["sha256"]:
                problem = "a file does not match its SHA-256"
            if problem is not None:
                log.warning(
                    "checkpoint of stage %s of run %s is damaged (%s): computing it again", stage, self.run_id, problem
                )
                self._truncate(stage)
                self._diverged = True
                return None
            frames[item["frame"]] = read_frame(path)
        self.loaded.append(stage)
        log.debug("run %s: stage %s restored from checkpoint %s", self.run_id, stage, self.folder)
        return frames

    def save(self, stage: str, frames: Mapping[str, pl.DataFrame]) -> None:
        """Save ``stage``'s frames, replacing its checkpoint and forgetting those of later stages."""
        self._truncate(stage)
        self._diverged = True  # later stages follow from these frames, not from older checkpoints
        files = []
        for name, frame in frames.items():
            if not _SAFE_NAME.match(name):
                raise ValueError(f"frame name {name!r} cannot name a checkpoint file")
            path = _write_frame(self.folder, f"{stage}.{name}", name, frame)
            files.append({"frame": name, "file": path.name, "sha256": file_sha256(path), "rows": frame.height})
        self.stages.append({"stage": stage, "order": len(self.stages) + 1, "files": files})
        self._write_manifest()
        log.debug("run %s: stage %s checkpointed", self.run_id, stage)

    def saved_file(self, frame: str) -> tuple[Path, str] | None:
        """``(path, sha256)`` of the file the latest saved stage holding ``frame`` wrote it to, or None."""
        for entry in reversed(self.stages):
            for item in entry["files"]:
                if item["frame"] == frame:
                    return self.folder / item["file"], str(item["sha256"])
        return None

    def discard(self) -> None:
        """Delete the run's checkpoints, and the run's folder when no other database's are left in it (then
        the default root folders too, when they are left empty).
        """
        shutil.rmtree(self.folder, ignore_errors=True)
        self.stages = []
        run_folder = self.folder.parent
        root = run_folder.parent
        empty = (run_folder, root, root.parent) if self.remove_empty_root else (run_folder,)
        for folder in empty:  # <run_id>, then .tfident/checkpoints, then .tfident
            try:
                folder.rmdir()
            except FileNotFoundError:  # another database's run of the same batch removed it just now
                continue
            except OSError:  # not empty
                break

    # ------------------------------------------------------------------- the manifest

    def _truncate(self, stage: str) -> None:
        """Forget ``stage`` and every stage saved after it (their files are stale)."""
        index = next((i for i, e in enumerate(self.stages) if e["stage"] == stage), None)
        if index is None:
            return
        stale, self.stages = self.stages[index:], self.stages[:index]
        self._write_manifest()
        for entry in stale:
            for item in entry["files"]:
                (self.folder / item["file"]).unlink(missing_ok=True)

    def _read_manifest(self) -> None:
        path = self.folder / MANIFEST
        if not path.exists():
            self._clear("")
            self._write_manifest()
            return
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            stages = list(manifest["stages"])
            usable = (
                manifest.get("format") == FORMAT
                and manifest.get("run_id") == self.run_id
                and manifest.get("database") == self.database
            )
        except (OSError, ValueError, KeyError, TypeError):
            self._clear("its manifest cannot be read")
            self._write_manifest()
            return
        if not usable:
            self._clear("they were written for another database or by another version of tfident")
            self._write_manifest()
            return
        self.stages = stages

    def _clear(self, reason: str) -> None:
        """Start from no checkpoints, deleting any files left in the folder."""
        leftovers = [p for p in self.folder.iterdir() if p.is_file()]
        if leftovers and reason:
            log.warning("checkpoints of run %s are not used (%s): computing every stage", self.run_id, reason)
        for path in leftovers:
            path.unlink(missing_ok=True)
        self.stages = []

    def _write_manifest(self) -> None:
        manifest = {"format": FORMAT, "run_id": self.run_id, "database": self.database, "stages": self.stages}
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        _write_private(self.folder / MANIFEST, lambda partial: partial.write_text(text, encoding="utf-8"))


def checkpoint_folder(root: Path, run_id: str, database: str) -> Path:
    """The folder of the checkpoints of ``run_id`` in ``database``, ``<root>/<run_id>/<database>``."""
    if not _SAFE_NAME.match(run_id):
        raise CannotResume(f"run id {run_id!r} cannot name a checkpoint folder")
    if not _SAFE_NAME.match(database):
        raise ValueError(f"database key {database!r} cannot name a checkpoint folder")
    return root / run_id / database


def _old_layout_files(root: Path, run_id: str, database: str) -> list[Path]:
    """The files of checkpoints of ``run_id`` in the layout before, directly in ``<root>/<run_id>/``, when
    their manifest says they were written for ``database`` (or cannot say for which: a damaged manifest).
    """
    folder = root / run_id
    try:
        files = [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return []
    if not files:
        return []
    try:
        written_for = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("database")
    except (OSError, ValueError, AttributeError):
        written_for = None
    return files if written_for in (None, database) else []


def _discard_old_layout(root: Path, run_id: str, database: str) -> None:
    """Delete this database's checkpoints of ``run_id`` in the layout before (they are never used), saying so."""
    files = _old_layout_files(root, run_id, database)
    if files:
        log.warning(
            "checkpoints of run %s in the folder layout of an earlier tfident version are not used: "
            "deleted them (a run computes every stage again)",
            run_id,
        )
    for path in files:
        path.unlink(missing_ok=True)


# ------------------------------------------------------------------ run caches

RUN_CACHE_FOLDER = "_run_cache"
"""The folder, inside the checkpoint root, of the published runs' caches (what an incremental
run reuses: ``tfident.link.incremental``), ``_run_cache/<database>/<run_id>/``. Its name cannot
be a run id (those start with a letter or digit), so it never meets a run's checkpoint folder
(``<root>/<run_id>/<database>/``)."""


def _run_cache_dir(root: Path, database: str) -> Path:
    return root / RUN_CACHE_FOLDER / database


def save_run_cache(
    root: Path,
    database: str,
    run_id: str,
    frames: Mapping[str, pl.DataFrame],
    saved: Mapping[str, tuple[Path, str] | None] | None = None,
) -> Path:
    """Keep ``frames`` as the cache of the published run ``run_id`` (``0700`` folder, ``0600`` files,
    each file written beside its name and renamed in place) and delete every other run's cache
    of this database: only the latest published run's is kept (it holds personal data).

    ``saved`` names, for some frames, a file that already holds exactly that frame as this module
    writes it, and its SHA-256 (a checkpoint's, :meth:`StageCheckpoints.saved_file`): the cache takes
    it by a hard link (the same bytes, no second write), and writes the frame when it cannot (another
    file system).
    """
    if not _SAFE_NAME.match(run_id):
        raise ValueError(f"run id {run_id!r} cannot name a cache folder")
    base = _run_cache_dir(root, database)
    folder = base / run_id
    _private_dir(folder)
    files = {}
    for name, frame in frames.items():
        if not _SAFE_NAME.match(name):
            raise ValueError(f"frame name {name!r} cannot name a cache file")
        linked = _linked((saved or {}).get(name), folder, name)
        if linked is not None:
            files[name] = linked
            continue
        path = _write_frame(folder, name, name, frame)
        files[name] = {"file": path.name, "sha256": file_sha256(path)}
    text = json.dumps({"format": FORMAT, "run_id": run_id, "files": files}, indent=2, sort_keys=True) + "\n"
    _write_private(folder / MANIFEST, lambda partial: partial.write_text(text, encoding="utf-8"))
    for other in base.iterdir():
        if other.is_dir() and other.name != run_id:
            shutil.rmtree(other, ignore_errors=True)
    return folder


def _linked(source: tuple[Path, str] | None, folder: Path, name: str) -> dict[str, str] | None:
    """The cache's entry for ``name`` after hard-linking ``source`` (``(path, sha256)``) into ``folder``
    under its name (the same suffix), or None when there is no source or it cannot be linked.
    """
    if source is None:
        return None
    path, sha256 = source
    target = folder / f"{name}{path.suffix}"
    partial = target.with_name(target.name + ".partial")
    try:
        partial.unlink(missing_ok=True)
        os.link(path, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    except OSError as error:
        log.debug("the run cache could not link %s (%s): writing it", name, type(error).__name__)
        partial.unlink(missing_ok=True)
        return None
    return {"file": target.name, "sha256": sha256}


def load_run_cache(
    root: Path,
    database: str,
    run_id: str,
    map_parquet: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> dict[str, pl.DataFrame] | None:
    """The cache kept for the published run ``run_id``, or None when there is none or it is damaged.

    A frame of :data:`MAPPED_FRAMES` is memory-mapped; one a cache holds as Parquet (written before
    they were kept as Arrow) is read and passed through ``map_parquet`` (the caller's memory-mapping).
    """
    if not _SAFE_NAME.match(run_id):
        return None
    folder = _run_cache_dir(root, database) / run_id
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("run_id") != run_id:
            return None
        frames = {}
        for name, item in manifest["files"].items():
            path = folder / item["file"]
            if file_sha256(path) != item["sha256"]:
                log.warning("the cache of run %s is damaged: the run is a full one", run_id)
                return None
            frames[name] = read_frame(path)
            if name in MAPPED_FRAMES and path.suffix != ".arrow" and map_parquet is not None:
                frames[name] = map_parquet(frames[name])
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError, pa.ArrowException):
        return None
    return frames


def discard_run_caches(root: Path, database: str, run_ids: Iterable[str]) -> list[str]:
    """Delete the caches of ``run_ids`` in this database (retention purging those runs); the ids that had one."""
    found = []
    for run_id in run_ids:
        folder = _run_cache_dir(root, database) / run_id
        if _SAFE_NAME.match(run_id) and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            found.append(run_id)
    return found
