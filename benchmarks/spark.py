"""Spark benchmark: ``make bench-spark`` (``python -m benchmarks.spark``).

For each size, tfident's linkage stage (``tfident.pipeline.link_stage``, the function a
monthly run calls) on the same person records three ways:

- ``duckdb``: the default backend, in process;
- ``local``: ``backend: spark`` with ``spark_master: local[2]`` (one driver JVM whose
  executor threads share its heap);
- ``cluster``: ``backend: spark`` on a Spark standalone master and two workers (one core
  each) on 127.0.0.1, started with the pyspark package's own ``spark-class``
  (:mod:`benchmarks.spark_cluster`, as ``make test-cluster`` starts it): the executors
  are separate JVMs, as on a real cluster.

The records are made as the linkage benchmark makes its ``--sizes`` / ``--million``
batches (:func:`benchmarks.linkage.synthetic_persons`: ``generate_batch`` with seed 2026,
written, read back through ingest, standardised and address-matched; households =
records / 5.5), once per size, in a child process, and saved as Parquet
(``--data DIR`` keeps them for the next run).

Each backend runs in a fresh ``spawn`` child. Measured: wall seconds of the stage, and
of its backend part (``pair_gammas``: Splink's blocking and comparison levels, the part
Spark runs; the rest, scoring, clustering and the links, is the same polars code in the
driver on every backend; the committed model is frozen, so the stage trains nothing);
Spark's session start apart (and the cluster's start); the peak resident memory of the
driver's Python (its ``VmHWM``) and of every JVM (driver JVM, master, workers,
executors), sampled from ``/proc`` every ``--interval`` seconds (each process's
``VmHWM``, the kernel's high-water mark, as last read before it exits; and the largest
sum of all of them at one sample); persons and links; and whether the persons, the
links and their probabilities equal DuckDB's. Writes ``benchmarks/results/spark.json``
and ``spark.md`` with the machine's facts, the commit, the load average before each run
and the command.

Sizes in person records: ``--sizes`` (1,000,000 and 3,000,000 by default, the issue's; ``make
bench-spark`` runs 1,000,000 unless ``SPARK_RECORDS`` says otherwise). ``--backends`` picks
and orders the backends (DuckDB, the baseline, always runs first); ``--timeout`` stops a
backend that runs longer (the report says so); the JVMs' heaps are options
(:class:`Memory`). Results are written after each backend, so a stopped run keeps what it
measured.

``--quick``: 2,000 records, every backend, small JVMs (the smoke test's run; writes nothing
unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")
DEFAULT_SIZES = (1_000_000, 3_000_000)
BACKENDS = ("duckdb", "local", "cluster")
WORKERS = 2
TOLERANCE = 1e-9
KEYS = ["record_key_l", "record_key_r", "match_rule"]


@dataclass(frozen=True)
class Memory:
    """The JVMs' heaps: ``local[2]``'s driver (its executors are threads of it), the cluster's
    driver (it only collects results) and each cluster executor; ``max_result`` is
    ``spark.driver.maxResultSize`` (the comparison levels of every blocked pair come back to
    the driver: 0.5 GB at a million records, more than Spark's default 1g at three million).
    """

    local_driver: str = "6g"
    cluster_driver: str = "3g"
    executor: str = "3g"
    max_result: str = "8g"


QUICK_MEMORY = Memory(local_driver="1g", cluster_driver="1g", executor="1g", max_result="1g")


def spark_settings(backend: str, memory: Memory, partitions: int) -> dict[str, str]:
    """The ``spark_config`` of a Spark backend (tfident's own defaults come first)."""
    settings = {
        "spark.ui.enabled": "false",
        "spark.driver.maxResultSize": memory.max_result,
        "spark.sql.shuffle.partitions": str(partitions),
        "spark.default.parallelism": str(partitions),
    }
    if backend == "local":
        return {**settings, "spark.driver.memory": memory.local_driver}
    return {
        **settings,
        # the driver listens on loopback, where the executors reach it
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.memory": memory.cluster_driver,
        "spark.executor.memory": memory.executor,
        "spark.executor.cores": "1",
        "spark.cores.max": str(WORKERS),
    }


# ------------------------------------------------------------------------------ children


def _status(pid: int | str = "self") -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of a process in KiB (empty when it is gone)."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, value = line.split(":", 1)
            out[name] = int(value.split()[0])
    return out


def _mib(kib: int | None) -> float:
    return round((kib or 0) / 1024, 1)


def generate(records: int, seed: int, path: str) -> dict[str, Any]:
    """Child: the person records of a synthetic batch of about ``records`` records, saved to ``path``."""
    from benchmarks.linkage import RECORDS_PER_HOUSEHOLD, synthetic_persons

    started = time.perf_counter()
    households = max(1, round(records / RECORDS_PER_HOUSEHOLD))
    _, _, persons = synthetic_persons(households, seed, Path(path).with_suffix(".batch"))
    persons.write_parquet(path)
    return {
        "households": households,
        "records": persons.height,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_mib": _mib(_status().get("VmHWM")),
    }


def run_backend(backend: str, settings: dict[str, str], master: str, paths: dict[str, str]) -> None:
    """Child: the linkage stage on one backend; its figures to ``paths["result"]``, its persons and
    links to ``paths["index"]`` and ``paths["links"]``.
    """
    result: dict[str, Any] = {"backend": backend, "status": "error"}
    try:
        result.update(_link(backend, settings, master, paths))
        result["status"] = "ok"
    except BaseException as error:  # the parent reports it
        result["error"] = f"{type(error).__name__}: {error}"
        result["traceback"] = traceback.format_exc()
    Path(paths["result"]).write_text(json.dumps(result))


def _link(backend: str, settings: dict[str, str], master: str, paths: dict[str, str]) -> dict[str, Any]:
    import polars as pl

    import tfident.link
    from tfident.link import load_linkage_config
    from tfident.link.backends.spark import spark_session, stop_spark
    from tfident.pipeline import link_stage

    persons = pl.read_parquet(paths["records"])
    config = load_linkage_config()
    out: dict[str, Any] = {"baseline_mib": _mib(_status().get("VmRSS"))}
    if backend != "duckdb":
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        config = config.model_copy(
            update={
                "backend": "spark",
                "spark_master": master,
                "spark_config": settings,
                "spark_checkpoint_dir": "" if master.startswith("local") else paths["checkpoints"],
            }
        )
        started = time.perf_counter()
        session = spark_session(config)
        out["session_seconds"] = round(time.perf_counter() - started, 2)
        conf = session.sparkContext.getConf()
        out["spark_settings"] = {k: v for k, v in sorted(conf.getAll()) if k in settings or k == "spark.master"}
        jvm: Any = session.sparkContext._jvm
        out["driver_jvm_max_heap_mib"] = round(jvm.java.lang.Runtime.getRuntime().maxMemory() / 2**20)

    backend_seconds: list[float] = []
    blocked: list[int] = []
    pair_gammas = tfident.link.pair_gammas

    def timed_pair_gammas(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        gammas = pair_gammas(*args, **kwargs)
        backend_seconds.append(time.perf_counter() - started)
        blocked.append(gammas.height)
        return gammas

    tfident.link.pair_gammas = timed_pair_gammas
    started = time.perf_counter()
    index, links, *_ = link_stage(persons, config)
    out["stage_seconds"] = round(time.perf_counter() - started, 2)
    tfident.link.pair_gammas = pair_gammas
    out["backend_seconds"] = round(sum(backend_seconds), 2)
    out["rest_seconds"] = round(out["stage_seconds"] - out["backend_seconds"], 2)
    out["pairs_blocked"] = sum(blocked)
    if backend != "duckdb":
        out["executors"] = session.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - (
            0 if master.startswith("local") else 1
        )
        stop_spark()
    out["records"] = persons.height
    out["persons"] = index["person_id"].n_unique()
    out["links"] = links.height
    out["splink_links"] = links.filter(pl.col("match_rule") == "splink").height
    out["driver_python_peak_mib"] = _mib(_status().get("VmHWM"))
    index.write_parquet(paths["index"])
    links.select(*KEYS, "match_probability", "match_weights_json").write_parquet(paths["links"])
    return out


# ------------------------------------------------------------------------------ memory sampling


def _processes() -> dict[int, tuple[int, str]]:
    """Every process's parent and command line."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out[int(entry.name)] = (ppid, cmdline)
    return out


def _descendants(pid: int, processes: dict[int, tuple[int, str]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, (parent, _) in processes.items():
        children.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def role(pid: int, cmdline: str, driver: int, daemons: dict[int, str]) -> str | None:
    """What process ``pid`` is to the benchmark: ``driver_python``, ``driver_jvm``, ``master``,
    ``worker``, ``executor``, or None (a process of the tree that is none of these: a shell, the launcher).
    """
    if pid == driver:
        return "driver_python"
    if pid in daemons:
        return "master" if daemons[pid] == "master" else "worker"
    if "org.apache.spark.launcher.Main" in cmdline:  # spark-submit's short-lived launcher, which builds the command
        return None
    if "CoarseGrainedExecutorBackend" in cmdline:
        return "executor"
    if "java" in cmdline.split(" ", 1)[0] and "SparkSubmit" in cmdline:
        return "driver_jvm"
    return None


@dataclass
class Sampler:
    """Samples, every ``interval`` s, the resident memory of the driver process, its JVM, the cluster's
    daemons and their executors (a background thread; :meth:`stop` returns the peaks, MiB).
    """

    driver: int
    daemons: dict[int, str]
    interval: float = 0.5
    peaks: dict[int, tuple[str, int]] = field(default_factory=dict)  # pid -> (role, VmHWM KiB)
    total_peak: int = 0  # KiB: the largest sum of every process's VmRSS at one sample
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        processes = _processes()
        roots = [self.driver, *self.daemons]
        pids = {p for root in roots if root in processes for p in (root, *_descendants(root, processes))}
        total = 0
        for pid in pids:
            name = role(pid, processes[pid][1], self.driver, self.daemons)
            status = _status(pid)
            if name is None or not status:
                continue
            total += status.get("VmRSS", 0)
            self.peaks[pid] = (name, max(status.get("VmHWM", 0), self.peaks.get(pid, (name, 0))[1]))
        self.total_peak = max(self.total_peak, total)
        self.samples += 1

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        by_role: dict[str, list[float]] = {}
        for name, hwm in self.peaks.values():
            by_role.setdefault(name, []).append(_mib(hwm))
        return {
            "peak_mib": {name: sorted(values, reverse=True) for name, values in sorted(by_role.items())},
            "jvm_peak_mib_sum": round(sum(sum(v) for k, v in by_role.items() if k != "driver_python"), 1),
            "all_rss_peak_mib": _mib(self.total_peak),
            "samples": self.samples,
        }


# ------------------------------------------------------------------------------ running


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return _mib(int(line.split()[1]))
    return 0.0


def run_child(
    backend: str,
    settings: dict[str, str],
    master: str,
    paths: dict[str, str],
    daemons: dict[int, str],
    timeout: float,
    interval: float,
) -> dict[str, Any]:
    """One backend in a fresh spawned process, its memory sampled; its figures (or why it failed)."""
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=run_backend, args=(backend, settings, master, paths))
    before = {"load_before": _load(), "available_mib_before": _available_mib()}
    started = time.perf_counter()
    process.start()
    assert process.pid is not None
    sampler = Sampler(process.pid, daemons, interval).start()
    try:
        process.join(timeout)
    finally:
        if process.is_alive():  # a timeout, or this benchmark stopped: the child and the JVM it started, by id
            for pid in _descendants(process.pid, _processes()):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            process.kill()
            process.join()
        memory = sampler.stop()
    path = Path(paths["result"])
    if path.exists():
        result: dict[str, Any] = json.loads(path.read_text())
    else:
        result = {
            "backend": backend,
            "status": "timeout" if process.exitcode is None or process.exitcode < 0 else "error",
        }
        result["error"] = (
            f"stopped after {timeout:.0f} s" if result["status"] == "timeout" else f"exit {process.exitcode}"
        )
    return {**result, **before, "process_seconds": round(time.perf_counter() - started, 1), "memory": memory}


def compare(paths: dict[str, str], baseline: dict[str, str]) -> dict[str, Any]:
    """Whether a backend's persons, links and probabilities equal DuckDB's (``baseline``)."""
    import polars as pl

    index, links = pl.read_parquet(paths["index"]), pl.read_parquet(paths["links"])
    index0, links0 = pl.read_parquet(baseline["index"]), pl.read_parquet(baseline["links"])
    same_links = links.select(KEYS).equals(links0.select(KEYS))
    out: dict[str, Any] = {"same_persons": index.equals(index0), "same_links": same_links}
    if same_links:
        difference = (links["match_probability"] - links0["match_probability"]).abs().max()
        out["max_probability_difference"] = float(difference) if isinstance(difference, float) else 0.0
        out["same_probabilities"] = out["max_probability_difference"] <= TOLERANCE
        out["same_weights_json"] = links["match_weights_json"].equals(links0["match_weights_json"])
    else:
        joined = links.join(links0, on=KEYS[:2], how="full", coalesce=True, suffix="_duckdb")
        out["links_only_here"] = joined.filter(pl.col("match_rule_duckdb").is_null()).height
        out["links_only_in_duckdb"] = joined.filter(pl.col("match_rule").is_null()).height
        out["same_probabilities"] = False
    return out


def bench_size(
    records: int,
    args: argparse.Namespace,
    memory: Memory,
    work: Path,
    data: Path,
    sizes: list[dict[str, Any]],
    save: Any = lambda: None,
    log: Any = print,
) -> None:
    """Every backend on one batch of about ``records`` records, appended to ``sizes``; ``save()``
    after each backend (so a stopped run keeps what it measured).
    """
    from benchmarks.run import _child
    from benchmarks.spark_cluster import start_cluster

    path = data / f"persons_{records}_{args.seed}.parquet"
    meta = data / f"persons_{records}_{args.seed}.json"
    if path.exists() and meta.exists():
        generated = {**json.loads(meta.read_text()), "reused": True}
        log(f"{records:,} records: reusing {path}")
    else:
        log(f"{records:,} records: generating (load {_load()}) ...")
        generated = _child(generate, records, args.seed, str(path))
        meta.write_text(json.dumps(generated))
        log(f"  {generated['records']:,} person records in {generated['seconds']} s")
    size: dict[str, Any] = {"target_records": records, "seed": args.seed, "generated": generated, "backends": []}
    sizes.append(size)
    baseline: dict[str, str] | None = None
    for backend in args.backends:
        folder = work / f"{records}_{backend}"
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "records": str(path),
            "result": str(folder / "result.json"),
            "index": str(folder / "index.parquet"),
            "links": str(folder / "links.parquet"),
            "checkpoints": str(folder / "checkpoints"),
        }
        settings = {} if backend == "duckdb" else spark_settings(backend, memory, args.partitions)
        cluster = None
        master = "local[2]"
        extra: dict[str, Any] = {}
        if backend == "cluster":
            started = time.perf_counter()
            cluster = start_cluster(
                folder / "cluster", workers=WORKERS, cores=1, memory=memory.executor, daemon_java_opts=""
            )
            master = cluster.url
            extra["cluster_start_seconds"] = round(time.perf_counter() - started, 1)
            extra["cluster"] = {"workers": WORKERS, "cores_per_worker": 1, "worker_memory": memory.executor}
        log(f"  {backend}: linking (load {_load()}, {_available_mib():,.0f} MiB available) ...")
        try:
            daemons = {} if cluster is None else {pid: name for name, pid in cluster.pids().items()}
            result = run_child(backend, settings, master, paths, daemons, args.timeout, args.interval)
        finally:
            if cluster is not None:
                cluster.stop()
        if cluster is not None:  # how each executor ended (a lost executor is replaced by its worker)
            extra["executor_ends"] = [
                line.split(" INFO ", 1)[-1]
                for log in sorted(cluster.folder.glob("worker*.log"))
                for line in log.read_text(errors="replace").splitlines()
                if "finished with state" in line or "Asked to kill executor" in line
            ]
        result.update(extra)
        if result["status"] == "ok":
            if backend == "duckdb":
                baseline = paths
            elif baseline is not None:
                result["versus_duckdb"] = compare(paths, baseline)
            m = result["memory"]["peak_mib"]
            log(
                f"    stage {result['stage_seconds']} s (backend part {result['backend_seconds']} s), "
                f"{result['persons']:,} persons, {result['links']:,} links; peak MiB {m}; "
                f"{result.get('versus_duckdb', '')}"
            )
        else:
            log(f"    {result['status']}: {result.get('error')}")
            if cluster is not None:
                result["cluster_logs"] = cluster.logs(1000)
        size["backends"].append(result)
        save()


# ------------------------------------------------------------------------------ report


def environment() -> dict[str, Any]:
    """The machine and the versions."""
    import duckdb
    import polars as pl
    import pyspark
    import splink

    def run(*command: str) -> str:
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=Path(__file__).parent)
        return (done.stdout + done.stderr).strip()

    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:")), 0)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": run("git", "rev-parse", "--short", "HEAD"),
        "dirty": bool(run("git", "status", "--porcelain", "--untracked-files=no")),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(total / 2**20, 1),
        "available_mib": _available_mib(),
        "load": _load(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java": run("java", "-version").splitlines()[0] if shutil.which("java") else "-",
        "pyspark": pyspark.__version__,
        "splink": splink.__version__,
        "duckdb": duckdb.__version__,
        "polars": pl.__version__,
    }


LABELS = {"duckdb": "DuckDB", "local": "Spark local[2]", "cluster": "Spark standalone (2 workers)"}


def _peak(memory: dict[str, Any], name: str) -> str:
    values = memory["peak_mib"].get(name)
    if not values:
        return "-"
    return " + ".join(f"{v:,.0f}" for v in values)


def _same(result: dict[str, Any]) -> str:
    if result["backend"] == "duckdb":
        return "(baseline)"
    v = result.get("versus_duckdb")
    if not v:
        return "-"
    if not v["same_links"]:
        return f"persons {v['same_persons']}, links differ (+{v['links_only_here']} / -{v['links_only_in_duckdb']})"
    return (
        f"persons {v['same_persons']}, links {v['same_links']}, probabilities {v['same_probabilities']} "
        f"(max diff {v['max_probability_difference']:.1e})"
    )


def markdown(report: dict[str, Any]) -> str:
    """The results as Markdown."""
    env, memory = report["environment"], report["memory"]
    lines = [
        "# Spark benchmark (`make bench-spark`, `python -m benchmarks.spark`)",
        "",
        f"Run {env['date']} at {env['commit']}{' (with uncommitted changes)' if env['dirty'] else ''} on "
        f"{env['cpus']} CPUs ({env['cpu']}), {env['memory_gib']} GiB; {env['available_mib']:,.0f} MiB available "
        f"and load average {env['load']} at the start. Python {env['python']}, {env['java']}, "
        f"PySpark {env['pyspark']}, Splink {env['splink']}, DuckDB {env['duckdb']}, polars {env['polars']}.",
        "",
        f"Command: `{report['command']}`. Total {report['total_seconds']:,.0f} s"
        + ("." if report.get("complete") else " so far: **stopped before the end**, the rows below are what finished."),
        "",
        "tfident's linkage stage (`tfident.pipeline.link_stage`) on the same synthetic person records, on "
        "each backend, each in a fresh process. *Backend part*: Splink's blocking and comparison levels "
        "(`pair_gammas`), the part that runs on Spark; the rest of the stage (scoring, clustering, links) "
        "is the same polars code in the driver on every backend. The committed model is frozen: the "
        "stage trains nothing. Memory: each process's peak resident set (`VmHWM`, sampled from /proc "
        f"every {report['interval']} s); several figures joined by + are several processes.",
        "",
        f"Spark memory: `local[2]` driver `spark.driver.memory={memory['local_driver']}`; standalone: two "
        f"workers of one core and `--memory {memory['executor']}`, `spark.executor.memory={memory['executor']}`, "
        f"`spark.driver.memory={memory['cluster_driver']}`; both `spark.driver.maxResultSize={memory['max_result']}`, "
        f"`spark.sql.shuffle.partitions={report['partitions']}`. The master's and workers' own JVMs "
        "have Spark's default daemon heap (1g).",
        "",
    ]
    for size in report["sizes"]:
        g = size["generated"]
        lines += [
            f"## {g['records']:,} records ({g['households']:,} households, seed {size['seed']})",
            "",
            f"Generated in {g['seconds']} s{' (an earlier run; reused)' if g.get('reused') else ''}.",
            "",
            "| backend | load before | Spark start s | stage s | backend part s | rest s | pairs blocked | persons "
            "| links | driver Python peak MiB | driver JVM | master | workers | executors | all at once MiB "
            "| same as DuckDB |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in size["backends"]:
            label = LABELS[r["backend"]]
            if r["status"] != "ok":
                lines.append(f"| {label} | {r['load_before']} | {r['status']}: {r.get('error', '')} |" + " |" * 13)
                continue
            m = r["memory"]
            start = r.get("session_seconds")
            if "cluster_start_seconds" in r:
                start = f"{r['cluster_start_seconds']} + {start}"
            cells = [
                label,
                r["load_before"],
                "-" if start is None else str(start),
                f"**{r['stage_seconds']}**",
                str(r["backend_seconds"]),
                str(r["rest_seconds"]),
                f"{r['pairs_blocked']:,}",
                f"{r['persons']:,}",
                f"{r['links']:,}",
                f"{max([r['driver_python_peak_mib'], *m['peak_mib'].get('driver_python', [])]):,.0f}",
                _peak(m, "driver_jvm"),
                _peak(m, "master"),
                _peak(m, "worker"),
                _peak(m, "executor"),
                f"{m['all_rss_peak_mib']:,.0f}",
                _same(r),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [NOTES]
    return "\n".join(lines)


NOTES = """## Reading it

- *Spark start s*: starting the session (the driver JVM; on the cluster, the
  application's registration with the master), outside the stage; on the cluster, the
  master's and workers' start first (`a + b`). *All at once*: the largest sum of the
  resident sets of the driver's Python and every JVM at one sample.
- The machine has two cores: `local[2]` and the two one-core workers have the same two
  cores as DuckDB's threads, so this measures what Spark costs, not what a cluster of
  several machines gains. On one machine the cluster pays for moving every row between
  JVMs (shuffles over loopback, the comparison levels sent to the driver) that `local[2]`
  keeps in one heap.
- Wall times are from one run each on a shared machine; the load average before each run
  is given.
"""


def _stopped(signum: int, frame: Any) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and write its results; returns the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spark", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="person records per batch")
    parser.add_argument(
        "--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS), help="run in this order (DuckDB first)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--quick", action="store_true", help="2,000 records, small JVMs (the smoke test)")
    parser.add_argument(
        "--out", type=Path, help="folder for spark.json and spark.md (benchmarks/results; --quick: none)"
    )
    parser.add_argument("--data", type=Path, help="keep the generated records here and reuse them")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed to one backend on one size")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between memory samples")
    parser.add_argument("--partitions", type=int, default=4, help="spark.sql.shuffle.partitions")
    parser.add_argument("--local-driver-memory", default=Memory.local_driver)
    parser.add_argument("--cluster-driver-memory", default=Memory.cluster_driver)
    parser.add_argument("--executor-memory", default=Memory.executor)
    parser.add_argument("--max-result-size", default=Memory.max_result)
    args = parser.parse_args(argv)
    memory = Memory(args.local_driver_memory, args.cluster_driver_memory, args.executor_memory, args.max_result_size)
    if args.quick:
        args.sizes, memory = [2000], QUICK_MEMORY
    args.backends = ["duckdb", *(b for b in dict.fromkeys(args.backends) if b != "duckdb")]  # in the order given

    started = time.perf_counter()
    report: dict[str, Any] = {
        "environment": environment(),
        "command": "python -m benchmarks.spark " + " ".join(sys.argv[1:] if argv is None else argv),
        "memory": memory.__dict__,
        "partitions": args.partitions,
        "interval": args.interval,
        "sizes": [],
    }
    work = Path(tempfile.mkdtemp(prefix="tfident-bench-spark-"))
    data = args.data or work / "data"
    data.mkdir(parents=True, exist_ok=True)
    out = args.out or (None if args.quick else RESULTS)
    signal.signal(signal.SIGTERM, _stopped)  # kill PID: stop the cluster and the children on the way out

    def save(complete: bool = False) -> str:
        report["complete"] = complete
        report["total_seconds"] = round(time.perf_counter() - started, 1)
        report["load_after"] = _load()
        text = markdown(report)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "spark.json").write_text(json.dumps(report, indent=2) + "\n")
            (out / "spark.md").write_text(text + "\n")
        return text

    try:
        for records in args.sizes:
            bench_size(records, args, memory, work, data, report["sizes"], save, log=lambda m: print(m, flush=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(save(complete=True))
    return report


if __name__ == "__main__":
    main()
