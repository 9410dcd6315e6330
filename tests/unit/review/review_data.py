"""A small stored run for the review app's tests: three candidate families, one with a hostile surname."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import cache

import polars as pl
from sqlalchemy.engine import Engine

from tfident.review.auth import hash_password
from tfident.store import RunRecord, init_db, make_engine, passwords, write_run
from tfident.store.review import add_user

PASSWORD = "correct horse battery staple"
ROLES = ("coordinator", "analyst", "auditor", "admin")
OCTOBER = date(2026, 10, 31)
NOVEMBER = date(2026, 11, 30)
XSS = "<script>alert(1)</script>"


def run_record(run_id: str, as_of: date) -> RunRecord:
    """A run record with made-up config."""
    return RunRecord(
        run_id=run_id,
        as_of=as_of,
        ruleset_id="phase1",
        ruleset_version="TF1_2012",
        linkage_model_version="deterministic-1",
        config_json="{}",
        config_hash="c" * 64,
        code_version="0.1.0",
        summary={
            "records": 9,
            "persons": 7,
            "households": 3,
            "candidates": 3,
            "candidates_by_criteria": {"crime_asb;work": 2, "education;work": 1},
        },
        created_at=datetime(as_of.year, as_of.month, as_of.day, 9, 0, tzinfo=UTC),
    )


def frames() -> dict[str, pl.DataFrame]:
    """Three candidate households: Smith (H1), a hostile surname (H2), O'Brien (H3)."""
    rows = [
        (
            "school_census:S1",
            "school_census",
            "S1",
            "P1",
            "H1",
            "Ann",
            "Smith",
            date(2012, 3, 4),
            "1 High Street",
            "TF1 1AA",
        ),
        (
            "attendance:A1",
            "attendance",
            "A1",
            "P1",
            "H1",
            "Anne",
            "Smith",
            date(2012, 3, 4),
            "1 High Street",
            "TF1 1AA",
        ),
        ("benefits:B1", "benefits", "B1", "P2", "H1", "Bob", "Smith", date(1980, 1, 1), "1 High St", "TF1 1AA"),
        ("asb:X1", "asb", "X1", "P2", "H1", "Robert", "Smith", date(1980, 1, 1), "9 Old Road", "TF3 9ZZ"),
        ("school_census:S2", "school_census", "S2", "P3", "H2", "Eve", XSS, date(2013, 5, 6), "2 Low Road", "TF2 2BB"),
        ("benefits:B2", "benefits", "B2", "P4", "H2", "Mal", XSS, date(1985, 7, 8), "2 Low Road", "TF2 2BB"),
        (
            "youth_offending:Y3",
            "youth_offending",
            "Y3",
            "P5",
            "H3",
            "Liam",
            "O'Brien",
            date(2010, 9, 9),
            "3 Mill Lane",
            "TF2 3CC",
        ),
        ("benefits:B3", "benefits", "B3", "P6", "H3", "Siobhan", "O'Brien", date(1979, 2, 2), "3 Mill Lane", "TF2 3CC"),
        ("benefits:B9", "benefits", "B9", "P7", None, "Zed", "Nobody", date(1970, 1, 1), "99 Far Away", "ZZ9 9ZZ"),
    ]
    records = pl.DataFrame(
        rows,
        schema={
            "record_key": pl.String,
            "source": pl.String,
            "record_id": pl.String,
            "person_id": pl.String,
            "household_id": pl.String,
            "forename": pl.String,
            "surname": pl.String,
            "date_of_birth": pl.Date,
            "address": pl.String,
            "postcode": pl.String,
        },
        orient="row",
    ).with_columns(evidence_date=pl.lit(date(2026, 9, 1)))
    links = pl.DataFrame(
        {
            "record_key_l": ["attendance:A1", "asb:X1", "benefits:B2"],
            "record_key_r": ["school_census:S1", "benefits:B1", "school_census:S2"],
            "match_probability": [0.995, 0.81, 0.6],
            "match_rule": ["name_dob", "model", "model"],
            "match_weights_json": [
                None,
                '{"prior": -8.0, "forename": 2.5, "surname": 6.1, "dob": 7.2, "postcode": -1.3}',
                None,
            ],
        }
    )
    persons = pl.DataFrame(
        {
            "person_id": ["P1", "P2", "P3", "P4", "P5", "P6", "P7"],
            "household_id": ["H1", "H1", "H2", "H2", "H3", "H3", None],
            "date_of_birth": [
                date(2012, 3, 4),
                date(1980, 1, 1),
                date(2013, 5, 6),
                date(1985, 7, 8),
                date(2010, 9, 9),
                date(1979, 2, 2),
                None,
            ],
            "role": ["child", "adult", "child", "adult", "child", "adult", "unknown"],
        }
    )
    households = pl.DataFrame(
        {
            "household_id": ["H1", "H2", "H3"],
            "uprn": [100000000001, 100000000002, 100000000003],
            "address": ["1 High Street, Tenford", "2 Low Road, Tenford", "3 Mill Lane, Tenford"],
            "postcode": ["TF1 1AA", "TF2 2BB", "TF2 3CC"],
            "n_members": [2, 2, 2],
        }
    )
    candidates = pl.DataFrame(
        {
            "household_id": ["H1", "H2", "H3"],
            "rank": [1, 2, 3],
            "score": [3.5, 2.5, 2.0],
            "criteria_met": ["crime_asb;work", "education;work", "crime_asb;work"],
            "eligibility": ["must_include", "may_include", "may_include"],
            "estimated_annual_cost": [48000.0, 30000.0, 48000.0],
            "min_link_probability": [0.81, 0.6, 1.0],
        }
    ).join(households, on="household_id")
    evidence = pl.DataFrame(
        {
            "household_id": ["H1", "H1", "H2", "H2", "H3", "H3"],
            "criterion": ["crime_asb", "work", "education", "work", "crime_asb", "work"],
            "rule_id": [
                "crime_asb.asb_intervention",
                "work.out_of_work_benefit",
                "education.unauthorised_absence",
                "work.out_of_work_benefit",
                "crime_asb.proven_offence",
                "work.out_of_work_benefit",
            ],
            "person_id": ["P2", "P2", "P3", "P4", "P5", "P6"],
            "source": ["asb", "benefits", "school_census", "benefits", "youth_offending", "benefits"],
            "record_id": ["X1", "B1", "S2", "B2", "Y3", "B3"],
            "event_date": [
                date(2026, 5, 1),
                date(2026, 1, 1),
                None,
                date(2026, 2, 2),
                date(2026, 4, 4),
                date(2026, 3, 3),
            ],
            "value": ["CBO", "JSA", "0.2", "ESA", "REFERRAL_ORDER", "UC"],
            "detail": [
                "ASB intervention in the window",
                "benefit open",
                "absence 20%",
                "benefit open",
                "proven",
                "open",
            ],
        }
    )
    quality = pl.DataFrame(
        {
            "source": ["asb", "benefits"],
            "report_json": [
                '{"rows_read": 2, "rows_accepted": 2, "rows_quarantined": 0}',
                '{"rows_read": 4, "rows_accepted": 4, "rows_quarantined": 0}',
            ],
        }
    )
    return {
        "quality": quality,
        "source_records": records,
        "persons": persons,
        "links": links,
        "households": households,
        "candidates": candidates,
        "criteria_evidence": evidence,
    }


def password_hash() -> str:
    """The argon2 hash of PASSWORD, made once per hasher (hashing is slow on purpose; most tests hash with a
    cheap one, tests marked ``real_password_hashing`` with the real one: see tests/conftest.py).
    """
    return _password_hash(passwords._hasher)


@cache
def _password_hash(hasher: object) -> str:
    """The hash of PASSWORD by ``hasher`` (the argument only keys the cache)."""
    return hash_password(PASSWORD)


def build_database(url: str) -> Engine:
    """A migrated database with the October run and one account per role (named after the role)."""
    engine = make_engine(url)
    init_db(engine)
    write_run(engine, run_record("R-OCT", OCTOBER), frames())
    for role in ROLES:
        add_user(engine, role, role, password_hash())
    return engine


def write_november(engine: Engine) -> None:
    """A second month's run with the same households (their ids are stable)."""
    write_run(engine, run_record("R-NOV", NOVEMBER), frames())


WATERFALL = {"prior": -10.2, "forename": 3.1, "surname": 4.45, "dob": 9.0, "address": -0.84}
"""A stored waterfall whose total is 5.51 (the issue's example), with levels as a run stores them."""


def stored_weights(weights: dict[str, float] = WATERFALL) -> str:
    """``links.match_weights_json`` as a run writes it: prior, comparisons, total, probability, levels."""
    total = sum(weights.values())
    probability = 2**total / (1 + 2**total)
    levels = {name: 3 for name in weights if name != "prior"}
    return json.dumps({**weights, "total": round(total, 4), "probability": round(probability, 6), "levels": levels})


def month_two_frames(extra_links: int = 50) -> dict[str, pl.DataFrame]:
    """November: H1 carried over (rank 1) with ``extra_links`` more benefits records of Bob linked to his
    ASB record, H4 new (rank 2), H2 re-ranked (2 to 3), H3 dropped (its criteria no longer met).
    """
    base = frames()
    extra = pl.DataFrame(
        {
            "record_key": [f"benefits:BX{i:03d}" for i in range(extra_links)],
            "source": ["benefits"] * extra_links,
            "record_id": [f"BX{i:03d}" for i in range(extra_links)],
            "person_id": ["P2"] * extra_links,
            "household_id": ["H1"] * extra_links,
            "forename": ["Robert"] * extra_links,
            "surname": ["Smith"] * extra_links,
            "date_of_birth": [date(1980, 1, 1)] * extra_links,
            "address": ["1 High Street"] * extra_links,
            "postcode": ["TF1 1AA"] * extra_links,
            "evidence_date": [date(2026, 10, 1)] * extra_links,
        }
    )
    new_family = pl.DataFrame(
        {
            "record_key": ["benefits:B4"],
            "source": ["benefits"],
            "record_id": ["B4"],
            "person_id": ["P8"],
            "household_id": ["H4"],
            "forename": ["Nia"],
            "surname": ["Jones"],
            "date_of_birth": [date(1990, 6, 6)],
            "address": ["4 New Street"],
            "postcode": ["TF1 4DD"],
            "evidence_date": [date(2026, 10, 1)],
        }
    )
    records = pl.concat([base["source_records"], extra, new_family])
    links = pl.concat(
        [
            base["links"].with_columns(
                match_weights_json=pl.when(pl.col("record_key_l") == "asb:X1")
                .then(pl.lit(stored_weights()))
                .otherwise(pl.col("match_weights_json"))
            ),
            pl.DataFrame(
                {
                    "record_key_l": ["asb:X1"] * extra_links,
                    "record_key_r": [f"benefits:BX{i:03d}" for i in range(extra_links)],
                    "match_probability": [0.9785] * extra_links,
                    "match_rule": ["splink"] * extra_links,
                    "match_weights_json": [stored_weights()] * extra_links,
                }
            ),
        ]
    )
    persons = pl.concat(
        [
            base["persons"],
            pl.DataFrame(
                {"person_id": ["P8"], "household_id": ["H4"], "date_of_birth": [date(1990, 6, 6)], "role": ["adult"]}
            ),
        ]
    )
    households = pl.concat(
        [
            base["households"],
            pl.DataFrame(
                {
                    "household_id": ["H4"],
                    "uprn": [100000000004],
                    "address": ["4 New Street, Tenford"],
                    "postcode": ["TF1 4DD"],
                    "n_members": [1],
                }
            ),
        ]
    )
    candidates = pl.DataFrame(
        {
            "household_id": ["H1", "H4", "H2"],
            "rank": [1, 2, 3],
            "score": [3.5, 2.6, 2.5],
            "criteria_met": ["crime_asb;work", "work", "education;work"],
            "eligibility": ["must_include", "may_include", "may_include"],
            "estimated_annual_cost": [48000.0, 20000.0, 30000.0],
            "min_link_probability": [0.81, 1.0, 0.6],
        }
    ).join(households, on="household_id")
    evidence = pl.concat(
        [
            base["criteria_evidence"].filter(pl.col("household_id") != "H3"),
            pl.DataFrame(
                {
                    "household_id": ["H4"],
                    "criterion": ["work"],
                    "rule_id": ["work.out_of_work_benefit"],
                    "person_id": ["P8"],
                    "source": ["benefits"],
                    "record_id": ["B4"],
                    "event_date": [date(2026, 9, 9)],
                    "value": ["UC"],
                    "detail": ["open"],
                }
            ),
        ]
    )
    return {
        **base,
        "source_records": records,
        "persons": persons,
        "links": links,
        "households": households,
        "candidates": candidates,
        "criteria_evidence": evidence,
    }


def write_busy_november(engine: Engine, config_json: str = "{}") -> None:
    """November with a family of many links, a re-ranked, a dropped and a new family (run R-NOV)."""
    record = run_record("R-NOV", NOVEMBER)
    write_run(engine, RunRecord(**{**record.__dict__, "config_json": config_json}), month_two_frames())
