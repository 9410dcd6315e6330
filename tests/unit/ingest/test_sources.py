"""The source descriptions (``tfident/ingest/sources.yaml``) against the contract, the committed
JSON Schemas and the per-source facts the stages held before they read the descriptions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tfident.errors import ConfigError
from tfident.households import RESIDENCE_PRIORITY, HouseholdsConfig
from tfident.ingest.checks import ChecksConfig
from tfident.ingest.identifiers import IDENTIFIER_EXPRS
from tfident.ingest.jsonschema import IDENTIFIER_PATTERNS, SCHEMA_DIR
from tfident.ingest.sources import (
    OPEN_RECORD_SOURCES,
    PERSON_COLUMNS,
    PERSON_SOURCES,
    SOURCES,
    VERSION_1_SOURCES,
    read_sources_file,
)
from tfident.standardise.persons import RAW_COLUMNS

SHIPPED = Path(__file__).resolve().parents[3] / "src" / "tfident" / "ingest" / "sources.yaml"

# --- the contract (extracts.md, version 1.1), written out by hand -------------------------------

CONTRACT_SOURCES: dict[str, tuple[str, bool]] = {
    "school_census": ("local authority education / schools", True),
    "attendance": ("schools (termly attendance)", True),
    "exclusions": ("schools (fixed-period and permanent exclusions)", True),
    "youth_offending": ("police / youth offending service", True),
    "asb": ("police, housing providers, council ASB team", True),
    "benefits": ("DWP out-of-work benefits match, housing benefit", True),
    "gazetteer": ("council LLPG (address base with UPRNs)", True),
    "social_care": ("children's social care (CIN, CP, LAC, early help)", False),
    "domestic_abuse": ("police / MARAC", False),
    "health": ("health and substance misuse services", False),
    # contract 1.2 (issue 15): optional sources for Supporting Families 2022-25
    "housing": (
        "council housing options and landlords (homelessness duties, temporary accommodation, tenancy)",
        False,
    ),
    "early_years": ("health visiting, maternity and early years funding", False),
    "neet": ("local authority tracking of young people (CCIS)", False),
    "early_help": ("early help service (whole-family assessments and plans)", False),
    "missing_exploitation": ("children's services and police (missing episodes, exploitation risk)", False),
    "probation": ("probation service (adult offending, sentences and release)", False),
    "employment": ("employment support and DWP/HMRC employment match", False),
}
"""Section 1: file stem -> (agency, required)."""

ADDED_IN_1_2 = ("housing", "early_years", "neet", "early_help", "missing_exploitation", "probation", "employment")
"""The sources contract version 1.2 adds (all optional)."""

CONTRACT_PERSON_COLUMNS = (
    "record_id",
    "forename",
    "middle_names",
    "surname",
    "date_of_birth",
    "sex",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "town",
    "postcode",
    "uprn",
)
"""Section 2."""

CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "school_census": ("upn", "school_urn", "provision", "excluded_previously", "census_date"),
    "attendance": (
        "upn",
        "school_urn",
        "term",
        "term_start",
        "term_end",
        "sessions_possible",
        "sessions_authorised",
        "sessions_unauthorised",
    ),
    "exclusions": ("upn", "school_urn", "exclusion_type", "start_date", "sessions", "reason"),
    "youth_offending": ("pnc_id", "offence_date", "outcome_date", "outcome_type", "proven"),
    "asb": ("intervention_type", "intervention_date", "agency"),
    "benefits": ("nino", "benefit_type", "uc_conditionality", "claim_start", "claim_end"),
    "gazetteer": ("uprn", "address_line_1", "address_line_2", "address_line_3", "town", "postcode"),
    "social_care": ("nhs_number", "category", "start_date", "end_date"),
    "domestic_abuse": ("role", "incident_date", "reported_by"),
    "health": ("nhs_number", "indicator", "recorded_date", "end_date"),
    "housing": ("event_type", "start_date", "end_date", "amount"),
    "early_years": ("nhs_number", "indicator", "recorded_date", "expected_date"),
    "neet": ("status", "status_date"),
    "early_help": (
        "nhs_number",
        "episode_id",
        "factor",
        "lead_practitioner",
        "lead_agency",
        "assessment_date",
        "plan_date",
        "closure_date",
    ),
    "missing_exploitation": ("nhs_number", "event_type", "start_date", "end_date"),
    "probation": ("pnc_id", "event_type", "start_date", "end_date", "release_date"),
    "employment": ("nino", "employment_type", "start_date", "end_date", "hours_per_week"),
}
"""Section 3: each source's own columns, after the person columns for person sources."""

CONTRACT_CODES: dict[tuple[str, str], tuple[str, ...]] = {
    ("school_census", "provision"): ("MAINSTREAM", "SPECIAL", "PRU", "AP", "NOT_ON_ROLL"),
    ("school_census", "excluded_previously"): ("Y", "N"),
    ("exclusions", "exclusion_type"): ("FIXED", "PERMANENT"),
    ("youth_offending", "proven"): ("Y", "N"),
    ("asb", "intervention_type"): (
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
    ),
    ("benefits", "benefit_type"): ("JSA", "ESA", "IS", "IB", "SDA", "CA", "UC", "HB", "CTR"),
    ("benefits", "uc_conditionality"): (
        "SEARCHING_FOR_WORK",
        "PLANNING_FOR_WORK",
        "PREPARING_FOR_WORK",
        "NO_WORK_REQUIREMENTS",
        "WORKING",
    ),
    ("social_care", "category"): ("CIN", "CP", "LAC", "EARLY_HELP"),
    ("domestic_abuse", "role"): ("VICTIM", "PERPETRATOR", "CHILD_PRESENT"),
    ("domestic_abuse", "reported_by"): ("POLICE", "MARAC", "OTHER"),
    ("health", "indicator"): ("MENTAL_HEALTH", "SUBSTANCE_MISUSE", "ALCOHOL_MISUSE", "UNDER_18_CONCEPTION", "OTHER"),
    ("housing", "event_type"): (
        "PREVENTION_DUTY",
        "RELIEF_DUTY",
        "MAIN_DUTY",
        "TEMPORARY_ACCOMMODATION",
        "RENT_ARREARS",
        "NOTICE_SEEKING_POSSESSION",
        "POSSESSION_ORDER",
        "EVICTION",
    ),
    ("early_years", "indicator"): ("TWO_YEAR_REVIEW_BELOW_EXPECTED", "ENTITLEMENT_NOT_TAKEN_UP", "EXPECTANT_PARENT"),
    ("neet", "status"): ("NEET", "EET", "NOT_KNOWN"),
    ("early_help", "factor"): (
        "PARENTAL_CONFLICT",
        "CHILD_TO_PARENT_ABUSE",
        "PARENTING",
        "FAMILY_BREAKDOWN_RISK",
        "OTHER",
    ),
    ("missing_exploitation", "event_type"): ("MISSING_EPISODE", "CSE_RISK", "CCE_RISK", "NRM_REFERRAL"),
    ("probation", "event_type"): ("CONVICTION", "COMMUNITY_ORDER", "SUSPENDED_SENTENCE", "CUSTODY", "LICENCE"),
    ("employment", "employment_type"): ("EMPLOYED", "SELF_EMPLOYED"),
}
"""Section 3's closed code lists (``outcome_type`` is open: ``...``)."""


def test_sources_added_later_are_optional_and_marked() -> None:
    """The sources of contract 1.2 are optional and say so; the only column added to a version 1 source is
    health's episode end date, also optional.
    """
    assert tuple(name for name, s in SOURCES.items() if s.added_in == "1.2") == ADDED_IN_1_2
    assert not any(SOURCES[name].required for name in ADDED_IN_1_2)
    assert tuple(name for name in SOURCES if name not in ADDED_IN_1_2) == VERSION_1_SOURCES
    added = [(name, c.name) for name in VERSION_1_SOURCES for c in SOURCES[name].columns if c.added_in]
    assert added == [("health", "end_date")]
    assert not SOURCES["health"].column("end_date").in_header


def test_every_contract_source_has_a_description_in_contract_order() -> None:
    """It describes each file of section 1, with its agency and whether a batch needs it, and nothing more."""
    assert list(SOURCES) == list(CONTRACT_SOURCES)
    assert {name: (s.agency, s.required) for name, s in SOURCES.items()} == CONTRACT_SOURCES
    assert all(s.name == name for name, s in SOURCES.items())
    assert tuple(name for name in CONTRACT_SOURCES if name != "gazetteer") == PERSON_SOURCES


@pytest.mark.parametrize("name", list(CONTRACT_COLUMNS))
def test_columns_are_the_contract_columns(name: str) -> None:
    """It lists the columns of sections 2 and 3 in contract order, the person columns first."""
    person = CONTRACT_PERSON_COLUMNS if SOURCES[name].person else ()
    assert SOURCES[name].column_names == (*person, *CONTRACT_COLUMNS[name])


def test_codes_and_identifiers_are_the_contract_ones() -> None:
    """It gives the closed code lists of section 3 and the identifiers of section 2."""
    codes = {(name, c.name): c.codes for name, s in SOURCES.items() for c in s.columns if c.codes}
    assert {k: v for k, v in codes.items() if k[1] != "sex"} == CONTRACT_CODES
    assert all(SOURCES[name].column("sex").codes == ("M", "F", "U") for name in PERSON_SOURCES)
    identifiers = {name: s.person_identifiers for name, s in SOURCES.items()}
    assert identifiers == {
        "school_census": ("upn",),
        "attendance": ("upn",),
        "exclusions": ("upn",),
        "youth_offending": ("pnc_id",),
        "asb": (),
        "benefits": ("nino",),
        "gazetteer": (),
        "social_care": ("nhs_number",),
        "domestic_abuse": (),
        "health": ("nhs_number",),
        "housing": (),
        "early_years": ("nhs_number",),
        "neet": (),
        "early_help": ("nhs_number",),
        "missing_exploitation": ("nhs_number",),
        "probation": ("pnc_id",),
        "employment": ("nino",),
    }
    assert all(s.column("uprn").type == "identifier" for s in SOURCES.values())
    assert SOURCES["gazetteer"].column("uprn").required
    assert SOURCES["gazetteer"].column("uprn").in_header


@pytest.mark.parametrize("name", list(SOURCES))
def test_description_matches_the_committed_json_schema(name: str) -> None:
    """The committed ``schemas/<source>.schema.json`` has the description's columns, required columns and codes."""
    committed = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    source = SOURCES[name]
    assert tuple(committed["properties"]) == source.column_names
    assert committed["required"] == [c.name for c in source.columns if c.in_header or c.required]
    for column in source.columns:
        prop = committed["properties"][column.name]
        if column.codes:
            assert prop["enum"] == [*column.codes, *([] if column.required else [None])]
        kind = prop["type"][0] if isinstance(prop["type"], list) else prop["type"]
        expected = {"integer": "integer"}.get(column.type, "string")
        assert kind == ("integer" if column.name == "uprn" else expected), column.name


def test_every_person_identifier_is_read_and_carried_into_persons() -> None:
    """An identifier a description names has a normaliser, a JSON Schema pattern and a persons column."""
    names = {n for s in SOURCES.values() for n in s.person_identifiers}
    assert names <= set(IDENTIFIER_EXPRS) & set(IDENTIFIER_PATTERNS)
    assert names <= set(RAW_COLUMNS)


# --- what the stages held before they read the descriptions --------------------------------------


def test_residence_ranking_is_unchanged() -> None:
    """Sources rank for residence as households ranked them before (school census first, ASB last)."""
    assert sorted(RESIDENCE_PRIORITY, key=RESIDENCE_PRIORITY.__getitem__) == [
        "school_census",
        "social_care",
        "attendance",
        "exclusions",
        "health",
        "benefits",
        "domestic_abuse",
        "youth_offending",
        "asb",
        *ADDED_IN_1_2,  # after every version 1 source: a batch that adds them moves no one placed before
    ]
    assert len(set(RESIDENCE_PRIORITY.values())) == len(RESIDENCE_PRIORITY)
    assert set(RESIDENCE_PRIORITY) == set(PERSON_SOURCES)


def test_evidence_date_rules_are_unchanged() -> None:
    """Each person source's evidence date is read from the columns standardise read before."""
    rules = {
        name: (s.evidence_date.first_of, s.evidence_date.open_until)
        for name, s in SOURCES.items()
        if s.evidence_date is not None
    }
    assert rules == {
        "school_census": (("census_date",), None),
        "attendance": (("term_end",), None),
        "exclusions": (("start_date",), None),
        "youth_offending": (("outcome_date", "offence_date"), None),
        "asb": (("intervention_date",), None),
        "benefits": ((), "claim_end"),
        "social_care": ((), "end_date"),
        "domestic_abuse": (("incident_date",), None),
        "health": (("recorded_date",), None),
        "housing": ((), "end_date"),
        "early_years": (("recorded_date",), None),
        "neet": (("status_date",), None),
        "early_help": ((), "closure_date"),
        "missing_exploitation": (("start_date",), None),
        "probation": ((), "end_date"),
        "employment": ((), "end_date"),
    }
    opened = ("benefits", "social_care", "housing", "early_help", "probation", "employment")
    assert opened == OPEN_RECORD_SOURCES
    assert HouseholdsConfig().open_record_sources == opened


def test_data_check_facts_are_unchanged() -> None:
    """Expected columns, event and end dates, date pairs, school-by-school sources and senders are as they were."""
    person = ("sex", "address_line_1", "postcode")
    assert {name: s.expected_columns for name, s in SOURCES.items()} == {
        "school_census": (*person, "upn", "school_urn", "excluded_previously"),
        "attendance": (*person, "upn", "school_urn"),
        "exclusions": (*person, "upn", "school_urn"),
        "youth_offending": person,
        "asb": person,
        "benefits": (*person, "nino", "uc_conditionality"),
        "gazetteer": ("town",),
        "social_care": person,
        "domestic_abuse": person,
        "health": person,
        **dict.fromkeys(("housing", "early_years", "neet", "early_help", "missing_exploitation", "probation"), person),
        "employment": person,
    }
    assert {name: s.event_dates for name, s in SOURCES.items() if s.event_dates} == {
        "school_census": ("census_date",),
        "attendance": ("term_start",),
        "exclusions": ("start_date",),
        "youth_offending": ("offence_date", "outcome_date"),
        "asb": ("intervention_date",),
        "benefits": ("claim_start",),
        "social_care": ("start_date",),
        "domestic_abuse": ("incident_date",),
        "health": ("recorded_date",),
        "housing": ("start_date",),
        "early_years": ("recorded_date",),
        "neet": ("status_date",),
        "early_help": ("assessment_date", "plan_date"),
        "missing_exploitation": ("start_date",),
        "probation": ("start_date",),
        "employment": ("start_date",),
    }
    assert {name: s.date_pairs for name, s in SOURCES.items() if s.date_pairs} == {
        "attendance": (("term_start", "term_end"),),
        "benefits": (("claim_start", "claim_end"),),
        "social_care": (("start_date", "end_date"),),
        "health": (("recorded_date", "end_date"),),
        "housing": (("start_date", "end_date"),),
        "early_help": (("assessment_date", "closure_date"),),
        "missing_exploitation": (("start_date", "end_date"),),
        "probation": (("start_date", "end_date"),),
        "employment": (("start_date", "end_date"),),
    }
    assert {name: s.missing_school_means for name, s in SOURCES.items() if s.per_school} == {
        "attendance": "education (unauthorised absence) not assessed",
        "exclusions": "exclusions not known",
    }
    assert {name: s.sender for name, s in SOURCES.items() if s.sender} == dict.fromkeys(
        ("school_census", "attendance", "exclusions"), "schools"
    )
    census = ChecksConfig().for_source("school_census")
    assert census.recency.months == 6
    assert census.month_gaps.level == "off"
    assert ChecksConfig().for_source("gazetteer").same_file.level == "off"
    assert ChecksConfig().for_source("benefits").future_dates.warn_above == 0.05
    assert ChecksConfig().for_source("exclusions").school_coverage.level == "off"


# --- the file itself -------------------------------------------------------------------------------


def _shipped() -> dict[str, Any]:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_the_shipped_file_is_what_tfident_reads() -> None:
    """SOURCES and PERSON_COLUMNS are the shipped file's, the person columns first in every person source."""
    assert read_sources_file(SHIPPED).sources == SOURCES
    assert tuple(c.name for c in PERSON_COLUMNS) == CONTRACT_PERSON_COLUMNS
    assert all(SOURCES[name].columns[: len(PERSON_COLUMNS)] == PERSON_COLUMNS for name in PERSON_SOURCES)


def test_a_new_optional_source_is_one_description(tmp_path: Path) -> None:
    """It reads a new optional person source from its description alone: person columns, dates, ranking."""
    data = _shipped()
    data["sources"]["tenancy"] = {
        "agency": "council housing (tenancies)",
        "required": False,
        "person": True,
        "columns": [
            {"name": "tenancy_start", "type": "date", "in_header": True, "required": True, "event": True},
            {"name": "tenancy_end", "type": "date", "end_of": "tenancy_start"},
            {"name": "arrears", "type": "code", "codes": ["Y", "N"]},
        ],
        "evidence_date": {"open_until": "tenancy_end"},
        "residence_priority": 2,
    }
    housing = read_sources_file(_write(tmp_path, data)).sources["tenancy"]
    assert housing.column_names == (*CONTRACT_PERSON_COLUMNS, "tenancy_start", "tenancy_end", "arrears")
    assert not housing.required
    assert housing.header_columns[-1] == "tenancy_start"
    assert housing.date_pairs == (("tenancy_start", "tenancy_end"),)
    assert housing.evidence_date is not None
    assert housing.evidence_date.open_until == "tenancy_end"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda s: s["asb"].update(evidence_date="incident_date"),
            "sources.asb: Value error, evidence_date: asb has no column 'incident_date'",
            id="evidence date of a column it lacks",
        ),
        pytest.param(
            lambda s: s["asb"].update(evidence_date="agency"),
            "evidence_date: column 'agency' is of type 'text', not a date",
            id="evidence date of a text column",
        ),
        pytest.param(
            lambda s: s["asb"].pop("residence_priority"),
            "a person source needs an evidence_date and a residence_priority",
            id="person source without a residence priority",
        ),
        pytest.param(
            lambda s: s["gazetteer"].update(residence_priority=3),
            "evidence_date and residence_priority are for person sources",
            id="priority on the gazetteer",
        ),
        pytest.param(
            lambda s: s["benefits"].update(evidence_date={"open_until": "claim_end", "first_of": ["claim_start"]}),
            "give either a date column (or a list of them) or {open_until: END_COLUMN}",
            id="two evidence rules",
        ),
        pytest.param(
            lambda s: s["asb"]["columns"][2].update(type="txet"),
            "sources.asb.columns.14.type",
            id="misspelt type",
        ),
        pytest.param(
            lambda s: s["asb"]["columns"][2].update(code=["X"]),
            "sources.asb.columns.14.code: Extra inputs are not permitted",
            id="misspelt key",
        ),
        pytest.param(
            lambda s: s["asb"]["columns"].append({"name": "police_ref", "type": "identifier"}),
            "column 'police_ref': no identifier of that name",
            id="identifier with no normaliser",
        ),
        pytest.param(
            lambda s: s["benefits"]["columns"][-1].update(end_of="claim_begin"),
            "column 'claim_end' end_of: benefits has no column 'claim_begin'",
            id="end of a column it lacks",
        ),
        pytest.param(
            lambda s: s["asb"].update(missing_school_means="nothing"),
            "missing_school_means is for sources whose rows name their school_urn",
            id="per-school source without school_urn",
        ),
        pytest.param(
            lambda s: s["asb"]["columns"].append({"name": "agency", "type": "text"}),
            "column agency given twice",
            id="column twice",
        ),
    ],
)
def test_a_bad_description_is_one_error_naming_file_and_key(tmp_path: Path, change: Any, message: str) -> None:
    """A wrong description stops tfident with one ConfigError naming the file, the key and the problem."""
    data = _shipped()
    change(data["sources"])
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        read_sources_file(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)
