"""A small builder for typed test extracts: people, their records, and one evaluation.

Imported by the criteria tests as ``criteria_scenario`` (a unique module name: the test
folders have no ``__init__.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from tfident.criteria import RulePack, evaluate_criteria, load_pack
from tfident.ingest.sources import SOURCES

D = dt.date(2026, 10, 31)
DAY = dt.timedelta(days=1)

# The attendance terms of D: three complete ones, and the autumn term in progress.
TERMS = {
    "2025/26-AUT": (dt.date(2025, 9, 3), dt.date(2025, 12, 19)),
    "2025/26-SPR": (dt.date(2026, 1, 5), dt.date(2026, 3, 27)),
    "2025/26-SUM": (dt.date(2026, 4, 13), dt.date(2026, 7, 22)),
    "2026/27-AUT": (dt.date(2026, 9, 2), dt.date(2026, 12, 18)),
}
EDUCATION_START = dt.date(2025, 9, 3)


def canonical_schema(source: str) -> dict[str, pl.DataType]:
    """The canonical typed columns of ``source`` (uprn is Int64 after ingest)."""
    return {c.name: c.polars_type for c in SOURCES[source].columns}


def born(age: int, on: dt.date = D, days_after_birthday: int = 100) -> dt.date:
    """A date of birth making someone ``age`` on ``on`` (birthday ``days_after_birthday`` days ago)."""
    birthday = on - dt.timedelta(days=days_after_birthday)
    return birthday.replace(year=birthday.year - age)


class Scenario:
    """People in households and their agency records; ``run`` evaluates a pack."""

    def __init__(self, as_of: dt.date = D) -> None:
        self.as_of = as_of
        self.people: list[dict[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.index: list[dict[str, Any]] = []
        self._n = 0

    def person(self, person_id: str, household_id: str | None, dob: dt.date | None) -> str:
        self.people.append({"person_id": person_id, "household_id": household_id, "date_of_birth": dob})
        return person_id

    def add(self, source: str, person_id: str, household_id: str | None = "keep", **values: Any) -> str:
        """Add one record of ``person_id`` to ``source``; returns its record id."""
        self._n += 1
        record_id = f"{source[:3].upper()}{self._n:05d}"
        unknown = set(values) - set(SOURCES[source].column_names)
        assert not unknown, unknown
        self.records.setdefault(source, []).append({"record_id": record_id, **values})
        if household_id == "keep":
            household_id = next(p["household_id"] for p in self.people if p["person_id"] == person_id)
        self.index.append(
            {"source": source, "record_id": record_id, "person_id": person_id, "household_id": household_id}
        )
        return record_id

    # shorthands ---------------------------------------------------------------------
    def child(self, person_id: str, household_id: str, age: int = 12) -> str:
        return self.person(person_id, household_id, born(age, self.as_of))

    def adult(self, person_id: str, household_id: str, age: int = 40) -> str:
        return self.person(person_id, household_id, born(age, self.as_of))

    def attendance(self, person_id: str, term: str, possible: int, unauthorised: int, **extra: Any) -> str:
        start, end = TERMS[term]
        return self.add(
            "attendance",
            person_id,
            term=term,
            term_start=start,
            term_end=end,
            sessions_possible=possible,
            sessions_authorised=0,
            sessions_unauthorised=unauthorised,
            **extra,
        )

    def complete_terms(self, person_id: str, possible: int = 100, unauthorised: int = 0) -> None:
        """Ordinary attendance in the three complete terms (and the one in progress)."""
        for term in TERMS:
            self.attendance(person_id, term, possible, unauthorised)

    def exclusion(self, person_id: str, kind: str, start: dt.date) -> str:
        return self.add("exclusions", person_id, exclusion_type=kind, start_date=start)

    def offence(self, person_id: str, offence: dt.date, outcome: dt.date | None, proven: str = "Y") -> str:
        return self.add(
            "youth_offending",
            person_id,
            offence_date=offence,
            outcome_date=outcome,
            proven=proven,
            outcome_type="YOUTH_CAUTION",
        )

    def asb(self, person_id: str, kind: str = "ASBO", on: dt.date = D) -> str:
        return self.add("asb", person_id, intervention_type=kind, intervention_date=on)

    def benefit(
        self,
        person_id: str,
        kind: str = "JSA",
        start: dt.date = dt.date(2025, 1, 1),
        end: dt.date | None = None,
        uc: str | None = None,
    ) -> str:
        return self.add(
            "benefits", person_id, benefit_type=kind, uc_conditionality=uc, claim_start=start, claim_end=end
        )

    def social_care(
        self, person_id: str, category: str = "CIN", start: dt.date = dt.date(2026, 1, 1), end: dt.date | None = None
    ) -> str:
        return self.add("social_care", person_id, category=category, start_date=start, end_date=end)

    def census(
        self, person_id: str, provision: str, on: dt.date = dt.date(2026, 10, 1), excluded_previously: str | None = None
    ) -> str:
        return self.add(
            "school_census", person_id, provision=provision, census_date=on, excluded_previously=excluded_previously
        )

    # evaluation ---------------------------------------------------------------------
    def extracts(self) -> dict[str, pl.DataFrame]:
        frames = {}
        for source, rows in self.records.items():
            schema = canonical_schema(source)
            full = [{c: row.get(c) for c in schema} for row in rows]
            frames[source] = pl.DataFrame(full, schema=schema, orient="row")
        return frames

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        index = pl.DataFrame(
            self.index,
            schema={"source": pl.String, "record_id": pl.String, "person_id": pl.String, "household_id": pl.String},
            orient="row",
        )
        people = pl.DataFrame(
            self.people,
            schema={"person_id": pl.String, "household_id": pl.String, "date_of_birth": pl.Date},
            orient="row",
        )
        return index, people

    def run(self, pack: str | RulePack = "phase1") -> tuple[pl.DataFrame, pl.DataFrame]:
        rule_pack = load_pack(pack) if isinstance(pack, str) else pack
        index, people = self.frames()
        return evaluate_criteria(self.extracts(), index, people, rule_pack, self.as_of)

    def met(self, household_id: str, criterion: str, pack: str | RulePack = "phase1") -> bool:
        _, household_criteria = self.run(pack)
        row = household_criteria.filter(pl.col("household_id") == household_id)
        assert row.height == 1
        return bool(row[criterion].item())

    def rules_fired(self, household_id: str, pack: str | RulePack = "phase1") -> set[str]:
        evidence, _ = self.run(pack)
        return set(evidence.filter(pl.col("household_id") == household_id)["rule_id"].to_list())
