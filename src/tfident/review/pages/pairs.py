"""The record-pair page: two linked records side by side, and a ruling on the link."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, Response

from tfident.review.auth import (
    CurrentUser,
)
from tfident.review.service import LinkRulingForm, parse_form
from tfident.review.web import (
    LINK_KINDS,
    _audit,
    _check_area,
    _engine,
    _form,
    _not_found,
    _redirect,
    _thresholds,
    _with_weights,
    pair_url,
    render,
    requires,
)
from tfident.store import latest_run_id
from tfident.store import review as store

router = APIRouter()
log = logging.getLogger(__name__)


PAIR_FIELDS: tuple[tuple[str, str], ...] = (
    ("source", "Source"),
    ("record_id", "Record"),
    ("forename", "Forename"),
    ("middle_names", "Middle names"),
    ("surname", "Surname"),
    ("date_of_birth", "Date of birth"),
    ("sex", "Sex"),
    ("address", "Address"),
    ("postcode", "Postcode"),
    ("uprn", "UPRN sent"),
    ("uprn_matched", "UPRN matched"),
    ("evidence_date", "Dated"),
)
"""Fields of a record shown side by side on the record-pair page, with their labels."""


COMPARED_FIELDS = frozenset(
    {"forename", "middle_names", "surname", "date_of_birth", "sex", "address", "postcode", "uprn", "uprn_matched"}
)


def _same(left: Any, right: Any) -> bool | None:
    """Whether two values agree (case and spacing ignored), or None when either is missing."""
    if left is None or right is None or left == "" or right == "":
        return None
    return " ".join(str(left).upper().split()) == " ".join(str(right).upper().split())


def _pair_or_404(
    request: Request, user: CurrentUser, run_id: str, left: str, right: str, household_id: str | None
) -> tuple[store.RecordPair, str]:
    """The stored link of the run between ``left`` and ``right`` and the candidate family it is shown for."""
    pair = store.read_pair(_engine(request), run_id, left, right) if run_id and left and right else None
    if pair is None or (household_id and household_id not in pair.households):
        raise _not_found(request, user, "link", f"{run_id}/{left}/{right}")
    shown_for = household_id or pair.households[0]
    if user.areas:
        _, postcode = store.candidate_postcode(_engine(request), pair.run_id, shown_for)
        _check_area(request, user, shown_for, pair.run_id, postcode)
    return pair, shown_for


def _pair_page(request: Request, user: CurrentUser, pair: store.RecordPair, household_id: str) -> HTMLResponse:
    engine = _engine(request)
    link = _with_weights(dict(pair.link))
    left, right = pair.left, pair.right
    rows = [
        {
            "name": name,
            "label": label,
            "left": left.get(name),
            "right": right.get(name),
            "same": _same(left.get(name), right.get(name)) if name in COMPARED_FIELDS else None,
            "compared": name in COMPARED_FIELDS,
        }
        for name, label in PAIR_FIELDS
    ]
    history = store.link_constraint_history(engine, left["record_key"], right["record_key"])
    limits = _thresholds(store.readable_run(engine, pair.run_id))
    context = {
        "user": user,
        "pair": pair,
        "link": link,
        "left": left,
        "right": right,
        "rows": rows,
        "household_id": household_id,
        "history": history,
        "ruling": history[0] if history else None,
        "uncertain_below": limits.review,
        "match_threshold": limits.match,
        "family_url": f"/families/{household_id}?{urlencode({'run': pair.run_id})}",
    }
    return render(request, "pair.html", context)


@router.get("/pairs", response_class=HTMLResponse)
def pair_page(request: Request, user: CurrentUser = Depends(requires("links.review"))) -> Response:
    """Two linked records side by side, with the match weights and a form to confirm or reject the link."""
    params = request.query_params
    run_id = params.get("run", "")[:40] or latest_run_id(_engine(request)) or ""
    left, right = params.get("left", "")[:500], params.get("right", "")[:500]
    pair, household_id = _pair_or_404(request, user, run_id, left, right, params.get("household", "")[:500] or None)
    _audit(
        request,
        user,
        "pair.view",
        "household",
        household_id,
        {"run_id": pair.run_id, "record_key_l": left, "record_key_r": right},
    )
    return _pair_page(request, user, pair, household_id)


@router.post("/pairs", response_class=HTMLResponse)
def rule_on_pair(request: Request, user: CurrentUser = Depends(requires("links.review"))) -> Response:
    """Confirm (must_link) or reject (cannot_link) the link shown on the record-pair page; the next run respects it."""
    form = parse_form(LinkRulingForm, _form(request))
    run_id = (form.run_id or "")[:40]
    left, right, household, kind = form.record_key_l, form.record_key_r, form.household_id, form.kind
    if kind not in LINK_KINDS:
        raise HTTPException(status_code=400, detail="Choose whether the records are the same person.")
    pair, household_id = _pair_or_404(request, user, run_id, left, right, household)
    store.add_link_constraint(_engine(request), left, right, kind, user.username, form.reason)
    _audit(
        request,
        user,
        f"link.{kind}",
        "household",
        household_id,
        {"run_id": pair.run_id, "record_key_l": left, "record_key_r": right},
    )
    request.session["flash"] = (
        "Saved: the next run will keep these records apart."
        if kind == "cannot_link"
        else "Saved: the link is confirmed for future runs."
    )
    return _redirect(pair_url(pair.run_id, left, right, household_id))
