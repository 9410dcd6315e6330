"""tfident.ingest: read a batch folder of agency extracts into validated, typed frames.

``read_batch(folder, mapping)`` finds each source's file (CSV, XLSX or Parquet),
applies the source's mapping from ``config/sources.yaml``, stops on a file fault
(missing, unreadable or truncated file, duplicate header, missing column) and sends
row faults to quarantine. See ``docs/architecture.md`` ("ingest") for the frames.
"""

from tfident.ingest.batch import Batch, FileInfo, find_file, read_batch
from tfident.ingest.jsonschema import json_schema
from tfident.ingest.mapping import SourceMapping, SourcesMapping, load_sources_mapping
from tfident.ingest.quality import DateRange, SourceQuality, quality_table
from tfident.ingest.sources import SOURCES

__all__ = [
    "SOURCES",
    "Batch",
    "DateRange",
    "FileInfo",
    "SourceMapping",
    "SourceQuality",
    "SourcesMapping",
    "find_file",
    "json_schema",
    "load_sources_mapping",
    "quality_table",
    "read_batch",
]
