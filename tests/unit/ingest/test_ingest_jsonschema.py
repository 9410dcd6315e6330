"""The committed JSON Schemas equal the generated ones, and accepted rows satisfy them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tfident.ingest import SourcesMapping, json_schema, read_batch
from tfident.ingest.jsonschema import SCHEMA_DIR, out_of_date, render
from tfident.ingest.make_schemas import main
from tfident.ingest.sources import SOURCES


@pytest.mark.parametrize("source", list(SOURCES))
def test_committed_schema_equals_generated(source: str) -> None:
    path = SCHEMA_DIR / f"{source}.schema.json"
    assert path.read_text(encoding="utf-8") == render(source), "run: python -m tfident.ingest.make_schemas"


def test_schema_content() -> None:
    schema = json_schema("attendance")
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "term_start" in schema["required"]
    assert "upn" not in schema["required"]
    assert schema["properties"]["sex"]["enum"] == ["M", "F", "U", None]
    assert schema["properties"]["sessions_possible"]["type"] == "integer"
    assert schema["properties"]["upn"]["pattern"].startswith("^[ABCDEFGHJ")
    assert json_schema("gazetteer")["properties"]["uprn"]["type"] == "integer"


def test_accepted_rows_validate(sample_batch: Path) -> None:
    batch = read_batch(sample_batch, SourcesMapping())
    for name, frame in batch.extracts.items():
        validator = jsonschema.Draft202012Validator(json_schema(name))
        canonical = frame.select(SOURCES[name].column_names).head(50)
        for row in json.loads(canonical.write_json()):
            validator.validate(row)


def test_entry_point_writes_and_checks(tmp_path: Path) -> None:
    assert main([str(tmp_path), "--check"]) == 1
    assert main([str(tmp_path)]) == 0
    assert out_of_date(tmp_path) == []
    assert main([str(tmp_path), "--check"]) == 0
