"""JSON Schema of each extract's rows, generated from the source descriptions (:data:`tfident.ingest.sources.SOURCES`).

A schema describes one accepted row as ingest produces it: text, codes (an enum),
ISO dates, non-negative integers and normalised identifiers (with their patterns),
with ``required`` listing the columns every file must have. Columns other than the
canonical ones are kept as text.

Regenerate the committed ``schemas/*.schema.json`` with::

    python -m tfident.ingest.make_schemas            # writes schemas/
    python -m tfident.ingest.make_schemas --check    # exit 1 if a file is out of date
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tfident.ingest.identifiers import UPN_ALPHABET
from tfident.ingest.sources import SOURCES, Column

_CHECKOUT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = _CHECKOUT / "schemas" if (_CHECKOUT / "pyproject.toml").is_file() else Path("schemas")
"""The repository's committed schemas folder; ``schemas/`` in the working folder for an
installed tfident (nothing reads it at run time: ingest validates against ``SOURCES``)."""

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_UPN_LETTERS = f"[{UPN_ALPHABET}]"
IDENTIFIER_PATTERNS: dict[str, str] = {
    "upn": rf"^{_UPN_LETTERS}\d{{11}}[0-9{UPN_ALPHABET}]$",
    "nino": r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]?$",
    "nhs_number": r"^\d{10}$",
    "pnc_id": r"^\d{4}/\d{7}[A-Z]$",
}
"""Patterns of normalised identifiers (upper case, no spaces; PNC IDs in the long form)."""

IDENTIFIER_DESCRIPTIONS: dict[str, str] = {
    "upn": "unique pupil number: check letter and 12 characters (modulus 23 check)",
    "nino": "National Insurance number: two letters, six digits, optional suffix A-D",
    "nhs_number": "NHS number: 10 digits, the last a modulus 11 check digit",
    "pnc_id": "Police National Computer ID, long form YYYY/NNNNNNNA with its check letter",
    "uprn": "Unique Property Reference Number: positive integer of up to 12 digits",
}


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    """Allow null besides ``schema``'s type (and in its enum) when ``nullable``."""
    if not nullable:
        return schema
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def column_schema(column: Column) -> dict[str, Any]:
    """The JSON Schema of one canonical column's value."""
    schema: dict[str, Any]
    if column.type == "date":
        schema = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    elif column.type == "integer":
        schema = {"type": "integer", "minimum": 0}
    elif column.type == "code" and column.codes:
        schema = {"type": "string", "enum": list(column.codes)}
    elif column.name == "uprn":
        schema = {"type": "integer", "minimum": 1, "maximum": 999_999_999_999}
    elif column.type == "identifier":
        schema = {"type": "string", "pattern": IDENTIFIER_PATTERNS[column.name]}
    else:
        schema = {"type": "string", "minLength": 1}
    description = column.description or IDENTIFIER_DESCRIPTIONS.get(column.name, "")
    if description:
        schema = {"description": description, **schema}
    return _nullable(schema, not column.required)


def json_schema(source: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one accepted row of ``source``."""
    spec = SOURCES[source]
    required = [c.name for c in spec.columns if c.in_header or c.required]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{source}.schema.json",
        "title": f"{source} extract row",
        "description": (
            f"One row of {source} ({spec.agency}); "
            f"{'a required' if spec.required else 'an optional'} source of the batch. "
            "Generated from src/tfident/ingest/sources.yaml by `python -m tfident.ingest.make_schemas`."
        ),
        "type": "object",
        "properties": {c.name: column_schema(c) for c in spec.columns},
        "required": required,
        "additionalProperties": {"type": ["string", "null"]},
    }


def render(source: str) -> str:
    """The schema of ``source`` as the committed file's text."""
    return json.dumps(json_schema(source), indent=2, ensure_ascii=False) + "\n"


def out_of_date(folder: Path) -> list[str]:
    """Names of the schema files in ``folder`` that are missing or differ from the generated ones."""
    stale = []
    for source in SOURCES:
        path = folder / f"{source}.schema.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(source):
            stale.append(path.name)
    return stale


def write_all(folder: Path) -> list[Path]:
    """Write every source's schema file into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in SOURCES:
        path = folder / f"{source}.schema.json"
        path.write_text(render(source), encoding="utf-8")
        paths.append(path)
    return paths
