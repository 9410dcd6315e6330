"""The candidate list (filters, search, sort, month on month) and its exports."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, Response

from tfident.review import web
from tfident.review.auth import (
    CurrentUser,
)
from tfident.review.changes import CHANGE_LABELS, CHANGE_TAGS, MonthChanges
from tfident.review.exports import families_csv, families_xlsx
from tfident.review.service import DECISION_LABELS
from tfident.review.web import (
    CLOSURE_REASON_LABELS,
    STATUS_FILTERS,
    _area_scope,
    _areas,
    _audit,
    _changes,
    _engine,
    _form,
    _redirect,
    _run_or_404,
    render,
    requires,
)
from tfident.store import latest_run_id
from tfident.store import review as store

router = APIRouter()
log = logging.getLogger(__name__)


def _candidate_query(params: Mapping[str, Any], page_size: int) -> store.CandidateQuery:
    """The list's filters, sort and page from query parameters (or the export form), checked against allowed values."""
    sort = str(params.get("sort") or "rank")
    sort = sort if sort in store.SORTS else "rank"
    direction = str(params.get("dir") or "")
    descending = direction == "desc" if direction in ("asc", "desc") else store.SORTS[sort][1]
    try:
        page = max(1, min(int(str(params.get("page") or "1")), 100_000))
    except ValueError:
        page = 1
    status = str(params.get("status") or "")
    if status == "all":
        status = ""
    elif status not in store.STATUSES:
        status = store.STATUS_OPEN  # attached, closed and opted-out families are not shown unless asked for
    return store.CandidateQuery(
        criterion=str(params.get("criterion") or "")[:64],
        status=status,
        area=str(params.get("area") or "").strip().upper()[:8],
        search=str(params.get("q") or "").strip()[:100],
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
    )


def _change_filter(params: Mapping[str, Any]) -> str:
    change = str(params.get("change") or "")
    return change if change in CHANGE_LABELS else ""


def _with_change(query: store.CandidateQuery, months: MonthChanges, change: str) -> store.CandidateQuery:
    """The query narrowed to the families of one kind of change since last month (not ``dropped``)."""
    if change and change != "dropped":
        return replace(query, household_ids=months.household_ids(change))
    return query


@router.get("/runs/{run_id}/candidates", response_class=HTMLResponse)
def candidates_page(
    request: Request, run_id: str, user: CurrentUser = Depends(requires("candidates.view"))
) -> Response:
    """The run's candidate families: filter by criterion, status, area and change since last month, search, sort, page.

    Each family is marked new, carried over or re-ranked since the previous month's run;
    the families that dropped off are listed with why (filter "Dropped"). An opted-out
    family is a stub that says so, nothing else.
    """
    run = _run_or_404(request, user, run_id)
    engine = _engine(request)
    query = _candidate_query(request.query_params, request.app.state.settings.page_size)
    query = replace(query, area_scope=_area_scope(request, user))
    change = _change_filter(request.query_params)
    months = _changes(request, run["run_id"])
    if change == "dropped":
        result = store.CandidatePage(rows=[], total=0)
        full = store.query_candidates(engine, run["run_id"], replace(query, household_ids=(), page_size=1))
        result.criteria, result.areas = full.criteria, full.areas
    else:
        result = store.query_candidates(engine, run["run_id"], _with_change(query, months, change))
    for row in result.rows:
        row["change"] = months.changes.get(row["household_id"])
    dropped = []
    if change == "dropped":
        decided = store.latest_decisions(engine, [row["household_id"] for row in months.dropped])
        for row in months.dropped:
            if not _areas(request).within(row.get("postcode"), user.areas):
                continue
            if query.criterion and query.criterion not in (row["criteria_met"] or "").split(";"):
                continue
            decision = decided.get(row["household_id"], {}).get("decision")
            dropped.append({**row, "status": decision or store.STATUS_NEW})
    filtered = bool(query.criterion or query.status != store.STATUS_OPEN or query.area or query.search or change)
    status_filter = query.status or "all"
    _audit(
        request,
        user,
        "candidates.search" if filtered else "candidates.view",
        "run",
        run["run_id"],
        {
            "criterion": query.criterion or None,
            "status": status_filter,
            "area": query.area or None,
            "change": change or None,
            "search": query.search or None,  # an investigator's question: who searched for whom
            "results": result.total if change != "dropped" else len(dropped),
            "page": query.page,
        },
    )
    pages = max(1, -(-result.total // query.page_size))
    base = {
        k: v
        for k, v in {
            "criterion": query.criterion,
            "status": "" if status_filter == store.STATUS_OPEN else status_filter,
            "area": query.area,
            "q": query.search,
            "change": change,
        }.items()
        if v
    }

    def link(**changes: Any) -> str:
        params = {**base, "sort": query.sort, "dir": "desc" if query.descending else "asc", **changes}
        return f"/runs/{run['run_id']}/candidates?{urlencode({k: v for k, v in params.items() if v != ''})}"

    def sort_link(key: str) -> str:
        descending = (not query.descending) if key == query.sort else store.SORTS[key][1]
        return link(sort=key, dir="desc" if descending else "asc", page=1)

    context = {
        "user": user,
        "run": run,
        "query": query,
        "result": result,
        "pages": pages,
        "link": link,
        "sort_link": sort_link,
        "status_filters": STATUS_FILTERS,
        "status_filter": status_filter,
        "change_filter": change,
        "change_labels": CHANGE_LABELS,
        "change_tags": CHANGE_TAGS,
        "change_counts": months.counts(),
        "previous_run_id": months.previous_run_id,
        "dropped": dropped,
        "filters": base,
        "is_latest": run["run_id"] == latest_run_id(engine),
    }
    return render(request, "candidates.html", context)


EXPORT_SCOPES = {"shown", "new", "accepted", "selected"}


def _member_lines(members: list[dict[str, Any]]) -> str:
    return "; ".join(f"{m['name']} ({m.get('role') or 'role unknown'})" for m in members)


@router.post("/runs/{run_id}/export")
def export_families(request: Request, run_id: str, user: CurrentUser = Depends(requires("export"))) -> Response:
    """The families shown, all new, all accepted or the selected families of a run as XLSX or CSV, logged
    with the row count.

    Every scope but "selected" honours the list's filters (criterion, area, search, change
    since last month; "shown" its status filter too). "New" is the panel's list of families
    not decided on yet. Opted-out families are never exported. The panel export lists each
    family's members with their roles unless the app is set not to (``export_members``).
    """
    run = _run_or_404(request, user, run_id)
    form = _form(request)
    file_format = str(form.get("format") or "xlsx")
    if file_format not in ("xlsx", "csv"):
        raise HTTPException(status_code=400, detail="Choose XLSX or CSV.")
    scope = str(form.get("scope") or "selected")
    if scope not in EXPORT_SCOPES:
        raise HTTPException(status_code=400, detail="Choose which families to export.")
    filters = replace(_candidate_query(form, 0), area_scope=_area_scope(request, user))
    change = _change_filter(form)
    engine = _engine(request)
    if scope == "selected":
        chosen = tuple(str(value)[:200] for value in form.getlist("household_id"))
        if not chosen:
            request.session["flash"] = "Select at least one family to export."
            return _redirect(f"/runs/{run['run_id']}/candidates")
        query = store.CandidateQuery(household_ids=chosen, page_size=0, area_scope=_area_scope(request, user))
    else:
        status = {"new": store.STATUS_NEW, "accepted": "accept"}.get(scope, filters.status)
        query = replace(filters, status=status, page=1, page_size=0, sort="rank", descending=False)
        if change == "dropped":  # dropped families are not candidates of this run
            query = replace(query, household_ids=())
        else:
            query = _with_change(query, _changes(request, run["run_id"]), change)
    families = [f for f in store.query_candidates(engine, run["run_id"], query).rows if f["status"] != "opted_out"]
    members = request.app.state.settings.export_members
    if members:
        by_household = store.household_members(engine, run["run_id"], [f["household_id"] for f in families])
        for family in families:
            family["members"] = _member_lines(by_household.get(family["household_id"], []))
    for family in families:
        family["status"] = DECISION_LABELS.get(family["status"], family["status"])
        if family.get("closure_reason"):
            family["status"] += f" ({CLOSURE_REASON_LABELS.get(family['closure_reason'], family['closure_reason'])})"
    stamp = web._now().strftime("%Y%m%d-%H%M")
    name = f"tfident-panel-{run['run_id']}-{stamp}.{file_format}"
    if file_format == "xlsx":
        content = families_xlsx(families, f"Candidate families, run {run['run_id']}", members=members)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        content = families_csv(families, members=members)
        media = "text/csv; charset=utf-8"
    _audit(
        request,
        user,
        f"export.{file_format}",
        "run",
        run["run_id"],
        {
            "rows": len(families),
            "scope": scope,
            "filters": {k: v for k, v in (("criterion", filters.criterion), ("area", filters.area)) if v},
            "change": change or None,
            "search": filters.search or None,
            "members": members,
            "household_ids": [f["household_id"] for f in families],
        },
    )
    log.info("user %s exported %d families of run %s", user.username, len(families), run["run_id"])
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
