"""Builders for small synthetic ingest batches: one valid row per source, overridable."""

from __future__ import annotations

from pathlib import Path

from tfident.ingest import SourcesMapping, read_batch
from tfident.ingest.batch import Batch
from tfident.ingest.sources import SOURCES

PERSON = {
    "forename": "Ann",
    "surname": "Smith",
    "date_of_birth": "2012-03-04",
    "sex": "F",
    "address_line_1": "1 Orchard Street",
    "town": "Tenford",
    "postcode": "TF4 2BA",
}

VALID_ROWS: dict[str, dict[str, str]] = {
    "school_census": {
        "record_id": "SC1",
        **PERSON,
        "upn": "B801200005001",
        "school_urn": "133474",
        "provision": "MAINSTREAM",
        "census_date": "2026-10-01",
    },
    "attendance": {
        "record_id": "ATT1",
        **PERSON,
        "upn": "B801200005001",
        "school_urn": "133474",
        "term": "2025/26-AUT",
        "term_start": "2025-09-03",
        "term_end": "2025-12-19",
        "sessions_possible": "120",
        "sessions_authorised": "5",
        "sessions_unauthorised": "3",
    },
    "exclusions": {
        "record_id": "EXC1",
        **PERSON,
        "upn": "B801200005001",
        "exclusion_type": "FIXED",
        "start_date": "2026-01-10",
        "sessions": "2",
    },
    "youth_offending": {
        "record_id": "YOS/1",
        **PERSON,
        "pnc_id": "2020/0000009N",
        "offence_date": "2025-06-01",
        "outcome_date": "2025-07-01",
        "outcome_type": "CAUTION",
        "proven": "Y",
    },
    "asb": {"record_id": "ASB-1", **PERSON, "intervention_type": "INCIDENT", "intervention_date": "2025-03-01"},
    "benefits": {
        "record_id": "DWP1",
        **PERSON,
        "date_of_birth": "1985-05-06",
        "nino": "AB123456C",
        "benefit_type": "UC",
        "uc_conditionality": "SEARCHING_FOR_WORK",
        "claim_start": "2024-01-01",
    },
    "gazetteer": {
        "uprn": "100090000001",
        "address_line_1": "1 Orchard Street",
        "town": "Tenford",
        "postcode": "TF4 2BA",
    },
    "social_care": {
        "record_id": "CSC1",
        **PERSON,
        "nhs_number": "9434765919",
        "category": "CIN",
        "start_date": "2025-01-01",
    },
}
"""One valid canonical row per source (required ones and social_care)."""


def csv_field(value: str) -> str:
    """Quote a CSV field when it needs it."""
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    r"""CSV text with ``\\n`` line ends."""
    return "".join(",".join(csv_field(v) for v in row) + "\n" for row in [header, *rows])


def canonical_csv(source: str, rows: list[dict[str, str]]) -> str:
    """CSV text of ``rows`` in every canonical column of ``source``."""
    header = list(SOURCES[source].column_names)
    return csv_text(header, [[row.get(c, "") for c in header] for row in rows])


def row(source: str, **changes: str) -> dict[str, str]:
    """The valid row of ``source`` with ``changes``."""
    return {**VALID_ROWS[source], **changes}


def rows(source: str, n: int) -> list[dict[str, str]]:
    """``n`` valid rows of ``source`` with distinct record ids (distinct UPRNs for the gazetteer)."""
    key = "record_id" if source != "gazetteer" else "uprn"
    base = VALID_ROWS[source][key]
    return [row(source, **{key: str(100090000001 + i) if key == "uprn" else f"{base}-{i}"}) for i in range(n)]


class BatchBuilder:
    """Writes a batch folder of valid required extracts; tests replace single files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for source in SOURCES.values():
            if source.required:
                self.write(source.name, canonical_csv(source.name, rows(source.name, 2)))

    def write(self, source: str, text: str | bytes, name: str | None = None) -> Path:
        """Write a source's file (CSV text by default), replacing its canonical CSV."""
        path = self.folder / (name or f"{source}.csv")
        if name is not None and name != f"{source}.csv":
            (self.folder / f"{source}.csv").unlink(missing_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", newline="")
        return path

    def rows(self, source: str, data: list[dict[str, str]]) -> Path:
        """Write ``data`` as the source's canonical CSV."""
        return self.write(source, canonical_csv(source, data))

    def read(self, mapping: SourcesMapping | None = None) -> Batch:
        """Read the batch."""
        return read_batch(self.folder, mapping or SourcesMapping())
