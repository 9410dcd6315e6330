"""The ``tfident`` command line (data contract section 5).

Only this module catches ``TfidentError``: bad input exits 2 with one clear message,
a bug exits 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tfident.errors import TfidentError

app = typer.Typer(
    name="tfident",
    help="Find the families a Troubled Families / Supporting Families team should work with.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_state: dict[str, bool] = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])


class Criteria(StrEnum):
    """Rule packs the run command accepts."""

    phase1 = "phase1"
    phase2 = "phase2"


def _parse_date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from None


AsOf = Annotated[date, typer.Option("--as-of", parser=_parse_date, metavar="YYYY-MM-DD", help="The batch date D.")]
DbUrl = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL; default: SQLite file tfident.db in the working folder."),
]


def _handle_errors(func: F) -> F:
    """Turn tfident errors into exit code 2 with one message; other errors into exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TfidentError as error:
            if _state["debug"]:
                raise
            err_console.print(f"[bold red]error:[/] {error}")
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:
            if _state["debug"]:
                raise
            err_console.print(f"[bold red]internal error[/] ({type(error).__name__}): {error}")
            err_console.print("This is a bug in tfident. Run again with --debug for the traceback.")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logging.")] = False,
) -> None:
    """tfident: monthly identification of families from agency extracts."""
    _state["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
@_handle_errors
def synth(
    households: Annotated[int, typer.Option("--households", min=1, help="Number of households.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the batch to.")],
    as_of: AsOf,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same bytes.")] = 1,
) -> None:
    """Write a synthetic batch (all extracts) to OUT, and its truth to OUT/truth/."""
    from tfident.synth import synthesise

    synthesise(households=households, seed=seed, as_of=as_of, out=out)
    console.print(f"Synthetic batch of {households} households written to {out}")


@app.command()
@_handle_errors
def run(
    extracts: Annotated[Path, typer.Option("--extracts", help="The batch folder of agency extracts.")],
    as_of: AsOf,
    db: DbUrl = None,
    criteria: Annotated[Criteria, typer.Option("--criteria", help="Rule pack.")] = Criteria.phase1,
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="Run as the Prefect flow; by default only when PREFECT_API_URL names a Prefect server.",
        ),
    ] = None,
) -> None:
    """Run the monthly identification batch; print the run id and a summary."""
    from tfident.runner import execute_run

    if not extracts.is_dir():
        raise typer.BadParameter(f"{extracts} is not a folder", param_hint="--extracts")
    # Progress and the summary go to standard error; the run id alone to standard output,
    # so that scripts can write RUN=$(tfident run ...).
    outcome = execute_run(extracts, as_of, db, criteria.value, use_prefect=prefect, console=err_console)
    _print_summary(outcome.summary, outcome.quality_table)
    note = " (identical inputs and config: the stored run is reused)" if outcome.reused else ""
    err_console.print(f"\nrun id: [bold]{outcome.run_id}[/]{note}")
    print(outcome.run_id)


def _print_summary(summary: dict[str, Any], quality_table: Table | None) -> None:
    console = err_console
    if quality_table is not None:
        console.print(quality_table)
    counts = Table(title="Run summary", show_header=False)
    for key in ("records", "persons", "households", "candidates"):
        counts.add_row(key, f"{summary[key]:,}")
    console.print(counts)
    by_criteria = Table(title="Households meeting each criterion")
    by_criteria.add_column("criterion")
    by_criteria.add_column("households", justify="right")
    for name, n in summary["criteria_met_households"].items():
        by_criteria.add_row(name, f"{n:,}")
    console.print(by_criteria)
    combos = Table(title="Candidates by criteria met")
    combos.add_column("criteria met")
    combos.add_column("candidates", justify="right")
    for name, n in summary["candidates_by_criteria"].items():
        combos.add_row(name, f"{n:,}")
    console.print(combos)


@app.command()
@_handle_errors
def export(
    run_id: Annotated[str, typer.Option("--run", help="A run id, or 'latest'.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for candidates.csv, members.csv, persons.csv.")],
    db: DbUrl = None,
) -> None:
    """Write the export files of contract section 6 for a run."""
    from tfident.store import export_run, make_engine, resolve_run

    engine = make_engine(db)
    try:
        resolved = resolve_run(engine, run_id)
        paths = export_run(engine, resolved, out)
    finally:
        engine.dispose()
    console.print(f"Exported run {resolved}:")
    for path in paths.values():
        console.print(f"  {path}")


@app.command()
@_handle_errors
def evaluate(
    extracts: Annotated[Path, typer.Option("--extracts", help="The synthetic batch folder (with truth/).")],
    run_id: Annotated[str, typer.Option("--run", help="A run id, or 'latest'.")],
    db: DbUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
) -> None:
    """Score a run of a synthetic batch against DIR/truth/."""
    from tfident.evaluate import evaluate_run, read_truth
    from tfident.store import make_engine, read_candidates, read_persons_index, resolve_run

    if not (extracts / "truth").is_dir():
        raise typer.BadParameter(f"{extracts}/truth not found: only synthetic batches have truth files")
    truth_persons, truth_households = read_truth(extracts)
    engine = make_engine(db)
    try:
        resolved = resolve_run(engine, run_id)
        persons_index = read_persons_index(engine, resolved)
        candidates = read_candidates(engine, resolved)
    finally:
        engine.dispose()
    result = evaluate_run(persons_index, candidates["household_id"], truth_persons, truth_households)
    if as_json:
        console.print_json(json.dumps({"run_id": resolved, **result.as_dict()}))
        return
    table = Table(title=f"Run {resolved} against truth")
    for column in ("score", "precision", "recall", "F1", "counts"):
        table.add_column(column, justify="right" if column != "score" else "left")
    for name, score in (
        ("person links (pairwise)", result.persons),
        ("  cross-source pairs", result.persons_cross_source),
        ("households (pairwise)", result.households),
    ):
        table.add_row(
            name,
            f"{score.precision:.4f}",
            f"{score.recall:.4f}",
            f"{score.f1:.4f}",
            f"tp {score.true_positive:,} / pred {score.predicted:,} / true {score.actual:,}",
        )
    fam = result.families
    table.add_row(
        "candidate families",
        f"{fam.precision:.4f}",
        f"{fam.recall:.4f}",
        "",
        f"{fam.candidates_eligible}/{fam.candidates} candidates eligible; {fam.eligible_found}/{fam.eligible} found",
    )
    console.print(table)


@app.command()
@_handle_errors
def serve(
    db: DbUrl = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Start the coordinators' review app.

    Set TFIDENT_SECRET_KEY so sessions survive a restart, and TFIDENT_SECURE_COOKIES=1
    behind HTTPS.
    """
    import os

    import uvicorn

    from tfident.store import init_db, make_engine

    engine = make_engine(db)  # fail here, with a clear message, on a bad URL or database
    try:
        init_db(engine)
    finally:
        engine.dispose()
    if db:
        os.environ["TFIDENT_DB"] = db
    err_console.print(f"Review app on http://{host}:{port}/ (Ctrl+C to stop)")
    # The app is named, not imported: the cli and review layers stay independent (import-linter).
    uvicorn.run(
        "tfident.review.app:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


users_app = typer.Typer(help="Manage the review app's accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")


class Role(StrEnum):
    """Roles of the review app."""

    coordinator = "coordinator"
    analyst = "analyst"
    auditor = "auditor"
    admin = "admin"


@users_app.command("add")
@_handle_errors
def users_add(
    username: Annotated[str, typer.Argument(help="The new account's name.")],
    role: Annotated[Role, typer.Option("--role", help="What the account may do.")],
    db: DbUrl = None,
) -> None:
    """Add an account; the password is read from standard input when it is not a terminal."""
    import sys

    from tfident.store import init_db, make_engine
    from tfident.store.passwords import check_password_strength, hash_password
    from tfident.store.review import add_user

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    weakness = check_password_strength(password)
    if weakness:
        raise typer.BadParameter(weakness, param_hint="password")
    engine = make_engine(db)
    try:
        init_db(engine)
        add_user(engine, username, role.value, hash_password(password))
    finally:
        engine.dispose()
    console.print(f"Added {role.value} account {username}")
