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
from typer.exceptions import TyperException

from tfident.errors import TfidentError, exit_code

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
    sf2022 = "sf2022"


def _pack(criteria: Criteria | None) -> str | None:
    """The ``runs.ruleset_id`` of a ``--criteria`` choice (a pack's ruleset id is its name)."""
    return None if criteria is None else criteria.value


def _parse_date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from None


AsOf = Annotated[date, typer.Option("--as-of", parser=_parse_date, metavar="YYYY-MM-DD", help="The batch date D.")]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLAlchemy URL; default: TFIDENT_DATABASE_URL (or the file TFIDENT_DATABASE_URL_FILE names), "
        "else the SQLite file tfident.db in the working folder.",
    ),
]


PackFilter = Annotated[
    Criteria | None,
    typer.Option(
        "--criteria",
        help="With --run latest: the newest published run of this rule pack (default: the newest of any pack); "
        "with a run id: check the run is of this pack.",
    ),
]


def _handle_errors(func: F) -> F:
    """Turn tfident errors into one message and exit code 2 (bad input) or 3 (environment); other errors into 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TfidentError as error:
            if _state["debug"]:
                raise
            err_console.print(f"[bold red]error:[/] {error}", soft_wrap=True)
            raise typer.Exit(exit_code(error)) from None
        except (TyperException, typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:
            if _state["debug"]:
                raise
            # the message of an unexpected error may quote a value from the data: only its type is shown
            err_console.print(f"[bold red]internal error[/] ({type(error).__name__})")
            err_console.print("This is a bug in tfident. Run again with --debug for the traceback.")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logging.")] = False,
    config_dir: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="DIR",
            envvar="TFIDENT_CONFIG_DIR",
            help="The council's config folder; its files replace the shipped defaults of the same name.",
        ),
    ] = None,
) -> None:
    """tfident: monthly identification of families from agency extracts."""
    import os

    from tfident.config import CONFIG_DIR_ENV

    _state["debug"] = debug
    if config_dir is not None:
        if not config_dir.is_dir():
            raise typer.BadParameter(f"{config_dir} is not a folder", param_hint="--config")
        os.environ[CONFIG_DIR_ENV] = str(config_dir.resolve())  # read by every loader, and by Prefect's workers
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
    months: Annotated[
        int,
        typer.Option(
            "--months",
            min=1,
            help="Consecutive monthly batches of the same council; more than 1 writes OUT/<YYYY-MM-DD>/ per month.",
        ),
    ] = 1,
    churn: Annotated[
        float, typer.Option("--churn", min=0.0, max=1.0, help="Share of households that move each later month.")
    ] = 0.05,
    corrections: Annotated[
        float,
        typer.Option(
            "--corrections",
            min=0.0,
            max=1.0,
            help="Share of earlier records with a name or date-of-birth fault that their agency corrects each "
            "later month (same record id, corrected text).",
        ),
    ] = 0.0,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            metavar="NAME",
            help="Error profile: default (the generator as it always was), clean, messy or lagged "
            "(docs/synth-profiles.md), or the path of a profile YAML file.",
        ),
    ] = "default",
    supporting_families: Annotated[
        bool,
        typer.Option(
            "--supporting-families",
            help="Also write the optional sources of contract 1.2 (housing, early_years, neet, early_help, "
            "missing_exploitation, probation, employment) and truth/sf2022.csv; the other files do not change. "
            "One month only.",
        ),
    ] = False,
    outcomes: Annotated[
        float | None,
        typer.Option(
            "--outcomes",
            min=0.0,
            max=1.0,
            metavar="SHARE",
            help="With --months: attach SHARE of the eligible families on each of the first three batch dates, "
            "follow their needs (resolve, persist, near misses) and write truth/claims.csv per month "
            "(docs/contract-additions.md).",
        ),
    ] = None,
) -> None:
    """Write a synthetic batch (all extracts) to OUT, and its truth to OUT/truth/."""
    from tfident.synth import get_profile, synthesise, synthesise_months

    resolved = get_profile(profile)  # an unknown name stops here, listing the choices
    label = "" if resolved.name == "default" else f" (profile {resolved.name})"
    if supporting_families and months > 1:
        raise typer.BadParameter("--supporting-families writes one month; drop --months", param_hint="--months")
    if outcomes is not None and months < 2:
        raise typer.BadParameter("--outcomes follows families over months: give --months 2 or more")
    if outcomes is not None and corrections:
        raise typer.BadParameter("--corrections cannot be combined with --outcomes", param_hint="--corrections")
    if months == 1:
        synthesise(
            households=households,
            seed=seed,
            as_of=as_of,
            out=out,
            profile=resolved,
            supporting_families=supporting_families,
        )
        console.print(f"Synthetic batch of {households} households written to {out}{label}")
        return
    folders = synthesise_months(
        households, seed, as_of, out, months, churn, profile=resolved, attach_share=outcomes, corrections=corrections
    )
    console.print(
        f"{months} monthly batches of {households} households written to {', '.join(map(str, folders))}{label}"
    )


@app.command()
@_handle_errors
def run(
    extracts: Annotated[
        Path | None, typer.Option("--extracts", help="The batch folder of agency extracts (not with --resume).")
    ] = None,
    as_of: Annotated[
        date | None,
        typer.Option("--as-of", parser=_parse_date, metavar="YYYY-MM-DD", help="The batch date D (not with --resume)."),
    ] = None,
    db: DbUrl = None,
    criteria: Annotated[Criteria, typer.Option("--criteria", help="Rule pack.")] = Criteria.phase1,
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="Run as the Prefect flow; by default only when PREFECT_API_URL names a Prefect server.",
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="RUN_ID",
            help="Finish a run that was killed or failed part-way, from its checkpoints; its extracts folder, "
            "batch date and rule pack come from the store.",
        ),
    ] = None,
    inbox: Annotated[
        Path | None,
        typer.Option(
            "--inbox",
            metavar="DIR",
            help="Run the oldest complete, unprocessed batch folder DIR/YYYY-MM-DD/ (with a READY marker or a "
            "manifest.json); the batch date is the folder's name. Not with --extracts or --as-of.",
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            max=20,
            help="Try again this many times on a transient fault (database unreachable, month locked); "
            "bad input is never retried.",
        ),
    ] = 0,
    retry_delay: Annotated[
        float,
        typer.Option("--retry-delay", min=0.0, help="Seconds before the first retry; doubled each time."),
    ] = 30.0,
    incremental: Annotated[
        bool | None,
        typer.Option(
            "--incremental/--full",
            help="Link only new and changed records against the previous published run's linkage "
            "(--incremental), or everything (--full); the results are the same. Default: incremental "
            "when the previous published run used the same linkage configuration, model and criteria pack.",
        ),
    ] = None,
) -> None:
    """Run the monthly identification batch; print the run id and a summary.

    Exit codes: 0 done, 2 bad input, 3 environment (database unreachable, month locked,
    schema out of date), 1 a bug. Every failure is recorded in `tfident runs`.
    """
    from tfident.runner import execute_inbox_run, execute_resume, execute_run

    # Progress and the summary go to standard error; the run id alone to standard output,
    # so that scripts can write RUN=$(tfident run ...).
    if resume is not None:
        if extracts is not None or as_of is not None:
            raise typer.BadParameter(
                "--resume reads the run's extracts folder and batch date from the store; "
                "leave out --extracts and --as-of",
                param_hint="--resume",
            )
        outcome = execute_resume(resume, db, console=err_console, use_prefect=prefect)
    elif inbox is not None:
        if extracts is not None or as_of is not None:
            raise typer.BadParameter(
                "--inbox takes the batch folder and its date from the inbox; leave out --extracts and --as-of",
                param_hint="--inbox",
            )
        found = execute_inbox_run(
            inbox,
            db,
            criteria.value,
            use_prefect=prefect,
            console=err_console,
            retries=retries,
            retry_delay=retry_delay,
        )
        if found is None:
            return
        outcome = found
    else:
        if extracts is None:
            raise typer.BadParameter("give the batch folder (or --resume RUN_ID)", param_hint="--extracts")
        if as_of is None:
            raise typer.BadParameter("give the batch date as YYYY-MM-DD", param_hint="--as-of")
        if not extracts.is_dir():
            raise typer.BadParameter(f"{extracts} is not a folder", param_hint="--extracts")
        outcome = execute_run(
            extracts,
            as_of,
            db,
            criteria.value,
            use_prefect=prefect,
            console=err_console,
            retries=retries,
            retry_delay=retry_delay,
            mode=None if incremental is None else ("incremental" if incremental else "full"),
        )
    if "records" in outcome.summary:  # a run resumed when already published has no batch read
        _print_summary(outcome.summary, outcome.quality_table)
    note = ""
    if outcome.resumed:
        note = f" (resumed: {', '.join(outcome.resumed)} restored from checkpoints)"
    elif outcome.reused:
        note = " (identical inputs and config: the stored run is reused)"
    for warning in outcome.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
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
    if summary.get("addresses"):
        addresses = Table(title="Records whose address matched a gazetteer UPRN")
        for column in ("source", "matched", "unmatched", "by method"):
            addresses.add_column(column, justify="left" if column in ("source", "by method") else "right")
        for source, counts in summary["addresses"].items():
            methods = ", ".join(f"{m} {n:,}" for m, n in counts["by_method"].items() if m != "unmatched")
            addresses.add_row(source, f"{counts['matched']:,}", f"{counts['unmatched']:,}", methods)
        console.print(addresses)


@app.command()
@_handle_errors
def check(
    extracts: Annotated[Path, typer.Option("--extracts", help="The batch folder of agency extracts.")],
    as_of: AsOf,
    db: DbUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the quality, checks and coverage as JSON.")] = False,
) -> None:
    """Ingest the batch and run every data check (config/checks.yaml): nothing linked, nothing written.

    Last month's published run is read from the database (when one is given or configured and reachable) for
    the volume and same-file checks. Exit codes: 0 no check stops the batch, 2 one does (or the batch cannot
    be read).
    """
    from tfident.runner import execute_check

    outcome = execute_check(extracts, as_of, db)
    report = outcome.report
    if as_json:
        payload = {
            "as_of": as_of.isoformat(),
            "previous_run": outcome.previous_run,
            "quality": {name: q.model_dump(mode="json") for name, q in sorted(outcome.quality.items())},
            **report.as_dict(),
            "stop": len(report.stops),
            "warn": len(report.warnings),
        }
        print(json.dumps(payload, indent=2))
    else:
        from tfident.ingest import quality_table

        console.print(quality_table(outcome.quality))
        console.print(_coverage_table(report.coverage))
        table = Table(title=f"Data checks for batch date {as_of:%Y-%m-%d}")
        for column in ("source", "file", "check", "level", "result", "detail"):
            table.add_column(column, overflow="fold")
        colours = {"stop": "bold red", "warn": "yellow", "pass": "green", "skipped": "dim"}
        for r in report.results:
            table.add_row(r.source, r.file or "", r.check, r.level, f"[{colours[r.outcome]}]{r.outcome}[/]", r.message)
        console.print(table)
        console.print(
            "Compared with run "
            + (outcome.previous_run or "(none: no earlier published run, or no database reachable)")
        )
        console.print(
            f"{len(report.stops)} stop, {len(report.warnings)} warning(s): "
            + ("the batch would not publish" if report.stops else "the batch would publish")
        )
    if report.stops:
        raise typer.Exit(2)


def _coverage_table(coverage: dict[str, Any]) -> Table:
    schools = coverage.get("schools", {})
    table = Table(title=f"Coverage: {schools.get('expected', 0)} schools expected (from {schools.get('from', '-')})")
    for column in ("source", "schools present", "schools missing", "children at missing schools", "empty months"):
        table.add_column(column)
    months = coverage.get("months_without_records", {})
    for name in sorted(set(months) | {k for k in schools if isinstance(schools.get(k), dict)}):
        school = schools.get(name) if isinstance(schools.get(name), dict) else None
        table.add_row(
            name,
            str(school["present"]) if school else "",
            ", ".join(school["missing"]) if school else "",
            f"{school['children']:,}" if school else "",
            ", ".join(months.get(name, [])),
        )
    return table


@app.command()
@_handle_errors
def export(
    run_id: Annotated[str, typer.Option("--run", help="A run id, or 'latest'.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for candidates.csv, members.csv, persons.csv.")],
    db: DbUrl = None,
    criteria: PackFilter = None,
) -> None:
    """Write the export files of contract section 6 for a run."""
    from tfident.store import export_run, make_engine, resolve_run

    engine = make_engine(db)
    try:
        resolved = resolve_run(engine, run_id, _pack(criteria))
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
    criteria: PackFilter = None,
) -> None:
    """Score a run of a synthetic batch against DIR/truth/.

    A run whose batch date is not the one the truth records (truth/batch.json) is refused, exit 2.
    """
    import polars as pl

    from tfident.evaluate import (
        DEFAULT_ELIGIBLE,
        evaluate_run,
        read_claims_truth,
        read_pack_truth,
        read_truth,
        score_claims,
        truth_as_of,
    )
    from tfident.store import make_engine, read_candidates, read_persons_index, read_run, resolve_run

    if not (extracts / "truth").is_dir():
        raise typer.BadParameter(f"{extracts}/truth not found: only synthetic batches have truth files")
    try:
        truth_date = truth_as_of(extracts)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--extracts") from None
    truth_persons, truth_households = read_truth(extracts)
    engine = make_engine(db)
    try:
        resolved = resolve_run(engine, run_id, _pack(criteria))
        run_record = read_run(engine, resolved)
        run_date = run_record.as_of
        try:
            pack_truth = read_pack_truth(extracts, run_record.ruleset_id)
        except FileNotFoundError as error:
            raise typer.BadParameter(str(error), param_hint="--extracts") from None
        if truth_date is not None and run_date != truth_date:
            raise typer.BadParameter(
                f"run {resolved} has batch date {run_date:%Y-%m-%d} but the truth in {extracts}/truth was "
                f"judged at {truth_date:%Y-%m-%d}; evaluate a run of that batch date, or the batch folder "
                f"of {run_date:%Y-%m-%d}",
                param_hint="--run",
            )
        persons_index = read_persons_index(engine, resolved)
        candidates = read_candidates(engine, resolved)
        claims_truth = read_claims_truth(extracts)
        claimed: list[tuple[int, str]] = []
        attached: list[tuple[int, str]] = []
        if claims_truth is not None:
            from tfident.store.claims import claim_members_of_run

            claimed, attached = claim_members_of_run(engine, resolved)
    finally:
        engine.dispose()
    eligible_column = DEFAULT_ELIGIBLE
    if pack_truth is not None:
        truth_households, eligible_column = pack_truth
    result = evaluate_run(persons_index, candidates["household_id"], truth_persons, truth_households, eligible_column)
    claim_score = None
    if claims_truth is not None and claimed:
        schema = {"key": pl.Int64, "person_id": pl.String}
        claim_score = score_claims(
            pl.DataFrame(claimed, schema=schema, orient="row"),
            pl.DataFrame(attached, schema=schema, orient="row"),
            persons_index,
            truth_persons,
            claims_truth,
        )
    if as_json:
        extra = {"claims": claim_score.as_dict()} if claim_score is not None else {}
        console.print_json(json.dumps({"run_id": resolved, **result.as_dict(), **extra}))
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
    if claim_score is not None:
        table.add_row(
            "claims (claimable families)",
            f"{claim_score.precision:.4f}",
            f"{claim_score.recall:.4f}",
            f"{claim_score.f1:.4f}",
            f"{claim_score.claims_valid}/{claim_score.claims} claims valid; "
            f"{claim_score.claimable_claimed}/{claim_score.claimable} claimable claimed "
            f"({claim_score.claimable_attached} attached in the store)",
        )
    console.print(table)


@app.command("quality")
@_handle_errors
def quality_command(
    run_id: Annotated[
        str | None, typer.Option("--run", help="A run id, or 'latest': write the agencies' feedback files.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the feedback workbooks (with --run).")] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Per source and month, the counts of every published run.")
    ] = False,
    db: DbUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --history: print it as JSON.")] = False,
    criteria: PackFilter = None,
) -> None:
    """Feedback to the agencies: one workbook per agency with its own quarantined rows, invalid identifiers,
    coverage and counts against last month (--run, --out); or the month-on-month history (--history).

    The workbooks hold the agency's quarantined rows (personal data): send each only to its agency.
    """
    from tfident.store import make_engine, resolve_run
    from tfident.store.feedback import quality_history, write_feedback

    if history == (run_id is not None):
        raise typer.BadParameter("give either --run RUN_ID|latest with --out DIR, or --history", param_hint="--run")
    if run_id is not None and out is None:
        raise typer.BadParameter("give the folder to write the agencies' workbooks to", param_hint="--out")
    engine = make_engine(db)
    try:
        if history:
            frame = quality_history(engine)
        else:
            assert run_id is not None
            assert out is not None
            resolved = resolve_run(engine, run_id, _pack(criteria))
            paths = write_feedback(engine, resolved, out)
    finally:
        engine.dispose()
    if history:
        if as_json:
            print(json.dumps(frame.to_dicts(), default=str, indent=2))
            return
        if frame.is_empty():
            console.print("No published runs")
            return
        table = Table(
            title="Rows per source and month (published runs); change: quarantined rows against the month before",
            title_justify="left",
        )
        for column in ("month", "source", "read", "accepted", "quarantined", "change"):
            table.add_column(column, justify="left" if column in ("month", "source") else "right", no_wrap=True)
        before: dict[str, int] = {}
        for row in frame.iter_rows(named=True):  # oldest month first
            last = before.get(row["source"])
            before[row["source"]] = row["rows_quarantined"]
            table.add_row(
                row["month"],
                row["source"],
                f"{row['rows_read']:,}",
                f"{row['rows_accepted']:,}",
                f"{row['rows_quarantined']:,}",
                "" if last is None else f"{row['rows_quarantined'] - last:+,}",
            )
        _output_console().print(table)
        return
    console.print(f"Feedback for run {resolved} (one workbook per agency; each holds only its own rows):")
    for agency, path in paths.items():
        console.print(f"  {agency}: {path}")


@app.command()
@_handle_errors
def train(
    extracts: Annotated[
        list[Path],
        typer.Option(
            "--extracts",
            help="A batch folder of agency extracts to train on; repeat it to train on several batches (months, "
            "or synthetic batches of several error profiles) together.",
        ),
    ],
    as_of: Annotated[
        date | None,
        typer.Option("--as-of", parser=_parse_date, metavar="YYYY-MM-DD", help="The batch date; default today."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Model file to write; default: the model linkage.yaml names, in the --config folder (or the "
            "checkout's config/).",
        ),
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Model version; default person-DATE-HASH.")] = None,
) -> None:
    """Estimate the person-linkage model without labels and save it (JSON, versioned).

    u by random sampling (fixed seed), m by EM; monthly runs load the saved model and
    only predict. Train on batches that no test or evaluation scores against. Several
    batches are pooled: their records are kept apart (record keys prefixed by the
    batch's position), so that no pair crosses two batches' record numbering.
    """
    import polars as pl

    from tfident.config import config_path, writable_config_path
    from tfident.ingest import load_sources_mapping
    from tfident.link import load_linkage_config
    from tfident.link.model import write_model
    from tfident.link.training import train_model
    from tfident.pipeline import ingest_stage, standardise_stage

    for folder in extracts:
        if not folder.is_dir():
            raise typer.BadParameter(f"{folder} is not a folder", param_hint="--extracts")
    batch_date = as_of or date.today()
    config = load_linkage_config(config_path("linkage.yaml"), with_model=False)
    path = out or (config.model_path() if Path(config.model).is_absolute() else writable_config_path(config.model))
    if path is None:
        raise typer.BadParameter(
            "an installed tfident does not overwrite its shipped model: give --out FILE, or --config DIR "
            f"to write {config.model} into the council's config folder",
            param_hint="--out",
        )
    mapping = load_sources_mapping(config_path("sources.yaml"))
    frames = []
    files: dict[str, dict[str, str]] = {}
    for position, folder in enumerate(extracts):
        batch = ingest_stage(folder, mapping)
        persons = standardise_stage(batch, batch_date)
        if len(extracts) > 1:
            persons = persons.with_columns(pl.lit(f"b{position}:") + pl.col("record_key"))
        frames.append(persons)
        files[folder.name] = {name: info.sha256 for name, info in sorted(batch.files.items())}
    persons = pl.concat(frames)
    training_data = {
        "extracts": " + ".join(folder.name for folder in extracts),
        "as_of": batch_date.isoformat(),
        "trained_on": date.today().isoformat(),
        "files": files[extracts[0].name] if len(extracts) == 1 else files,
    }
    model = train_model(persons, config, training_data, version=version)
    write_model(model, path)
    console.print(f"Model {model['version']} trained on {persons.height:,} records; written to {path}")


@app.command()
@_handle_errors
def explain(
    record_a: Annotated[str, typer.Argument(help="A record key, SOURCE:RECORD_ID.")],
    record_b: Annotated[str, typer.Argument(help="Another record key.")],
    run_id: Annotated[str, typer.Option("--run", help="A run id, or 'latest'.")] = "latest",
    db: DbUrl = None,
) -> None:
    """Print the model's waterfall for two records of a stored run: prior, each field's weight, total, probability."""
    from tfident.link import load_linkage_config
    from tfident.link.explanation import explain_pair, persons_from_stored
    from tfident.store import make_engine, read_link, read_run, read_source_records, resolve_run

    config = load_linkage_config()
    engine = make_engine(db)
    try:
        resolved = resolve_run(engine, run_id)
        run_model = read_run(engine, resolved).linkage_model_version
        records = read_source_records(engine, resolved)
        stored = read_link(engine, resolved, record_a, record_b)
    finally:
        engine.dispose()
    result = explain_pair(persons_from_stored(records), record_a, record_b, config, stored=stored)
    table = Table(title=f"{record_a} vs {record_b} (run {resolved}, model {result.model_version})")
    table.add_column("step")
    table.add_column("level")
    table.add_column("match weight", justify="right")
    table.add_row("prior", "two random records match", f"{result.prior:+.2f}")
    for step in result.steps:
        table.add_row(step.field, step.level, f"{step.weight:+.2f}")
    table.add_row("total", "", f"{result.total:+.2f}")
    table.add_row("probability", result.band(config), f"{result.probability:.6f}")
    console.print(table)
    if run_model and run_model != result.model_version:
        console.print(f"note: the run used model {run_model}; this explanation uses {result.model_version}")
    if result.recomputed:
        console.print(
            "note: recomputed (the run stored no scored link between these records); identifiers (UPN, NINO,"
            " NHS number, PNC id) are not stored with records, so they weigh 0 here"
        )
    else:
        console.print("note: the waterfall the run stored for this pair (identifiers included)")
    for note in result.notes():
        console.print(f"note: {note}")
    if stored is None:
        console.print("stored link: none (the run did not link these records directly)")
    else:
        console.print(
            f"stored link: {stored['match_rule']}, probability {stored['match_probability']:.6f}, "
            f"weights {json.dumps(stored['match_weights_json'])}"
        )


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

    from tfident.store import make_engine, prepare_database

    engine = make_engine(db)  # fail here, with a clear message, on a bad URL or database
    try:
        prepare_database(engine)
    finally:
        engine.dispose()
    if db:
        from tfident.store.engine import DATABASE_URL_ENV

        os.environ[DATABASE_URL_ENV] = db  # for the app factory in this process; never on a command line
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

    from tfident.store import make_engine, prepare_database
    from tfident.store.passwords import check_password_strength, hash_password
    from tfident.store.review import add_user

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    weakness = check_password_strength(password, username)
    if weakness:
        raise typer.BadParameter(weakness, param_hint="password")
    engine = make_engine(db)
    try:
        prepare_database(engine)
        add_user(engine, username, role.value, hash_password(password))
    finally:
        engine.dispose()
    console.print(f"Added {role.value} account {username}")


# ------------------------------------------------------------- database and run history

db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
@_handle_errors
def db_upgrade(db: DbUrl = None) -> None:
    """Migrate the database to the newest schema (Alembic upgrade to head)."""
    from tfident.store import current_revision, init_db, make_engine
    from tfident.store.engine import safe_url

    engine = make_engine(db)
    try:
        before = current_revision(engine)
        init_db(engine)
        after = current_revision(engine)
        where = safe_url(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"Database {where} is already at revision {after} (newest)")
    else:
        console.print(f"Database {where} upgraded from revision {before or '(empty)'} to {after}")


def _check_month(value: str | None) -> str | None:
    if value is not None:
        try:
            datetime.strptime(value, "%Y-%m")
        except ValueError:
            raise typer.BadParameter(f"expected a month as YYYY-MM, got {value!r}") from None
    return value


RUNS_WIDTH_OFF_TERMINAL = 120
"""Width of ``tfident runs`` where there is no terminal (scheduled-run logs, pipes), unless COLUMNS says."""


def _output_console(wide: bool = False) -> Console:
    """The console to print tables on: the terminal's width on a terminal; elsewhere COLUMNS, else a
    fixed width of 120, so logs get whole values rather than rich's 80-column default; ``wide`` is at least 160.
    """
    import os

    if console.is_terminal:
        return console
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else RUNS_WIDTH_OFF_TERMINAL
    return Console(highlight=False, width=max(width, 160) if wide else width)  # --wide asks for every value whole


@app.command("runs")
@_handle_errors
def runs_command(
    db: DbUrl = None,
    month: Annotated[
        str | None, typer.Option("--month", metavar="YYYY-MM", callback=_check_month, help="Only runs of this month.")
    ] = None,
    criteria: Annotated[Criteria | None, typer.Option("--criteria", help="Only runs of this rule pack.")] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Also the month's version, pack version, model, code version, created.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON (every column).")] = False,
) -> None:
    """List the stored runs, newest first: run id, batch date, status, rule pack and candidates (--wide: version,
    model, created); then why each failed run failed, and the data check warnings of published ones.
    """
    from tfident.store import list_runs, make_engine, read_check_warnings, read_run

    engine = make_engine(db)
    try:
        frame = list_runs(engine, month=month)
        warned = read_check_warnings(
            engine, [r for r, s in zip(frame["run_id"], frame["status"], strict=True) if s != "failed"]
        )
        # incremental or full (tfident run --incremental/--full), from each run's summary
        modes = {
            run_id: str(((read_run(engine, run_id).summary or {}).get("mode") or {}).get("mode", ""))
            for run_id in frame["run_id"]
        }
    finally:
        engine.dispose()
    if criteria is not None:
        frame = frame.filter(frame["ruleset_id"] == criteria.value)
    rows = frame.to_dicts()
    for row in rows:
        row["check_warnings"] = warned.get(row["run_id"], [])
        row["mode"] = modes.get(row["run_id"], "")
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        console.print(
            "No runs stored" + (f" for {month}" if month else "") + (f" of pack {criteria.value}" if criteria else "")
        )
        return
    out = _output_console(wide)
    table = Table(title="Runs, newest first", title_justify="left")
    # Whole values, never "…": the columns a reader needs fit in 80 characters.
    table.add_column("run id", no_wrap=True, min_width=max(len(row["run_id"]) for row in rows))
    table.add_column("batch date", no_wrap=True, min_width=10)
    if wide:
        table.add_column("version", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True, min_width=max(len(row["status"]) for row in rows))
    table.add_column("pack", no_wrap=True, min_width=max(len(row["ruleset_id"]) for row in rows))
    if wide:
        for column in ("pack version", "model", "mode", "code", "created (UTC)"):
            table.add_column(column, no_wrap=column == "created (UTC)")
    table.add_column("candidates", justify="right", no_wrap=True)
    for row in rows:
        cells = [row["run_id"], f"{row['as_of']:%Y-%m-%d}"]
        if wide:
            cells.append(f"{row['month']} v{row['version']}")
        cells += [row["status"], row["ruleset_id"]]
        if wide:
            cells += [
                row["ruleset_version"],
                row["linkage_model_version"],
                row["mode"],
                row["code_version"],
                f"{row['created_at']:%Y-%m-%d %H:%M:%S}",
            ]
        cells.append(f"{row['candidates']:,}")
        table.add_row(*cells)
    out.print(table)
    if not wide:
        out.print("More: --wide (version, model, mode, created) or --json.")
    if warned:
        out.print("Data check warnings of published runs:")
        for run_id, messages in warned.items():
            for message in messages:
                out.print(f"  {run_id}: {message}")
    failed = [row for row in rows if row["status"] == "failed" and row.get("error")]
    if failed:
        out.print("Why runs failed:")
        for row in failed:
            out.print(f"  {row['run_id']}: {row['error']}")


@app.command("diff")
@_handle_errors
def diff_command(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="The earlier run: a run id, or 'latest'.")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="The later run: a run id, or 'latest'.")],
    db: DbUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the differences as JSON.")] = False,
    criteria: PackFilter = None,
) -> None:
    """Compare two runs' candidate families (by household id): added, dropped (and why), re-ranked."""
    from tfident.store import make_engine, resolve_run
    from tfident.store.diff import diff_stored_runs

    engine = make_engine(db)
    try:
        resolved_a = resolve_run(engine, run_a, _pack(criteria))
        resolved_b = resolve_run(engine, run_b, _pack(criteria))
        result = diff_stored_runs(engine, resolved_a, resolved_b)
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps({"run_a": resolved_a, "run_b": resolved_b, **result.as_dict()}, indent=2))
        return
    out = _output_console()
    counts = result.counts()
    out.print(
        f"Run A {resolved_a} -> run B {resolved_b}: {counts['added']:,} added, {counts['dropped']:,} dropped, "
        f"{counts['reranked']:,} re-ranked or with changed criteria, {counts['unchanged']:,} unchanged"
    )
    if not result.added.is_empty():
        table = Table(title="Added in B", title_justify="left")
        for column in ("rank", "household id", "score", "criteria met"):
            table.add_column(column, justify="right" if column in ("rank", "score") else "left")
        for row in result.added.iter_rows(named=True):
            score = "" if row["score"] is None else f"{row['score']:.4f}"
            table.add_row(str(row["rank"]), row["household_id"], score, row["criteria_met"])
        out.print(table)
    if not result.dropped.is_empty():
        table = Table(title="Dropped from A, and why", title_justify="left")
        for column in ("rank", "household id", "criteria met in A", "why"):
            table.add_column(column, justify="right" if column == "rank" else "left")
        for row in result.dropped.iter_rows(named=True):
            table.add_row(str(row["rank"]), row["household_id"], row["criteria_met"], row["why"] or "")
        out.print(table)
    if not result.reranked.is_empty():
        table = Table(title="Re-ranked (rank change: + moved up)", title_justify="left")
        for column in ("household id", "old rank", "new rank", "change", "criteria added", "criteria removed"):
            table.add_column(column, justify="right" if "rank" in column or column == "change" else "left")
        for row in result.reranked.iter_rows(named=True):
            table.add_row(
                row["household_id"],
                str(row["old_rank"]),
                str(row["new_rank"]),
                f"{row['rank_change']:+d}",
                row["criteria_added"],
                row["criteria_removed"],
            )
        out.print(table)


# ------------------------------------------------------------------------------ retention

retention_app = typer.Typer(help="Delete personal data of old runs (config/retention.yaml).", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("apply")
@_handle_errors
def retention_apply(
    months: Annotated[
        int | None,
        typer.Option("--months", min=1, help="Keep this many months; default: months in config/retention.yaml."),
    ] = None,
    db: DbUrl = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be deleted; delete nothing.")] = False,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Who is applying it, for the audit log; default: TFIDENT_USER or OS user."),
    ] = None,
    inbox: Annotated[
        Path | None,
        typer.Option(
            "--inbox",
            metavar="DIR",
            help="Also delete the monthly inbox's batch folders from before the cutoff that a run processed "
            "or that were refused.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Delete the personal data of runs whose batch date is older than the retention period, the checkpoints
    of failed or killed runs among them, and (with --inbox) their extracts. Run it again after restoring a
    backup.
    """
    from tfident.runner import execute_retention
    from tfident.store.retention import PERSONAL_TABLES

    outcome = execute_retention(db, months, inbox=inbox, dry_run=dry_run, user=user)
    result, checkpoints, keep = outcome.result, outcome.checkpoints, outcome.result.months
    if as_json:
        print(json.dumps({**result.as_dict(), "inbox_folders": outcome.inbox_folders}, indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    if outcome.inbox_folders:
        console.print(f"Inbox folders {verb}: {', '.join(outcome.inbox_folders)}")
    if not result.rows:
        console.print(
            f"Nothing to delete: no run with a batch date before {result.cutoff:%Y-%m-%d} "
            f"({keep} months) holds personal data."
        )
        return
    table = Table(title=f"Runs with batch dates before {result.cutoff:%Y-%m-%d}: rows {verb}")
    table.add_column("run id")
    for name in PERSONAL_TABLES:
        table.add_column(name.replace("_", " "), justify="right")
    for run_id, counts in result.rows.items():
        table.add_row(run_id, *(f"{counts[name]:,}" for name in PERSONAL_TABLES))
    totals = result.totals()
    table.add_row("total", *(f"{totals[name]:,}" for name in PERSONAL_TABLES), style="bold")
    console.print(table)
    if dry_run:
        console.print(f"Dry run: nothing was deleted; {len(result.rows)} run(s) would be purged.")
    else:
        console.print(f"Purged {len(result.rows)} run(s); recorded in the audit log.")
        if checkpoints:
            console.print(f"Deleted the stage checkpoints of {len(checkpoints)} of them (unfinished runs).")


# ---------------------------------------------------------------------- payment by results

claims_app = typer.Typer(
    help="Payment-by-results claims (config/outcomes.yaml): prepare, move through statuses, evidence packs, "
    "audit samples and the period summary.",
    no_args_is_help=True,
)
app.add_typer(claims_app, name="claims")

PeriodOption = Annotated[str, typer.Option("--period", metavar="P", help="A programme period of config/outcomes.yaml.")]
UserOption = Annotated[
    str | None, typer.Option("--user", help="Who is doing it, for the audit log; default: TFIDENT_USER or OS user.")
]


def _period(period_id: str) -> Any:
    from tfident.errors import ConfigError
    from tfident.outcomes import load_outcomes_config

    config = load_outcomes_config()
    period = config.period(period_id)
    if period is None:
        known = ", ".join(p.id for p in config.periods) or "none"
        raise ConfigError(f"period {period_id!r} is not in outcomes.yaml (periods: {known})")
    return period


def _claims_engine(db: str | None) -> Any:
    from tfident.store import make_engine, prepare_database

    engine = make_engine(db)
    prepare_database(engine)
    return engine


@claims_app.command("prepare")
@_handle_errors
def claims_prepare(
    period: PeriodOption,
    db: DbUrl = None,
    user: UserOption = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="The run whose outcomes to claim on; default: the period's latest.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the claimable families; record nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the proposals as JSON.")] = False,
) -> None:
    """Propose a claim, with its route, for every attached family whose outcomes allow one, recorded as drafts
    with their evidence packs; a family already claimed in the period (also through a merge or split) is
    refused by the database and listed as refused.
    """
    from dataclasses import asdict

    from tfident.store.audit import acting_user
    from tfident.store.claims import prepare_claims

    engine = _claims_engine(db)
    try:
        proposals = prepare_claims(engine, _period(period), acting_user(user), run_id=run_id, dry_run=dry_run)
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps([asdict(p) for p in proposals], indent=2))
        return
    table = Table(title=f"Claimable families, period {period}" + (" (dry run)" if dry_run else ""))
    for column in ("attachment", "household", "route", "amount", "claim", "refused"):
        table.add_column(column)
    for p in proposals:
        table.add_row(
            str(p.attachment_id), p.household_id, p.route, f"{p.amount:,}", str(p.claim_id or ""), p.refused or ""
        )
    console.print(table)
    made = sum(1 for p in proposals if p.claim_id is not None)
    console.print(f"{len(proposals)} claimable; {made} draft claim(s) recorded.")


class ClaimStatus(StrEnum):
    """Statuses a claim can be moved to."""

    audited = "audited"
    submitted = "submitted"
    paid = "paid"
    rejected = "rejected"
    withdrawn = "withdrawn"


@claims_app.command("status")
@_handle_errors
def claims_status(
    claim_id: Annotated[int, typer.Argument(help="The claim.")],
    status: Annotated[ClaimStatus, typer.Argument(help="Its new status.")],
    db: DbUrl = None,
    user: UserOption = None,
) -> None:
    """Move a claim on: draft -> audited -> submitted -> paid or rejected; draft or audited -> withdrawn.

    The user who prepared a claim cannot mark it audited (separation of duties).
    """
    from tfident.store.audit import acting_user
    from tfident.store.claims import set_status

    engine = _claims_engine(db)
    try:
        set_status(engine, claim_id, status.value, acting_user(user))
    finally:
        engine.dispose()
    console.print(f"Claim {claim_id} is now {status.value}")


@claims_app.command("pack")
@_handle_errors
def claims_pack(
    claim_id: Annotated[int, typer.Argument(help="The claim.")],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder to write the pack to.")],
    db: DbUrl = None,
) -> None:
    """Write a claim's evidence pack (claim-N.html, claim-N.xlsx), checked against its stored SHA-256."""
    from tfident.errors import StoreError
    from tfident.store.claims import evidence_pack, read_claim, sha256

    engine = _claims_engine(db)
    try:
        claim = read_claim(engine, claim_id)
        page, workbook = evidence_pack(engine, claim_id)
    finally:
        engine.dispose()
    out.mkdir(parents=True, exist_ok=True)
    (out / f"claim-{claim_id}.html").write_bytes(page)
    (out / f"claim-{claim_id}.xlsx").write_bytes(workbook)
    if (sha256(page), sha256(workbook)) != (claim["pack_html_sha256"], claim["pack_xlsx_sha256"]):
        raise StoreError(f"claim {claim_id}: the rebuilt evidence pack differs from the one prepared")
    console.print(f"Wrote claim-{claim_id}.html and claim-{claim_id}.xlsx to {out}; both match their SHA-256")


@claims_app.command("sample")
@_handle_errors
def claims_sample(
    period: PeriodOption,
    seed: Annotated[int, typer.Option("--seed", help="The draw's seed (the same seed draws the same claims).")],
    percent: Annotated[float, typer.Option("--percent", min=0.1, max=100, help="Share of claims to draw.")] = 10.0,
    db: DbUrl = None,
    user: UserOption = None,
) -> None:
    """Draw a reproducible internal-audit sample of the period's claims."""
    from tfident.store.audit import acting_user
    from tfident.store.claims import audit_sample

    engine = _claims_engine(db)
    try:
        chosen = audit_sample(engine, period, percent, seed, acting_user(user))
    finally:
        engine.dispose()
    console.print(f"Internal-audit sample (seed {seed}): claims {', '.join(map(str, chosen)) or 'none'}")


@claims_app.command("summary")
@_handle_errors
def claims_summary(period: PeriodOption, db: DbUrl = None) -> None:
    """The period's families attached, outcomes met, claims by status and route, and amounts (JSON)."""
    from tfident.store.claims import period_summary, summary_json

    engine = _claims_engine(db)
    try:
        summary = period_summary(engine, _period(period))
    finally:
        engine.dispose()
    print(summary_json(summary))


@claims_app.command("purge")
@_handle_errors
def claims_purge(
    months: Annotated[
        int | None,
        typer.Option("--months", min=1, help="Keep this many months; default: claims_months in config/retention.yaml."),
    ] = None,
    db: DbUrl = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be deleted; delete nothing.")] = False,
    user: UserOption = None,
) -> None:
    """Delete attachments, their outcomes and claims older than the claims retention period (audited)."""
    from tfident.store.claims import purge_claims
    from tfident.store.retention import load_retention_config

    keep = months or load_retention_config().claims_months
    engine = _claims_engine(db)
    try:
        expired = purge_claims(engine, keep, dry_run=dry_run, user=user)
    finally:
        engine.dispose()
    verb = "Would delete" if dry_run else "Deleted"
    console.print(f"{verb} {len(expired)} attachment(s) older than {keep} months, with their outcomes and claims")
