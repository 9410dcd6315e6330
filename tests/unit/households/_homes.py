"""A small world of homes for the households rules' table-driven tests: each row is one record
of a named person (``...KID``: a child) at a named home, and :func:`placed` says where the rules
put everyone and how each home is flagged.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from tfident.households import HouseholdsConfig, assign_households

D = date(2026, 10, 31)
ADULT, CHILD = date(1990, 1, 1), date(2014, 1, 1)
# two families' homes: each moved from OLD to NEW (C_OLD to C_NEW); THIRD is somewhere else
HOMES = {"OLD": 10, "NEW": 20, "THIRD": 30, "C_OLD": 40, "C_NEW": 50}
GAZETTEER = pl.DataFrame(
    {
        "uprn": list(HOMES.values()),
        "address_line_1": [f"{uprn} Some Street" for uprn in HOMES.values()],
        "town": ["Tenford"] * len(HOMES),
        "postcode": ["TF1 1AA"] * len(HOMES),
    }
)


def row(
    person: str, source: str, evidence: date, where: str, opened: date | None = None, surname: str = "SMITH"
) -> dict[str, Any]:
    """One record of ``person`` (a child when the name ends ``KID``) at home ``where``; ``opened``:
    when an open record (a live claim) was opened; ``surname``: the standardised surname.
    """
    dob = CHILD if person.endswith("KID") else ADULT
    return {
        "person": person,
        "source": source,
        "evidence": evidence,
        "dob": dob,
        "where": where,
        "opened": opened,
        "surname": surname,
    }


def placed(rows: list[dict[str, Any]], **config: Any) -> tuple[dict[str, str], dict[str, str]]:
    """``(person -> home, home -> review reason)`` under ``HouseholdsConfig(**config)``."""
    keys = [f"{r['source']}:{i}" for i, r in enumerate(rows)]
    records = pl.DataFrame(
        {
            "record_key": keys,
            "source": [r["source"] for r in rows],
            "date_of_birth": [r["dob"] for r in rows],
            "evidence_date": [r["evidence"] for r in rows],
            "address": [f"{HOMES[r['where']]} Some Street" for r in rows],
            "postcode_std": ["TF1 1AA"] * len(rows),
            "uprn_matched": [HOMES[r["where"]] for r in rows],
            "address_match": ["exact"] * len(rows),
            "surname_std": [r.get("surname", "SMITH") for r in rows],
        },
        schema_overrides={"date_of_birth": pl.Date, "evidence_date": pl.Date, "uprn_matched": pl.Int64},
    )
    index = records.select("record_key", pl.Series("person_id", [r["person"] for r in rows]))
    opened = pl.DataFrame(
        {"record_key": keys, "opened": [r.get("opened") for r in rows]},
        schema={"record_key": pl.String, "opened": pl.Date},
    ).drop_nulls()
    residents, households = assign_households(
        records, index, D, gazetteer=GAZETTEER, config=HouseholdsConfig(**config), opened=opened
    )
    where_is = {str(uprn): name for name, uprn in HOMES.items()}
    home = {h: where_is[str(u)] for h, u in zip(households["household_id"], households["uprn"], strict=True)}
    flags = {home[h]: r for h, r in zip(households["household_id"], households["review_reason"], strict=True) if r}
    return {p: home[h] for p, h in zip(residents["person_id"], residents["household_id"], strict=True)}, flags


def keyed(rows: list[tuple[str, str | None, date, str | None]]) -> pl.DataFrame:
    """Records already keyed, for calling one rule on its own: ``(person, address key, date,
    address status)`` rows, none of them open, every person surnamed SMITH.
    """
    return pl.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "address_key": [r[1] for r in rows],
            "evidence_date": [r[2] for r in rows],
            "address_status": [r[3] for r in rows],
            "_open": [False] * len(rows),
            "surname_std": ["SMITH"] * len(rows),
        },
        schema_overrides={"evidence_date": pl.Date, "address_key": pl.String, "address_status": pl.String},
    )
