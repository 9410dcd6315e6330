"""The review logic under the routes (issue 14, item 7): pydantic forms and decision rules in one place,
enforced for scripts as for the app.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from tfident.review.service import (
    CodeForm,
    DecisionForm,
    LinkRulingForm,
    NewAccountForm,
    PasswordResetForm,
    SignInForm,
    decision_errors,
    decision_options,
    record_decision,
)
from tfident.store import review as store


def test_a_script_cannot_accept_a_family_without_a_lead_agency(engine: Engine) -> None:
    """It refuses, in the store every caller goes through, an accept with no (or a blank) lead agency."""
    for lead_agency in (None, "", "   "):
        with pytest.raises(store.DecisionRefused, match="lead agency"):
            store.add_decision(
                engine,
                store.DecisionInput(
                    household_id="H1", run_id="R-OCT", decision="accept", username="script", lead_agency=lead_agency
                ),
            )
    assert store.decision_history(engine, "H1") == []
    store.add_decision(
        engine,
        store.DecisionInput(household_id="H1", run_id="R-OCT", decision="accept", username="script", lead_agency="EH"),
    )
    assert store.current_status(engine, "H1") == "accept"


def test_the_decision_form_trims_and_bounds_its_fields() -> None:
    """It trims text, turns blanks into None, cuts long text and keeps a closure reason only for a closure."""
    form = DecisionForm.model_validate(
        {
            "decision": " reject ",
            "reason": "  ",
            "note": "n" * 5000,
            "closure_reason": "moved_away",
            "seen_decision": "",
        }
    )
    assert form.decision == "reject"
    assert form.reason is None
    assert len(form.note or "") == 4000
    assert form.seen_decision is None
    assert form.stored_closure_reason() is None
    with pytest.raises(ValidationError):
        DecisionForm.model_validate({"seen_decision": "1; DROP TABLE decisions"})
    with pytest.raises(ValidationError):
        DecisionForm.model_validate({"seen_decision": "-1"})


def test_the_form_rules_name_each_missing_field() -> None:
    """It names each field a person must fill for the decision chosen, for the error summary."""
    assert decision_errors("new", DecisionForm(decision="accept")) == {
        "lead_agency": "Enter the lead agency for an accepted family",
        "worker": "Enter the lead worker for an accepted family",
    }
    assert set(decision_errors("new", DecisionForm(decision="reject"))) == {"reason"}
    assert set(decision_errors("new", DecisionForm(decision="closed"))) == {"decision"}
    assert decision_errors("accept", DecisionForm(decision="closed", closure_reason="other")) == {
        "reason": "Enter the reason for closing the family"
    }
    assert decision_errors("new", DecisionForm(decision="bogus")) == {"decision": "Choose a decision"}
    assert "closed" not in decision_options("new")
    assert "closed" in decision_options("accept")


def test_recording_goes_through_the_store_rules(engine: Engine) -> None:
    """It records a checked decision and lets the store refuse a stale one (seen decision out of date)."""
    record_decision(engine, "H2", "R-OCT", DecisionForm(decision="defer", seen_decision=0), "cora")
    with pytest.raises(store.DecisionRefused):
        record_decision(engine, "H2", "R-OCT", DecisionForm(decision="known", seen_decision=0), "cora")


def test_the_link_ruling_form_bounds_its_keys() -> None:
    """It cuts record keys to 500 characters and blanks to None."""
    form = LinkRulingForm.model_validate({"record_key_l": "k" * 900, "kind": "must_link", "reason": " "})
    assert len(form.record_key_l) == 500
    assert form.reason is None
    assert form.run_id is None


def test_account_forms_trim_names_and_cut_every_field_at_its_limit() -> None:
    signin = SignInForm.model_validate({"username": "  coordinator  ", "password": " x" * 600, "next": "/" * 3000})
    assert signin.username == "coordinator"
    assert signin.password == (" x" * 600)[:1024]  # a password is never stripped
    assert len(signin.next) == 2000
    assert SignInForm.model_validate({"username": "u" * 100}).username == "u" * 64
    assert SignInForm.model_validate({}).password == ""
    account = NewAccountForm.model_validate({"username": " amy ", "role": " auditor ", "password": None})
    assert (account.username, account.role, account.password) == ("amy", "auditor", "")
    assert PasswordResetForm.model_validate({"password": "p" * 2000, "remove_totp": "yes"}).remove_totp
    assert len(PasswordResetForm.model_validate({"password": "p" * 2000}).password) == 1024
    assert CodeForm.model_validate({"code": "1" * 50}).code == "1" * 20
