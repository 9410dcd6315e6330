"""The review logic under the routes: decision rules in one place, pydantic forms, no HTTP.

Routes parse a submitted form into a pydantic model (:class:`DecisionForm`,
:class:`LinkRulingForm`), ask this module what is wrong with it for the family's current
status (:func:`decision_errors`, field by field, for the GOV.UK error summary) and record
it (:func:`record_decision`). The rules that must hold whoever records a decision (a
script, ``tfident`` commands, the app) live one layer down in
:func:`tfident.store.review.decision_refusal`, which :func:`tfident.store.review.add_decision`
enforces: accept needs a lead agency, only an attached family can be closed (with a
closure reason), only a new, deferred or attached one can opt out. This module adds what
the review form asks of a person on top (a lead worker to accept, a reason to reject).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from sqlalchemy.engine import Engine

from tfident.store import review as store
from tfident.store.tables import CLOSURE_REASONS, DECISIONS

MAX_TEXT = 500
MAX_NOTE = 4000

DECISION_LABELS = {
    "new": "New",
    "accept": "Accepted (attached)",
    "reject": "Rejected",
    "defer": "Deferred",
    "known": "Already known",
    "closed": "Closed",
    "opted_out": "Opted out",
}
DECISION_OPTIONS = {
    "accept": "Accept: attach to the programme",
    "reject": "Reject",
    "defer": "Defer to next month",
    "known": "Already known to social care or early help",
    "closed": "Close: the family's work with the programme has ended",
    "opted_out": "Opted out: the family declined consent to work with the programme",
}
"""The decision form's radios, in order."""


def _text(value: Any, limit: int) -> str | None:
    text = str(value or "").strip()
    return text[:limit] or None


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


_FormT = TypeVar("_FormT", bound=_Form)


class DecisionForm(_Form):
    """A submitted decision form: text trimmed and cut to length, blanks as None."""

    run_id: str | None = None
    decision: str = ""
    reason: str | None = None
    lead_agency: str | None = None
    worker: str | None = None
    note: str | None = None
    closure_reason: str | None = None
    seen_decision: int | None = Field(default=None, ge=0, le=10**18)
    """The id of the latest decision the page showed (0: none), so two coordinators cannot overwrite each other."""

    @field_validator("reason", "lead_agency", "worker", mode="before")
    @classmethod
    def _short(cls, value: Any) -> str | None:
        return _text(value, MAX_TEXT)

    @field_validator("note", mode="before")
    @classmethod
    def _note(cls, value: Any) -> str | None:
        return _text(value, MAX_NOTE)

    @field_validator("closure_reason", mode="before")
    @classmethod
    def _closure(cls, value: Any) -> str | None:
        return _text(value, 32)

    @field_validator("run_id", mode="before")
    @classmethod
    def _run(cls, value: Any) -> str | None:
        return _text(value, 40)

    @field_validator("decision", mode="before")
    @classmethod
    def _decision(cls, value: Any) -> str:
        return str(value or "").strip()[:32]

    @field_validator("seen_decision", mode="before")
    @classmethod
    def _seen(cls, value: Any) -> Any:
        return None if value in (None, "") else value

    def values(self) -> dict[str, Any]:
        """What the family page's form shows again after an error."""
        return self.model_dump(include={"decision", "reason", "lead_agency", "worker", "note", "closure_reason"})

    def stored_closure_reason(self) -> str | None:
        """The closure reason, kept only for a closure."""
        return self.closure_reason if self.decision == "closed" else None


class LinkRulingForm(_Form):
    """A ruling on a link: two record keys and whether they are one person."""

    run_id: str | None = None
    record_key_l: str = Field(default="", max_length=500)
    record_key_r: str = Field(default="", max_length=500)
    kind: str = ""
    reason: str | None = None
    household_id: str | None = None

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, value: Any) -> str | None:
        return _text(value, MAX_TEXT)

    @field_validator("record_key_l", "record_key_r", "kind", mode="before")
    @classmethod
    def _key(cls, value: Any) -> str:
        return str(value or "")[:500]

    @field_validator("run_id", "household_id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> str | None:
        return _text(value, 500)


def _clipped(limit: int, strip: bool = False) -> BeforeValidator:
    """A form field's text: absent as empty, optionally stripped, cut at ``limit`` characters."""

    def clip(value: Any) -> str:
        text = str(value or "")
        return (text.strip() if strip else text)[:limit]

    return BeforeValidator(clip)


Password = Annotated[str, _clipped(1024)]
"""A password as typed, cut at 1,024 characters (never hashed longer)."""


class SignInForm(_Form):
    """The sign-in form: the name trimmed to 64 characters, the password to 1,024 (never hashed longer)."""

    username: Annotated[str, _clipped(64, strip=True)] = ""
    password: Password = ""
    next: Annotated[str, _clipped(2000)] = ""


class NewAccountForm(_Form):
    """An admin's new account: name, role and first password (checked against the policy by the page)."""

    username: Annotated[str, _clipped(200, strip=True)] = ""
    role: Annotated[str, _clipped(200, strip=True)] = ""
    password: Password = ""


class PasswordResetForm(_Form):
    """An admin's password reset, optionally removing the second factor."""

    password: Password = ""
    remove_totp: bool = False

    @field_validator("remove_totp", mode="before")
    @classmethod
    def _checkbox(cls, value: Any) -> bool:
        return bool(value == "yes")


class CodeForm(_Form):
    """A 6-digit code from an authenticator app."""

    code: Annotated[str, _clipped(20)] = ""


def decision_options(current: str | None) -> dict[str, str]:
    """The decisions that may follow a family's latest one (closing needs an attached family)."""
    status = current or store.STATUS_NEW
    return {
        decision: label
        for decision, label in DECISION_OPTIONS.items()
        if (decision != "closed" or status in store.CLOSABLE_FROM)
        and (decision != "opted_out" or status in store.OPT_OUT_FROM)
    }


def decision_errors(current: str, form: DecisionForm) -> dict[str, str]:
    """What is missing from a submitted decision, or does not fit the family's current status, by field."""
    decision = form.decision
    status_label = DECISION_LABELS.get(current, current).lower()
    errors: dict[str, str] = {}
    if decision not in DECISIONS:
        errors["decision"] = "Choose a decision"
    elif decision == "closed" and current not in store.CLOSABLE_FROM:
        errors["decision"] = f"Only a family attached to the programme can be closed: this family is {status_label}"
        return errors
    elif decision == "opted_out" and current not in store.OPT_OUT_FROM:
        errors["decision"] = f"Only a new, deferred or attached family can opt out: this family is {status_label}"
        return errors
    if decision == "accept" and not form.lead_agency:
        errors["lead_agency"] = "Enter the lead agency for an accepted family"
    if decision == "accept" and not form.worker:
        errors["worker"] = "Enter the lead worker for an accepted family"
    if decision == "reject" and not form.reason:
        errors["reason"] = "Enter the reason for rejecting the family"
    if decision == "closed" and form.closure_reason not in CLOSURE_REASONS:
        errors["closure_reason"] = "Choose why the family's work with the programme has ended"
    if decision == "closed" and form.closure_reason == "other" and not form.reason:
        errors["reason"] = "Enter the reason for closing the family"
    return errors


def record_decision(engine: Engine, household_id: str, run_id: str, form: DecisionForm, username: str) -> None:
    """Store a checked decision; raises :class:`tfident.store.review.DecisionRefused` when the store's rules
    refuse it (another decision came first, or the family's status changed).
    """
    store.add_decision(
        engine,
        store.DecisionInput(
            household_id=household_id,
            run_id=run_id,
            decision=form.decision,
            username=username,
            reason=form.reason,
            lead_agency=form.lead_agency,
            worker=form.worker,
            note=form.note,
            closure_reason=form.stored_closure_reason(),
            seen_decision_id=form.seen_decision,
        ),
    )


def parse_form(model: type[_FormT], form: Any) -> _FormT:
    """A form model from submitted form data (the first value of each field)."""
    return model.model_validate({key: form.get(key) for key in model.model_fields})


class PrepareClaimsForm(_Form):
    """Confirming a period's claims: the period and the run the preview proposed them from."""

    period: Annotated[str, _clipped(16, strip=True)] = ""
    run_id: Annotated[str, _clipped(40, strip=True)] = ""


class ClaimStatusForm(_Form):
    """A claim's next status (coordinators) or internal-audit outcome (auditors), and why."""

    status: Annotated[str, _clipped(16, strip=True)] = ""
    reason: Annotated[str, _clipped(MAX_TEXT, strip=True)] = ""


class SampleForm(_Form):
    """An internal-audit sample draw: period, seed and percent as typed (checked by the page)."""

    period: Annotated[str, _clipped(16, strip=True)] = ""
    seed: Annotated[str, _clipped(20, strip=True)] = ""
    percent: Annotated[str, _clipped(20, strip=True)] = ""
