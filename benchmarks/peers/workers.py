"""The child process of the linkage benchmark: one linker on one prepared dataset.

The parent (``benchmarks.linkage``) writes a work folder holding ``meta.json``, the
peers' input ``peers.parquet`` and tfident's input ``extracts/<source>.parquet``, then
starts :func:`run_linker` in a fresh ``spawn`` process per linker, so that the peak
resident set one linker reaches (``ru_maxrss`` of its own process) is not inherited by
the next. The child writes ``out_<linker>.parquet`` (``record_key, cluster`` for a
clustering linker, ``record_key_l, record_key_r`` for a pairwise one; a linker that
forms households also writes ``out_<linker>_households.parquet``, ``record_key, cluster``) and
``result_<linker>.json`` (wall time of the linkage alone, pairs compared, peak and
baseline resident set in MiB).
"""

from __future__ import annotations

import importlib
import json
import logging
import resource
import time
import traceback
from pathlib import Path
from typing import Any

LINKERS: dict[str, str] = {
    "tfident": "benchmarks.peers.tfident_linker",
    "splink_competent": "benchmarks.peers.splink_competent",
    "splink_plain": "benchmarks.peers.splink_plain",
    "recordlinkage": "benchmarks.peers.recordlinkage_plain",
}
"""Linker name -> module with ``prepare(work, meta)``, ``link(state, meta)`` and
``pairs_compared(state, meta, out)``."""


def rss_mib() -> float:
    """Peak resident set of this process so far, in MiB.

    ``VmHWM`` from ``/proc/self/status`` where there is one: it belongs to this process's
    own address space, whereas ``ru_maxrss`` survives ``fork`` + ``exec``, so a spawned
    child would report its parent's peak whenever that is higher. Elsewhere ``ru_maxrss``
    (KiB on Linux).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_linker(name: str, work: str) -> None:
    """Run linker ``name`` on the dataset prepared in ``work`` (the child's entry point)."""
    folder = Path(work)
    result: dict[str, Any] = {"linker": name, "status": "ok"}
    try:
        logging.basicConfig(level=logging.WARNING)
        logging.getLogger("splink").setLevel(logging.WARNING)
        meta = json.loads((folder / "meta.json").read_text())
        module = importlib.import_module(LINKERS[name])
        state = module.prepare(folder, meta)
        result["baseline_rss_mib"] = round(rss_mib(), 1)
        started = time.perf_counter()
        out = module.link(state, meta)
        result["seconds"] = round(time.perf_counter() - started, 3)
        result["peak_rss_mib"] = round(rss_mib(), 1)
        result["output"] = out["kind"]
        result.update(out.get("extra", {}))
        out["frame"].write_parquet(folder / f"out_{name}.parquet")
        if "pairs_frame" in out:
            out["pairs_frame"].write_parquet(folder / f"out_{name}_pairs.parquet")
        if "households_frame" in out:
            out["households_frame"].write_parquet(folder / f"out_{name}_households.parquet")
        result["pairs_compared"] = int(module.pairs_compared(state, meta, out))
    except Exception as error:  # reported to the parent, which records it in the results
        result["status"] = "error"
        result["error"] = f"{type(error).__name__}: {error}"
        result["traceback"] = traceback.format_exc()
    (folder / f"result_{name}.json").write_text(json.dumps(result, indent=2))
