"""The runs pages: every run, and one run's quality report and charts."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tfident.review import charts
from tfident.review.auth import (
    CurrentUser,
)
from tfident.review.web import (
    _engine,
    _run_or_404,
    _thresholds,
    render,
    requires,
)
from tfident.store import latest_run_id, list_runs, read_quality, read_run
from tfident.store import review as store

router = APIRouter()
log = logging.getLogger(__name__)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, user: CurrentUser = Depends(requires("runs.view"))) -> Response:
    """Every run with its date, rule set, model version and counts."""
    engine = _engine(request)
    frame = list_runs(engine)
    rows = []
    for run in frame.iter_rows(named=True):
        info = read_run(engine, run["run_id"])
        rows.append({**run, "summary": info.summary})
    return render(request, "runs.html", {"user": user, "runs": rows, "latest": latest_run_id(engine)})


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, user: CurrentUser = Depends(requires("runs.view"))) -> Response:
    """One run: the quality report per source, link rates and charts (counts only, no personal data)."""
    run = _run_or_404(request, user, run_id)
    engine = _engine(request)
    info = read_run(engine, run["run_id"])
    quality = read_quality(engine, run["run_id"])
    rates = store.link_rates(engine, run["run_id"])
    previous_id = store.previous_run_id(engine, run["run_id"])
    previous = store.link_rates(engine, previous_id) if previous_id else {}
    rate_rows: list[dict[str, Any]] = [
        {
            "source": source,
            "records": n,
            "linked": linked,
            "rate": linked / n if n else 0.0,
            "previous": (previous[source][1] / previous[source][0])
            if source in previous and previous[source][0]
            else None,
        }
        for source, (n, linked) in rates.items()
    ]
    combos = sorted(info.summary.get("candidates_by_criteria", {}).items(), key=lambda item: -item[1])
    probabilities = store.link_probabilities(engine, run["run_id"])
    limits = _thresholds(run)
    thresholds = [("match", limits.match), ("review below", limits.review)]
    context = {
        "user": user,
        "run": info,
        "quality": quality,
        "rates": rate_rows,
        "previous_id": previous_id,
        "combos": combos,
        "n_links": len(probabilities),
        "uncertain": sum(1 for p in probabilities if p < limits.review),
        "uncertain_below": limits.review,
        "match_threshold": limits.match,
        "thresholds_from_config": limits.from_config,
        "combo_chart": charts.bar_chart([(k.replace(";", " + "), v) for k, v in combos], "Candidates by criteria met"),
        "probability_chart": charts.histogram(probabilities, "Distribution of link probabilities", thresholds),
        "rate_chart": charts.paired_bars(
            [(r["source"], r["rate"], r["previous"]) for r in rate_rows],
            "Share of each source's records linked to another source",
            ("this run", "previous run"),
        ),
    }
    return render(request, "run.html", context)
