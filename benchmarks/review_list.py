"""Time the review app's candidate list and family page on a run of 5,000 candidates.

``python -m benchmarks.review_list [--candidates 5000] [--background 105000] [--db URL]``

It writes one synthetic run straight into a fresh store (no pipeline: a run with 5,000
candidates needs some 110,000 households, too slow to synthesise and link here): the
candidate households with members, records, links with match weights and evidence, plus
``--background`` households that are not candidates (so ``source_records`` has the size
of a real month), and decisions about a tenth of the candidates. It then signs in as a
coordinator and requests each page 30 times with FastAPI's TestClient, timing the
server side only (a middleware around the whole app: sessions, audit writes and template
rendering included). It writes its database's section of ``benchmarks/results/review.md``
(one section per backend: a run on SQLite leaves the PostgreSQL section as it was, and
the other way round) and prints it.

The target (issue 5) is a list page under 200 ms server time. SQLite by default (a file
in a temporary folder); a PostgreSQL URL (``--db postgresql+psycopg://...``) gets a
throw-away schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from fastapi import Request, Response
from sqlalchemy.engine import Engine, make_url

from tfident.review.app import Settings, create_app
from tfident.store import RunRecord, init_db, make_engine, metadata, write_run
from tfident.store.passwords import hash_password
from tfident.store.review import add_user

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about httpx2; the client works with httpx
    from fastapi.testclient import TestClient

RUN_ID = "R20261031-review00"
AS_OF = date(2026, 10, 31)
REQUESTS = 30
WARM_UP = 3
TARGET_MS = 200.0
RESULTS = Path(__file__).parent / "results" / "review.md"
PASSWORD = "benchmark password, long enough"

SURNAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
    "Clarke", "Khan", "Hughes", "Edwards", "Lewis", "Harris", "Martin", "Turner", "Hill", "Moore",
    "O'Brien", "Cooper", "Ward", "Morris", "King", "Baker", "Harrison", "Morgan", "Allen", "James",
    "Scott", "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell",
]  # fmt: skip
FORENAMES = [
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Noah", "Oliver", "George", "Leo", "Arthur",
    "Jack", "Harry", "Sophia", "Grace", "Lily", "Freya", "Muhammad", "Oscar", "Charlie", "Jacob",
]  # fmt: skip
SOURCES = ["school_census", "attendance", "benefits", "asb", "youth_offending", "police"]
CRITERIA = ["crime_asb;work", "education;work", "crime_asb;education", "crime_asb;education;work", "education;local"]
PERSONS_PER_HOUSEHOLD = 3
RECORDS_PER_PERSON = 2


def synthetic_frames(n_candidates: int, n_background: int) -> dict[str, pl.DataFrame]:
    """Frames of one run: ``n_candidates`` candidate households and ``n_background`` others."""
    n_households = n_candidates + n_background
    households = pl.DataFrame({"h": pl.int_range(n_households, eager=True)}).with_columns(
        household_id=pl.format("H{}", pl.col("h").cast(pl.String).str.zfill(7)),
        uprn=100_000_000_000 + pl.col("h"),
        address=pl.format("{} {} Street, Tenford", pl.col("h").mod(300) + 1, pl.col("h").mod(97)),
        postcode=pl.format(
            "TF{} {}{}",
            pl.col("h").mod(20) + 1,
            pl.col("h").mod(9) + 1,
            pl.col("h").mod(26).replace_strict(list(range(26)), [f"{chr(65 + i)}A" for i in range(26)]),
        ),
        n_members=pl.lit(PERSONS_PER_HOUSEHOLD, dtype=pl.Int64),
    )
    persons = (
        households.select("h", "household_id")
        .join(pl.DataFrame({"k": pl.int_range(PERSONS_PER_HOUSEHOLD, eager=True)}), how="cross")
        .with_columns(p=pl.col("h") * PERSONS_PER_HOUSEHOLD + pl.col("k"))
        .with_columns(
            person_id=pl.format("P{}", pl.col("p")),
            role=pl.when(pl.col("k") == 0).then(pl.lit("adult")).otherwise(pl.lit("child")),
            date_of_birth=pl.when(pl.col("k") == 0)
            .then(pl.date(1975, 1, 1) + pl.duration(days=pl.col("p").mod(7000)))
            .otherwise(pl.date(2008, 1, 1) + pl.duration(days=pl.col("p").mod(5000))),
        )
    )
    records = (
        persons.join(pl.DataFrame({"r": pl.int_range(RECORDS_PER_PERSON, eager=True)}), how="cross")
        .with_columns(n=pl.col("p") * RECORDS_PER_PERSON + pl.col("r"))
        .join(households.select("household_id", "address", "postcode", "uprn"), on="household_id")
        .with_columns(
            source=pl.col("n").mod(len(SOURCES)).replace_strict(list(range(len(SOURCES))), SOURCES),
            record_id=pl.format("REC{}", pl.col("n")),
            forename=pl.col("p").mod(len(FORENAMES)).replace_strict(list(range(len(FORENAMES))), FORENAMES),
            surname=pl.col("h").mod(len(SURNAMES)).replace_strict(list(range(len(SURNAMES))), SURNAMES),
            middle_names=pl.lit(None, dtype=pl.String),
            sex=pl.when(pl.col("p").mod(2) == 0).then(pl.lit("F")).otherwise(pl.lit("M")),
            uprn_matched=pl.col("uprn"),
            address_match=pl.lit("exact"),
            evidence_date=pl.date(2026, 1, 1) + pl.duration(days=pl.col("n").mod(270)),
        )
        .with_columns(record_key=pl.col("source") + ":" + pl.col("record_id"))
    )
    by_person = (
        records.sort("n")
        .group_by("person_id", maintain_order=True)
        .agg(
            pl.col("record_key").first().alias("record_key_l"),
            pl.col("record_key").last().alias("record_key_r"),
            pl.col("p").first(),
        )
    )
    weights = [
        json.dumps({"prior": -8.1, "forename": 2.4 + (i % 5) / 2, "surname": 6.0, "dob": 7.1, "postcode": -1.2 + i % 3})
        for i in range(16)
    ]
    links = by_person.with_columns(
        match_probability=(pl.col("p").mod(500).cast(pl.Float64) / 1000 + 0.5),
        match_rule=pl.when(pl.col("p").mod(3) == 0).then(pl.lit("name_dob")).otherwise(pl.lit("model")),
        match_weights_json=pl.when(pl.col("p").mod(3) == 0)
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("p").mod(16).replace_strict(list(range(16)), weights)),
    )
    candidate_households = households.filter(pl.col("h") < n_candidates)
    min_link = (
        links.join(persons.select("person_id", "household_id"), on="person_id")
        .group_by("household_id")
        .agg(pl.col("match_probability").min().alias("min_link_probability"))
    )
    candidates = candidate_households.join(min_link, on="household_id", how="left").with_columns(
        rank=pl.col("h") + 1,
        score=(10.0 - pl.col("h").cast(pl.Float64) * 8.0 / n_candidates).round(3),
        criteria_met=pl.col("h").mod(len(CRITERIA)).replace_strict(list(range(len(CRITERIA))), CRITERIA),
        eligibility=pl.when(pl.col("h").mod(4) == 0).then(pl.lit("must_include")).otherwise(pl.lit("may_include")),
        estimated_annual_cost=30_000.0 + pl.col("h").mod(20).cast(pl.Float64) * 1000,
    )
    evidence = (
        candidates.select("household_id", "h", "criteria_met")
        .with_columns(criterion=pl.col("criteria_met").str.split(";"))
        .explode("criterion")
        .with_columns(
            rule_id=pl.col("criterion") + ".synthetic_rule",
            person_id=pl.format("P{}", pl.col("h") * PERSONS_PER_HOUSEHOLD),
            source=pl.lit("benefits"),
            record_id=pl.format("REC{}", pl.col("h") * PERSONS_PER_HOUSEHOLD * RECORDS_PER_PERSON),
            event_date=pl.date(2026, 5, 1),
            value=pl.lit("JSA"),
            detail=pl.lit("synthetic evidence"),
        )
    )
    return {
        "source_records": records,
        "persons": persons,
        "links": links,
        "households": households,
        "candidates": candidates,
        "criteria_evidence": evidence,
    }


DECISION_KINDS = ["accept", "reject", "defer", "known", "closed", "opted_out"]


def add_decisions(engine: Engine, n_candidates: int) -> int:
    """Decisions about every tenth candidate (carried into the list's status), in one statement.

    Each kind in turn, so half of them (attached, closed, opted out) take their family off
    the default list.
    """
    rows = []
    for h in range(0, n_candidates, 10):
        kind = DECISION_KINDS[(h // 10) % len(DECISION_KINDS)]
        rows.append(
            {
                "household_id": f"H{h:07d}",
                "run_id": RUN_ID,
                "decision": kind,
                "reason": "synthetic" if kind == "reject" else None,
                "lead_agency": "Early Help" if kind == "accept" else None,
                "worker": "A Worker" if kind == "accept" else None,
                "note": None,
                "closure_reason": "outcomes_achieved" if kind == "closed" else None,
                "username": "bench",
                "created_at": datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
            }
        )
    with engine.begin() as connection:
        connection.execute(metadata.tables["decisions"].insert(), rows)
    return len(rows)


@contextmanager
def database(url: str | None) -> Iterator[Engine]:
    """An engine on a fresh database: an SQLite file, or a throw-away PostgreSQL schema."""
    with tempfile.TemporaryDirectory() as folder:
        if url is None or not url.startswith("postgresql"):
            engine = make_engine(url or f"sqlite:///{Path(folder) / 'review-bench.db'}")
            try:
                yield engine
            finally:
                engine.dispose()
            return
        schema = f"tfident_bench_{secrets.token_hex(4)}"
        admin = sa.create_engine(url)
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(
            make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
        )
        try:
            yield engine
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def main() -> None:
    """Build the store, time the pages, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=5000)
    parser.add_argument("--background", type=int, default=105_000, help="households that are not candidates")
    parser.add_argument("--db", help="SQLAlchemy URL; default: a new SQLite file in a temporary folder")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with database(args.db) as engine:
        init_db(engine)
        version = database_version(engine)
        started = time.perf_counter()
        frames = synthetic_frames(args.candidates, args.background)
        record = RunRecord(
            run_id=RUN_ID,
            as_of=AS_OF,
            ruleset_id="phase1",
            ruleset_version="TF1_2012",
            linkage_model_version="bench",
            config_json=json.dumps({"linkage": {"match_threshold": 0.6, "review_threshold": 0.9}}),
            config_hash="0" * 64,
            summary={"candidates": args.candidates, "households": args.candidates + args.background},
        )
        write_run(engine, record, frames)
        n_decisions = add_decisions(engine, args.candidates)
        add_user(engine, "coordinator", "coordinator", hash_password(PASSWORD))
        built = time.perf_counter() - started
        sizes = {name: frame.height for name, frame in frames.items()}
        print(f"built the store in {built:.1f}s: {sizes}, {n_decisions} decisions", flush=True)

        app = create_app(engine, Settings(secret_key=secrets.token_urlsafe(32)))
        timings: list[float] = []

        @app.middleware("http")
        async def server_time(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            begun = time.perf_counter()
            response = await call_next(request)
            timings.append(time.perf_counter() - begun)
            return response

        family = f"H{min(41, args.candidates - 1):07d}"
        pair_left = f"{SOURCES[(41 * 6) % len(SOURCES)]}:REC{41 * 6}"
        pair_right = f"{SOURCES[(41 * 6 + 1) % len(SOURCES)]}:REC{41 * 6 + 1}"
        runs = f"/runs/{RUN_ID}/candidates"
        cases = [
            ("candidate list, default page (to consider)", runs),
            ("candidate list, any status", f"{runs}?status=all"),
            ("candidate list, page 60", f"{runs}?page=60"),
            ("candidate list, filtered (criterion, status, area)", f"{runs}?criterion=education&status=new&area=TF3"),
            ("candidate list, search by surname", f"{runs}?q=patel"),
            ("candidate list, search by full name", f"{runs}?q=oliver+smith"),
            ("candidate list, search by postcode", f"{runs}?q=TF3+4"),
            ("candidate list, sorted by score ascending", f"{runs}?sort=score&dir=asc"),
            ("candidate list, sorted by lowest link", f"{runs}?sort=link&dir=asc&page=3"),
            ("family page", f"/families/{family}?run={RUN_ID}"),
            ("record-pair page", f"/pairs?run={RUN_ID}&left={pair_left}&right={pair_right}"),
        ]
        results = []
        with TestClient(app, follow_redirects=False) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert token, "no CSRF token on the sign-in page"
            signed = client.post(
                "/login", data={"username": "coordinator", "password": PASSWORD, "csrf_token": token.group(1)}
            )
            assert signed.status_code == 303, signed.text
            for label, path in cases:
                for _ in range(WARM_UP):
                    assert client.get(path).status_code == 200, path
                timings.clear()
                for _ in range(REQUESTS):
                    response = client.get(path)
                    assert response.status_code == 200, path
                ms = [t * 1000 for t in timings]
                results.append((label, path, statistics.median(ms), percentile(ms, 0.95)))
                print(f"{label}: median {results[-1][2]:.1f} ms, p95 {results[-1][3]:.1f} ms", flush=True)

    list_p95 = max(p95 for label, _, _, p95 in results if label.startswith("candidate list"))
    command = "python -m benchmarks.review_list"
    if args.db:
        command += f" --db {make_url(args.db).render_as_string(hide_password=True)}"
    if (args.candidates, args.background) != (5000, 105_000):
        command += f" --candidates {args.candidates} --background {args.background}"
    backend = engine.dialect.name
    load_after = os.getloadavg()[0]
    busy = " (other work was running on the machine: times are inflated)" if max(load_before, load_after) > 1.5 else ""
    section = [
        f"## {BACKEND_TITLES.get(backend, backend)}",
        "",
        f"- Command: `{command}`",
        f"- Database: {version}; run of {args.candidates:,} candidates, "
        f"{args.candidates + args.background:,} households, {sizes['source_records']:,} source records, "
        f"{sizes['links']:,} links; {n_decisions:,} decisions (a sixth each of accept, reject, defer, known, "
        "closed, opted out)",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()}; {datetime.now(UTC):%Y-%m-%d}; 1-minute load average {load_before:.1f} before, "
        f"{load_after:.1f} after{busy}",
        f"- Target: candidate list under {TARGET_MS:.0f} ms. Slowest list p95: {list_p95:.1f} ms "
        f"({'met' if list_p95 < TARGET_MS else 'NOT met'}).",
        "",
        "| page | request | p50 ms | p95 ms |",
        "|---|---|---:|---:|",
        *(f"| {label} | `{path}` | {median:.1f} | {p95:.1f} |" for label, path, median, p95 in results),
        "",
    ]
    text = merge_results(args.output, backend, "\n".join(section))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)


BACKEND_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
HEADER = [
    "# Review app benchmark (`python -m benchmarks.review_list [--db URL]`)",
    "",
    f"Server time per request (FastAPI TestClient, a timing middleware around the whole app: session, "
    f"queries, audit write, rendering), {REQUESTS} requests each after {WARM_UP} warm-up requests; "
    "p50 is the median. One section per database, each written by its own run.",
    "",
]


def database_version(engine: Engine) -> str:
    """``SQLite <version>`` of the library, or ``PostgreSQL <version>`` of the server."""
    if engine.dialect.name != "postgresql":
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.connect() as connection:
        return "PostgreSQL " + str(connection.execute(sa.text("SHOW server_version")).scalar())


def merge_results(path: Path, backend: str, section: str) -> str:
    """The results file with ``backend``'s section replaced (or added), the other backends' kept."""
    sections: dict[str, str] = {}
    if path.exists():
        for part in re.split(r"^(?=## )", path.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]:
            title = part.splitlines()[0][3:].strip()
            sections[title] = part.rstrip("\n") + "\n"
    sections[BACKEND_TITLES.get(backend, backend)] = section
    order = [*BACKEND_TITLES.values(), *sorted(set(sections) - set(BACKEND_TITLES.values()))]
    return "\n".join(HEADER) + "\n" + "\n".join(sections[title] for title in order if title in sections)


if __name__ == "__main__":
    main()
