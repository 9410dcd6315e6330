"""The family page warns when a household's address has no gazetteer UPRN, or the moved-alone rule placed it."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tfident.store.tables import metadata

households = metadata.tables["households"]


def test_family_page_shows_an_unmatched_address_and_a_review_reason(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    with engine.begin() as connection:
        connection.execute(
            households.update()
            .where(households.c.household_id == "H2")
            .values(uprn=None, address_status="not_in_gazetteer", review_reason="moved_together")
        )
    signed_in("coordinator")
    flagged = client.get("/families/H2").text
    assert "govuk-warning-text" in flagged
    assert "Address not matched to the gazetteer: not in the gazetteer" in flagged
    assert "Check who lives here: one member&#39;s records show a new address" in flagged
    plain = client.get("/families/H1").text
    assert "Address not matched to the gazetteer" not in plain
    assert "Check who lives here" not in plain
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(households.c.address_status).where(households.c.household_id == "H1")).scalar()
            is None
        )
