"""Payment-by-results claims: a period's claims and summary, preparing drafts, a claim's evidence and status,
internal-audit sign-off and sample draws (issue 15, item 4).

Coordinators (``claims.prepare``) prepare a period's proposals into draft claims and move claims on
(withdrawn, submitted, paid, rejected); auditors (``claims.audit``) sign a draft off (``audited``) or
reject it with a reason (it is withdrawn), and draw the internal-audit sample; analysts only see the
list and summary (``claims.view``); the evidence (members, entry evidence, packs) needs
``claims.evidence``. The store refuses a sign-off by the user who prepared the claim. A coordinator
assigned to areas sees and prepares only the claims of families in them (others are a 404, audited).
Every view, preparation, status change, sample draw and pack download writes an audit row.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, Response

from tfident.errors import ClaimRefused, NotFound
from tfident.outcomes import ProgrammePeriod, load_outcomes_config
from tfident.review.auth import CurrentUser
from tfident.review.service import ClaimStatusForm, PrepareClaimsForm, SampleForm, parse_form
from tfident.review.web import _areas, _audit, _engine, _form, _not_found, _redirect, client_address, render, requires
from tfident.store import claims as store
from tfident.store.audit import AuditOrigin

router = APIRouter()
log = logging.getLogger(__name__)

STATUS_TAGS = {
    "draft": "govuk-tag--grey",
    "audited": "govuk-tag--blue",
    "submitted": "govuk-tag--light-blue",
    "paid": "govuk-tag--green",
    "rejected": "govuk-tag--red",
    "withdrawn": "govuk-tag--orange",
}
STATUS_LABELS = {
    "draft": "Draft",
    "audited": "Signed off by internal audit",
    "submitted": "Submitted",
    "paid": "Paid",
    "rejected": "Rejected by the department",
    "withdrawn": "Withdrawn",
}
COORDINATOR_MOVES = {
    "submitted": "Mark as submitted to the department",
    "paid": "Mark as paid",
    "rejected": "Mark as rejected by the department",
    "withdrawn": "Withdraw the claim",
}
"""The statuses a coordinator may move a claim to (as :data:`tfident.store.claims.TRANSITIONS` allows)."""
AUDIT_OUTCOMES = {"audited": "Sign off: the evidence supports the claim", "withdrawn": "Reject: withdraw the claim"}
"""An auditor's choices for a draft claim."""
REASON_NEEDED = ("withdrawn", "rejected")
PACK_FORMATS = {"html": ("text/html; charset=utf-8", "inline"), "xlsx": (None, "attachment")}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PACK_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""The printable pack has its own inline styles and no script."""


def _origin(request: Request, user: CurrentUser) -> AuditOrigin:
    return AuditOrigin(role=user.role, client_address=client_address(request), session_id=user.session_id)


def _periods(request: Request) -> tuple[ProgrammePeriod, ...]:
    """The configured programme periods (the settings', else ``outcomes.yaml``'s, read once)."""
    configured: tuple[ProgrammePeriod, ...] | None = request.app.state.settings.periods
    if configured is not None:
        return configured
    cached: tuple[ProgrammePeriod, ...] | None = getattr(request.app.state, "periods", None)
    if cached is None:
        cached = load_outcomes_config().periods
        request.app.state.periods = cached
    return cached


def _period(request: Request, user: CurrentUser, period_id: str | None) -> ProgrammePeriod:
    """The period named (default: the last configured); 404 (audited) when there is no such period."""
    periods = _periods(request)
    if not periods:
        raise HTTPException(status_code=404, detail="No programme periods are configured (periods in outcomes.yaml).")
    if not period_id:
        return periods[-1]
    found = next((p for p in periods if p.id == period_id), None)
    if found is None:
        raise _not_found(request, user, "claim_period", period_id[:16])
    return found


def _allowed_attachments(request: Request, user: CurrentUser, attachment_ids: list[int]) -> set[int]:
    """The attachments whose families are in the user's areas (all of them for a user without areas)."""
    if not user.areas:
        return set(attachment_ids)
    areas = _areas(request)
    postcodes = store.attachment_postcodes(_engine(request), attachment_ids)
    return {a for a, postcode in postcodes.items() if areas.within(postcode, user.areas)}


MAX_CLAIM_DIGITS = 18


def _claim_number(request: Request, user: CurrentUser, text: str) -> int:
    """A claim id from the address; anything not a claim number is a 404 (audited), like an unknown claim."""
    if not text.isdigit() or len(text) > MAX_CLAIM_DIGITS:
        raise _not_found(request, user, "claim", text[:40])
    return int(text)


def _claim_or_404(request: Request, user: CurrentUser, claim_id: int) -> dict[str, Any]:
    """The claim; 404 (audited) when there is none or its family is outside the user's areas."""
    try:
        claim = store.read_claim(_engine(request), claim_id)
    except NotFound:
        raise _not_found(request, user, "claim", str(claim_id)) from None
    if claim["attachment_id"] not in _allowed_attachments(request, user, [claim["attachment_id"]]):
        detail = {"user_areas": list(user.areas), "path": request.url.path}
        _audit(request, user, "claim.out_of_area", "claim", str(claim_id), detail)
        raise HTTPException(status_code=404, detail="Page not found")
    return claim


def _claims_url(period_id: str) -> str:
    return "/claims?" + urlencode({"period": period_id})


@router.get("/claims", response_class=HTMLResponse)
def claims_page(request: Request, user: CurrentUser = Depends(requires("claims.view"))) -> Response:
    """A period's claims (family, route, status, amount, who and when) and its summary numbers."""
    period = _period(request, user, request.query_params.get("period"))
    engine = _engine(request)
    rows = store.list_claims(engine, period.id)
    allowed = _allowed_attachments(request, user, [r["attachment_id"] for r in rows])
    rows = [r for r in rows if r["attachment_id"] in allowed]
    summary = store.period_summary(engine, period)
    _audit(request, user, "claims.view", "claim_period", period.id, {"claims": len(rows)})
    context = {
        "user": user,
        "period": period,
        "periods": _periods(request),
        "rows": rows,
        "summary": summary,
        "status_tags": STATUS_TAGS,
        "status_labels": STATUS_LABELS,
    }
    return render(request, "claims.html", context)


def _proposals(request: Request, user: CurrentUser, period: ProgrammePeriod) -> tuple[str, list[store.Proposal]]:
    """The claim run and the proposals of the period, within the user's areas (:class:`NotFound`: no run)."""
    engine = _engine(request)
    found = store.claim_run(engine, period)
    if found is None:
        raise NotFound(f"There is no published {period.ruleset_id} run with a batch date in period {period.id} yet.")
    proposals = store.prepare_claims(engine, period, user.username, run_id=found[0], dry_run=True)
    allowed = _allowed_attachments(request, user, [p.attachment_id for p in proposals])
    return found[0], [p for p in proposals if p.attachment_id in allowed]


def _prepare_page(
    request: Request,
    user: CurrentUser,
    period: ProgrammePeriod,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    run_id: str | None = None
    proposals: list[store.Proposal] = []
    problem: str | None = None
    try:
        run_id, proposals = _proposals(request, user, period)
    except NotFound as missing:
        problem = str(missing)
    claimed = {r["attachment_id"]: r["claim_id"] for r in store.list_claims(_engine(request), period.id)}
    _audit(
        request,
        user,
        "claims.preview",
        "claim_period",
        period.id,
        {
            "run_id": run_id,
            "proposals": len(proposals),
            "new": sum(1 for p in proposals if p.attachment_id not in claimed),
        },
    )
    context = {
        "user": user,
        "period": period,
        "periods": _periods(request),
        "run_id": run_id,
        "proposals": proposals,
        "claimed": claimed,
        "to_prepare": sum(1 for p in proposals if p.attachment_id not in claimed),
        "problem": problem,
        "errors": errors or {},
    }
    return render(request, "claims_prepare.html", context, status_code=status_code)


@router.get("/claims/prepare", response_class=HTMLResponse)
def prepare_preview(request: Request, user: CurrentUser = Depends(requires("claims.prepare"))) -> Response:
    """The claims the period's latest run allows (a dry run), for a coordinator to confirm."""
    period = _period(request, user, request.query_params.get("period"))
    return _prepare_page(request, user, period)


@router.post("/claims/prepare", response_class=HTMLResponse)
def prepare(request: Request, user: CurrentUser = Depends(requires("claims.prepare"))) -> Response:
    """Record the previewed proposals as draft claims with their evidence packs (each audited)."""
    form = parse_form(PrepareClaimsForm, _form(request))
    period = _period(request, user, form.period)
    try:
        run_id, proposals = _proposals(request, user, period)
    except NotFound as missing:
        return _prepare_page(request, user, period, {"prepare": str(missing)}, status_code=409)
    if run_id != form.run_id:
        message = "A newer run was published since the preview: check the proposals below and confirm again"
        return _prepare_page(request, user, period, {"prepare": message}, status_code=409)
    made = store.prepare_claims(
        _engine(request),
        period,
        user.username,
        run_id=run_id,
        attachment_ids={p.attachment_id for p in proposals},
        origin=_origin(request, user),
    )
    prepared = sum(1 for p in made if p.claim_id is not None)
    refused = len(made) - prepared
    _audit(
        request,
        user,
        "claims.prepare",
        "claim_period",
        period.id,
        {"run_id": run_id, "proposals": len(made), "prepared": prepared, "refused": refused},
    )
    request.session["flash"] = f"{prepared} draft claim(s) prepared for period {period.id}" + (
        f"; {refused} refused (the family already has a claim in the period)." if refused else "."
    )
    return _redirect(_claims_url(period.id))


def _sample_page(
    request: Request,
    user: CurrentUser,
    period: ProgrammePeriod,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    chosen: list[int] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "user": user,
        "period": period,
        "periods": _periods(request),
        "errors": errors or {},
        "values": values or {"percent": "10"},
        "chosen": chosen,
    }
    return render(request, "claims_sample.html", context, status_code=status_code)


@router.get("/claims/sample", response_class=HTMLResponse)
def sample_form(request: Request, user: CurrentUser = Depends(requires("claims.audit"))) -> Response:
    """The internal-audit sample form: period, seed and percent."""
    period = _period(request, user, request.query_params.get("period"))
    return _sample_page(request, user, period)


MAX_SEED = 2**31 - 1


def sample_errors(form: SampleForm) -> tuple[dict[str, str], int, float]:
    """What is wrong with a sample form, by field, and its seed and percent."""
    errors: dict[str, str] = {}
    seed, percent = 0, 0.0
    if not form.seed.isdigit() or int(form.seed) > MAX_SEED:
        errors["seed"] = f"Enter the seed as a whole number from 0 to {MAX_SEED:,}"
    else:
        seed = int(form.seed)
    try:
        percent = float(form.percent)
    except ValueError:
        percent = -1.0
    if not 0.1 <= percent <= 100:
        errors["percent"] = "Enter the percentage of claims to draw, from 0.1 to 100"
    return errors, seed, percent


@router.post("/claims/sample", response_class=HTMLResponse)
def draw_sample(request: Request, user: CurrentUser = Depends(requires("claims.audit"))) -> Response:
    """Draw the period's internal-audit sample (recorded in ``claim_checks`` and the audit log)."""
    form = parse_form(SampleForm, _form(request))
    period = _period(request, user, form.period)
    values = {"seed": form.seed, "percent": form.percent}
    errors, seed, percent = sample_errors(form)
    if errors:
        return _sample_page(request, user, period, errors, values, status_code=400)
    chosen = store.audit_sample(
        _engine(request), period.id, percent, seed, user.username, origin=_origin(request, user)
    )
    return _sample_page(request, user, period, values=values, chosen=chosen)


def _attachment_run(sections: list[tuple[str, list[str], list[list[str]]]]) -> str | None:
    """The run the family was attached on (where its family page shows why it was a candidate)."""
    for title, _, rows in sections:
        if title == "Attachment":
            return next((value for field, value in rows if field == "run_id"), None)
    return None


def _claim_page(
    request: Request,
    user: CurrentUser,
    claim: dict[str, Any],
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    engine = _engine(request)
    claim_id = claim["claim_id"]
    status = claim["status"]
    moves = {s: COORDINATOR_MOVES[s] for s in store.TRANSITIONS[status] if s in COORDINATOR_MOVES}
    sections = store.pack_sections(engine, claim_id) if user.can("claims.evidence") else []
    context = {
        "user": user,
        "claim": claim,
        "sections": sections,
        "family_run": _attachment_run(sections) if user.can("family.view") else None,
        "history": store.claim_history(engine, claim_id),
        "samples": store.claim_samples(engine, claim_id),
        "moves": moves if user.can("claims.prepare") else {},
        "audit_outcomes": AUDIT_OUTCOMES if user.can("claims.audit") and status == "draft" else {},
        "own_claim": claim["prepared_by"] == user.username,
        "status_tags": STATUS_TAGS,
        "status_labels": STATUS_LABELS,
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "claim.html", context, status_code=status_code)


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
def claim_page(request: Request, claim_id: str, user: CurrentUser = Depends(requires("claims.view"))) -> Response:
    """One claim: route, amount, evidence sections, status history, the packs' SHA-256 and the allowed actions."""
    claim = _claim_or_404(request, user, _claim_number(request, user, claim_id))
    _audit(request, user, "claim.view", "claim", str(claim["claim_id"]), {"period": claim["period"]})
    return _claim_page(request, user, claim)


def _move(request: Request, user: CurrentUser, claim_id: int, choices: dict[str, str], what: str) -> Response:
    """Move a claim to the status chosen among ``choices``, with the reason the status needs."""
    claim = _claim_or_404(request, user, claim_id)
    form = parse_form(ClaimStatusForm, _form(request))
    values = {"status": form.status, "reason": form.reason}
    errors: dict[str, str] = {}
    if choices is AUDIT_OUTCOMES and claim["status"] != "draft":
        status = STATUS_LABELS[claim["status"]].lower()
        errors["status"] = f"Only a draft claim is signed off or rejected by internal audit: this one is {status}"
    elif form.status not in choices:
        errors["status"] = f"Choose {what}"
    elif form.status in REASON_NEEDED and not form.reason:
        errors["reason"] = "Enter the reason"
    if errors:
        return _claim_page(request, user, claim, errors, values, status_code=400)
    try:
        store.set_status(
            _engine(request),
            claim_id,
            form.status,
            user.username,
            reason=form.reason or None,
            origin=_origin(request, user),
        )
    except ClaimRefused as refused:
        _audit(request, user, "claim.refused", "claim", str(claim_id), {"to": form.status, "why": str(refused)})
        fresh = store.read_claim(_engine(request), claim_id)
        return _claim_page(request, user, fresh, {"status": str(refused)}, values, status_code=409)
    request.session["flash"] = f"Claim {claim_id}: {STATUS_LABELS[form.status].lower()}."
    return _redirect(f"/claims/{claim_id}")


@router.post("/claims/{claim_id}/status", response_class=HTMLResponse)
def move_claim(request: Request, claim_id: str, user: CurrentUser = Depends(requires("claims.prepare"))) -> Response:
    """A coordinator withdraws a claim or marks it submitted, paid or rejected (audited, with the reason)."""
    return _move(request, user, _claim_number(request, user, claim_id), COORDINATOR_MOVES, "what happened to the claim")


@router.post("/claims/{claim_id}/sign-off", response_class=HTMLResponse)
def sign_off(request: Request, claim_id: str, user: CurrentUser = Depends(requires("claims.audit"))) -> Response:
    """An auditor signs a draft claim off (``audited``) or rejects it with a reason (it is withdrawn)."""
    return _move(
        request, user, _claim_number(request, user, claim_id), AUDIT_OUTCOMES, "whether the claim is signed off"
    )


@router.get("/claims/{claim}/pack.{fmt}")
def download_pack(
    request: Request, claim: str, fmt: str, user: CurrentUser = Depends(requires("claims.evidence"))
) -> Response:
    """The claim's evidence pack, rebuilt: the printable HTML page or the XLSX workbook (audited with its SHA-256)."""
    if fmt not in PACK_FORMATS:
        raise _not_found(request, user, "claim_pack", f"{claim[:20]}.{fmt[:8]}")
    claim_id = _claim_number(request, user, claim)
    row = _claim_or_404(request, user, claim_id)
    page, workbook = store.evidence_pack(_engine(request), claim_id)
    data = page if fmt == "html" else workbook
    digest = store.sha256(data)
    stored = row[f"pack_{fmt}_sha256"]
    if digest != stored:
        log.warning("claim %s: the rebuilt %s evidence pack does not match its stored SHA-256", claim_id, fmt)
    detail = {"format": fmt, "sha256": digest, "matches_stored": digest == stored}
    _audit(request, user, "claim.pack_download", "claim", str(claim_id), detail)
    media_type, disposition = PACK_FORMATS[fmt]
    headers = {
        "Content-Disposition": f'{disposition}; filename="claim-{claim_id}-evidence.{fmt}"',
        "X-Evidence-SHA256": digest,
    }
    if fmt == "html":
        headers["Content-Security-Policy"] = PACK_CSP
    return Response(data, media_type=media_type or XLSX, headers=headers)
