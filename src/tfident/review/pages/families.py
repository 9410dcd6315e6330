"""The family page, its print view, decisions, the opt-out override and link rulings."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from tfident.review import service, web
from tfident.review.auth import (
    CurrentUser,
)
from tfident.review.service import DECISION_LABELS, DecisionForm, LinkRulingForm, parse_form
from tfident.review.summary import case_summary
from tfident.review.web import (
    CLOSURE_REASON_LABELS,
    LINK_KINDS,
    _audit,
    _changes,
    _clean,
    _engine,
    _family_run,
    _form,
    _not_found,
    _redirect,
    _thresholds,
    _with_weights,
    pair_url,
    render,
    requires,
)
from tfident.store import review as store
from tfident.store import sessions

router = APIRouter()
log = logging.getLogger(__name__)


LINKS_PER_PAGE = 20
"""Links shown per page of the family page's "Links between records"."""


DETAILS = ("records", "links", "evidence", "addresses")
"""The family page's collapsed sections, any of which ``?open=`` opens."""


def _family_context(
    request: Request, user: CurrentUser, household_id: str, run_id: str
) -> tuple[store.Family, dict[str, Any]]:
    """What the family page and its print view show: the family, its case summary and decisions."""
    engine = _engine(request)
    family = store.read_family(engine, run_id, household_id)
    if family is None:
        raise _not_found(request, user, "household", household_id)
    history = store.decision_history(engine, household_id)
    keys = [r["record_key"] for m in family.members for r in m["records"]]
    rulings = store.read_link_constraints(engine, keys)
    for link in family.links:
        pair = tuple(sorted((link["record_key_l"], link["record_key_r"])))
        link["ruling"] = rulings.get((pair[0], pair[1]))
    limits = _thresholds(store.readable_run(engine, run_id))
    summary = case_summary(family, limits.review)
    evidence_by_criterion: dict[str, list[dict[str, Any]]] = {}
    for row in family.evidence:
        member = summary.member_names.get(str(row.get("person_id")), "a record not placed with a member")
        evidence_by_criterion.setdefault(str(row["criterion"]), []).append({**row, "member": member})
    context = {
        "user": user,
        "family": family,
        "summary": summary,
        "evidence_by_criterion": evidence_by_criterion,
        "history": history,
        "latest": history[0] if history else None,
        "change": _changes(request, run_id).changes.get(household_id),
        "uncertain_below": limits.review,
        "match_threshold": limits.match,
    }
    return family, context


def _suppressed(request: Request, household_id: str, latest: dict[str, Any] | None) -> bool:
    """Whether the family opted out and no override was recorded since."""
    return (
        latest is not None
        and latest["decision"] == "opted_out"
        and store.opt_out_override(_engine(request), household_id) is None
    )


def _opted_out_page(
    request: Request, user: CurrentUser, household_id: str, run_id: str, latest: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The stub an opted-out family gets: that it opted out, nothing else (and the audited override)."""
    context = {"user": user, "household_id": household_id, "run_id": run_id, "latest": latest, "errors": {}}
    return render(request, "family_opted_out.html", context, status_code=status_code)


def _family_page(
    request: Request,
    user: CurrentUser,
    household_id: str,
    run_id: str,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    engine = _engine(request)
    family, context = _family_context(request, user, household_id, run_id)
    latest = context["latest"]
    if _suppressed(request, household_id, latest):
        return _opted_out_page(request, user, household_id, run_id, latest, status_code=status_code)
    try:
        link_page = max(1, int(request.query_params.get("links_page", "1")))
    except ValueError:
        link_page = 1
    link_pages = max(1, -(-len(family.links) // LINKS_PER_PAGE))
    link_page = min(link_page, link_pages)
    offset = (link_page - 1) * LINKS_PER_PAGE
    links_page = family.links[offset : offset + LINKS_PER_PAGE]
    for link in links_page:  # charts only for the links shown
        link["pair_url"] = pair_url(run_id, link["record_key_l"], link["record_key_r"], household_id)
        _with_weights(link)

    def links_url(page: int) -> str:
        return f"/families/{quote(household_id, safe='')}?{urlencode({'run': run_id, 'links_page': page})}#links"

    override = store.opt_out_override(engine, household_id) if latest and latest["decision"] == "opted_out" else None
    context.update(
        {
            "errors": errors or {},
            "values": values or {},
            "decision_options": service.decision_options(latest["decision"] if latest else None),
            "closure_reasons": CLOSURE_REASON_LABELS,
            "links_page": links_page,
            "link_page": link_page,
            "link_pages": link_pages,
            "link_offset": offset,
            "links_url": links_url,
            "open_section": "links"
            if "links_page" in request.query_params
            else (request.query_params.get("open") if request.query_params.get("open") in DETAILS else None),
            "override": override,
        }
    )
    return render(request, "family.html", context, status_code=status_code)


@router.get("/families/{household_id}", response_class=HTMLResponse)
def family_page(request: Request, household_id: str, user: CurrentUser = Depends(requires("family.view"))) -> Response:
    """One candidate family: why it is on the list, the decision form, then its records, links and addresses."""
    run_id = _family_run(request, user, household_id, request.query_params.get("run"))
    _audit(request, user, "family.view", "household", household_id, {"run_id": run_id})
    return _family_page(request, user, household_id, run_id, values=_kept_decision(request, household_id))


def _kept_decision(request: Request, household_id: str) -> dict[str, Any] | None:
    """The decision this user typed about the family before their last session timed out (offered once)."""
    row: sessions.SessionRow | None = getattr(request.state, "session_row", None)
    pending = row.pending_json if row is not None else None
    if not pending or pending.get("household_id") != household_id:
        return None
    sessions.set_pending(_engine(request), row.id, None)  # type: ignore[union-attr]
    values = pending.get("values") or {}
    return {k: values.get(k) for k in ("decision", "reason", "lead_agency", "worker", "note", "closure_reason")}


@router.get("/families/{household_id}/print", response_class=HTMLResponse)
def family_print(request: Request, household_id: str, user: CurrentUser = Depends(requires("family.view"))) -> Response:
    """A one- or two-page summary of the family for the panel's papers (printed from the browser)."""
    run_id = _family_run(request, user, household_id, request.query_params.get("run"))
    _audit(request, user, "family.print", "household", household_id, {"run_id": run_id})
    _, context = _family_context(request, user, household_id, run_id)
    if _suppressed(request, household_id, context["latest"]):
        return _opted_out_page(request, user, household_id, run_id, context["latest"])
    context["printed_at"] = web._now()
    return render(request, "family_print.html", context)


@router.post("/families/{household_id}/override", response_class=HTMLResponse)
def override_opt_out(request: Request, household_id: str, user: CurrentUser = Depends(requires("decide"))) -> Response:
    """Show an opted-out family again, to record a new decision: needs a reason, and is audited."""
    form = _form(request)
    run_id = _family_run(request, user, household_id, str(form.get("run_id") or "") or None)
    history = store.decision_history(_engine(request), household_id)
    latest = history[0] if history else None
    if latest is None or latest["decision"] != "opted_out":
        return _redirect(f"/families/{quote(household_id, safe='')}?{urlencode({'run': run_id})}")
    reason = _clean(form.get("override_reason"))
    if not reason:
        context = {
            "user": user,
            "household_id": household_id,
            "run_id": run_id,
            "latest": latest,
            "errors": {"override_reason": "Enter why the family must be shown again, such as the consent it gave"},
        }
        return render(request, "family_opted_out.html", context, status_code=400)
    _audit(request, user, store.OPT_OUT_OVERRIDE, "household", household_id, {"run_id": run_id, "reason": reason})
    request.session["flash"] = "The opt-out is overridden for this family: the override is in the audit log."
    return _redirect(f"/families/{quote(household_id, safe='')}?{urlencode({'run': run_id})}#decide")


@router.post("/families/{household_id}/decisions", response_class=HTMLResponse)
def decide(request: Request, household_id: str, user: CurrentUser = Depends(requires("decide"))) -> Response:
    """Record a decision about a family.

    Accept (with lead agency and worker), reject (with reason), defer, already known,
    close an attached family (with a closure reason) or record that the family opted out.
    """
    try:
        form = parse_form(DecisionForm, _form(request))
    except ValidationError:
        raise HTTPException(status_code=400, detail="The form's decision marker is not a number.") from None
    run_id = _family_run(request, user, household_id, form.run_id)
    engine = _engine(request)
    current = store.current_status(engine, household_id)
    if current == "opted_out" and store.opt_out_override(engine, household_id) is None:
        # An opted-out family is shown as a stub; nothing is decided about it without an audited override.
        latest = store.decision_history(engine, household_id)[0]
        return _opted_out_page(request, user, household_id, run_id, latest, status_code=409)
    errors = service.decision_errors(current, form)
    if errors:
        # the page is shown again, family and all: that is a view, and is audited as one
        _audit(request, user, "family.view", "household", household_id, {"run_id": run_id, "after": "form_error"})
        return _family_page(request, user, household_id, run_id, errors, form.values(), status_code=400)
    try:
        service.record_decision(engine, household_id, run_id, form, user.username)
    except store.DecisionRefused as refused:  # another decision came first, or the status changed
        errors = {"decision": f"The decision was not saved: {refused}"}
        _audit(request, user, "family.view", "household", household_id, {"run_id": run_id, "after": "refused"})
        return _family_page(request, user, household_id, run_id, errors, form.values(), status_code=409)
    detail = {"run_id": run_id, "decision": form.decision}
    if form.stored_closure_reason():
        detail["closure_reason"] = str(form.stored_closure_reason())
    _audit(request, user, "decision", "household", household_id, detail)
    request.session["flash"] = f"Decision saved: {DECISION_LABELS[form.decision]}."
    return _redirect(f"/families/{household_id}?{urlencode({'run': run_id})}")


@router.post("/families/{household_id}/links", response_class=HTMLResponse)
def rule_on_link(
    request: Request, household_id: str, user: CurrentUser = Depends(requires("links.review"))
) -> Response:
    """Confirm a link (must_link) or say two records are not the same person (cannot_link); the next run respects it."""
    form = parse_form(LinkRulingForm, _form(request))
    run_id = _family_run(request, user, household_id, form.run_id)
    left, right, kind = form.record_key_l, form.record_key_r, form.kind
    keys = store.household_record_keys(_engine(request), run_id, household_id)
    if kind not in LINK_KINDS or left not in keys or right not in keys or left == right:
        raise HTTPException(status_code=400, detail="That pair of records is not part of this family.")
    store.add_link_constraint(_engine(request), left, right, kind, user.username, form.reason)
    _audit(
        request,
        user,
        f"link.{kind}",
        "household",
        household_id,
        {"run_id": run_id, "record_key_l": left, "record_key_r": right},
    )
    request.session["flash"] = (
        "Saved: the next run will keep these records apart."
        if kind == "cannot_link"
        else "Saved: the link is confirmed for future runs."
    )
    return _redirect(f"/families/{quote(household_id, safe='')}?{urlencode({'run': run_id, 'open': 'links'})}#links")
