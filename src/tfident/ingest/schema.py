"""Canonical extract schemas: data contract sections 1 to 3, as data.

Each source is a list of columns with a type, whether the column must be present in
the header, whether a value is required on every row, and (for codes) the allowed
values. Readers validate against these, ``schemas/*.json`` is generated from them,
and the synthetic generator writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "date", "integer", "code", "identifier"]


@dataclass(frozen=True)
class Column:
    """One canonical column of an extract."""

    name: str
    type: ColumnType
    in_header: bool = False  # the column must be present in the file's header
    required: bool = False  # a value is required on every row
    codes: tuple[str, ...] = ()  # allowed values for ``code`` columns (upper case)
    description: str = ""


@dataclass(frozen=True)
class Source:
    """One agency extract: its file stem, whether the batch needs it, and its columns."""

    name: str
    agency: str
    required: bool
    person: bool
    columns: tuple[Column, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The canonical column names, in contract order."""
        return tuple(c.name for c in self.columns)


PERSON_COLUMNS: tuple[Column, ...] = (
    Column("record_id", "text", in_header=True, required=True, description="agency row key, unique in the file"),
    Column("forename", "text", in_header=True),
    Column("middle_names", "text"),
    Column("surname", "text", in_header=True),
    Column("date_of_birth", "date", in_header=True),
    Column("sex", "code", codes=("M", "F", "U")),
    Column("address_line_1", "text"),
    Column("address_line_2", "text"),
    Column("address_line_3", "text"),
    Column("town", "text"),
    Column("postcode", "text"),
    Column("uprn", "identifier"),
)

PROVISIONS = ("MAINSTREAM", "SPECIAL", "PRU", "AP", "NOT_ON_ROLL")
YES_NO = ("Y", "N")
OUTCOME_TYPES = (
    "CAUTION",
    "YOUTH_CAUTION",
    "CONDITIONAL_CAUTION",
    "YOUTH_CONDITIONAL_CAUTION",
    "CONVICTION",
    "REPRIMAND",
    "FINAL_WARNING",
    "REFERRAL_ORDER",
    "YOUTH_REHABILITATION_ORDER",
    "DETENTION_AND_TRAINING_ORDER",
    "NFA",
    "ACQUITTED",
    "OTHER",
)
ASB_INTERVENTIONS = (
    "ASBO",
    "CBO",
    "ASB_INJUNCTION",
    "ABC",
    "CPN",
    "NOSP_ASB",
    "HOUSING_INJUNCTION",
    "DEMOTED_TENANCY",
    "EVICTION_ASB",
    "INCIDENT",
)
BENEFIT_TYPES = ("JSA", "ESA", "IS", "IB", "SDA", "CA", "UC", "HB", "CTR")
UC_CONDITIONALITY = (
    "SEARCHING_FOR_WORK",
    "PLANNING_FOR_WORK",
    "PREPARING_FOR_WORK",
    "NO_WORK_REQUIREMENTS",
    "WORKING",
)

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "school_census",
            "local authority education / schools",
            required=True,
            person=True,
            columns=PERSON_COLUMNS
            + (
                Column("upn", "identifier", description="13 characters: check letter and 12 digits"),
                Column("school_urn", "text"),
                Column("provision", "code", in_header=True, codes=PROVISIONS),
                Column("excluded_previously", "code", codes=YES_NO),
                Column("census_date", "date", in_header=True),
            ),
        ),
        Source(
            "attendance",
            "schools (termly attendance)",
            required=True,
            person=True,
            columns=PERSON_COLUMNS
            + (
                Column("upn", "identifier"),
                Column("school_urn", "text"),
                Column("term", "text", in_header=True, required=True, description="e.g. 2025/26-AUT"),
                Column("term_start", "date", in_header=True, required=True),
                Column("term_end", "date", in_header=True, required=True),
                Column("sessions_possible", "integer", in_header=True, required=True),
                Column("sessions_authorised", "integer", in_header=True, required=True),
                Column("sessions_unauthorised", "integer", in_header=True, required=True),
            ),
        ),
        Source(
            "exclusions",
            "schools (fixed-period and permanent exclusions)",
            required=True,
            person=True,
            columns=PERSON_COLUMNS
            + (
                Column("upn", "identifier"),
                Column("school_urn", "text"),
                Column("exclusion_type", "code", in_header=True, required=True, codes=("FIXED", "PERMANENT")),
                Column("start_date", "date", in_header=True, required=True),
                Column("sessions", "integer"),
                Column("reason", "text"),
            ),
        ),
        Source(
            "youth_offending",
            "police / youth offending service",
            required=True,
            person=True,
            columns=PERSON_COLUMNS
            + (
                Column("pnc_id", "identifier"),
                Column("offence_date", "date", in_header=True, required=True),
                Column("outcome_date", "date", in_header=True),
                Column("outcome_type", "text", in_header=True, description="open list; see OUTCOME_TYPES"),
                Column("proven", "code", in_header=True, required=True, codes=YES_NO),
            ),
        ),
        Source(
            "asb",
            "police, housing providers, council ASB team",
            required=True,
            person=True,
            columns=PERSON_COLUMNS
            + (
                Column("intervention_type", "code", in_header=True, required=True, codes=ASB_INTERVENTIONS),
                Column("intervention_date", "date", in_header=True, required=True),
                Column("agency", "text"),
            ),
        ),
        Source(
            "benefits",
            "DWP out-of-work benefits match, housing benefit",
            required=True,
            person=True,
            columns=PERSON_COLUMNS
            + (
                Column("nino", "identifier"),
                Column("benefit_type", "code", in_header=True, required=True, codes=BENEFIT_TYPES),
                Column("uc_conditionality", "code", codes=UC_CONDITIONALITY),
                Column("claim_start", "date", in_header=True, required=True),
                Column("claim_end", "date", in_header=True),
            ),
        ),
        Source(
            "gazetteer",
            "council LLPG (address base with UPRNs)",
            required=True,
            person=False,
            columns=(
                Column("uprn", "identifier", in_header=True, required=True),
                Column("address_line_1", "text", in_header=True),
                Column("address_line_2", "text"),
                Column("address_line_3", "text"),
                Column("town", "text"),
                Column("postcode", "text", in_header=True),
            ),
        ),
        Source(
            "social_care",
            "children's social care (CIN, CP, LAC, early help)",
            required=False,
            person=True,
            columns=PERSON_COLUMNS
            + (
                Column("nhs_number", "identifier"),
                Column("category", "code", in_header=True, required=True, codes=("CIN", "CP", "LAC", "EARLY_HELP")),
                Column("start_date", "date", in_header=True, required=True),
                Column("end_date", "date", in_header=True),
            ),
        ),
        Source(
            "domestic_abuse",
            "police / MARAC",
            required=False,
            person=True,
            columns=PERSON_COLUMNS
            + (
                Column("role", "code", in_header=True, codes=("VICTIM", "PERPETRATOR", "CHILD_PRESENT")),
                Column("incident_date", "date", in_header=True, required=True),
                Column("reported_by", "code", codes=("POLICE", "MARAC", "OTHER")),
            ),
        ),
        Source(
            "health",
            "health and substance misuse services",
            required=False,
            person=True,
            columns=PERSON_COLUMNS
            + (
                Column("nhs_number", "identifier"),
                Column(
                    "indicator",
                    "code",
                    in_header=True,
                    required=True,
                    codes=("MENTAL_HEALTH", "SUBSTANCE_MISUSE", "ALCOHOL_MISUSE", "UNDER_18_CONCEPTION", "OTHER"),
                ),
                Column("recorded_date", "date", in_header=True, required=True),
            ),
        ),
    )
}

PERSON_SOURCES: tuple[str, ...] = tuple(name for name, s in SOURCES.items() if s.person)
IDENTIFIER_COLUMNS: tuple[str, ...] = ("upn", "nino", "pnc_id", "nhs_number", "uprn")
