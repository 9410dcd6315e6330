"""Write (or check) the committed JSON Schemas of the extracts: ``schemas/<source>.schema.json``.

Usage: ``python -m tfident.ingest.make_schemas [FOLDER] [--check]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfident.ingest.jsonschema import SCHEMA_DIR, out_of_date, write_all


def main(argv: list[str] | None = None) -> int:
    """Command line: write the schemas, or with ``--check`` report stale ones."""
    parser = argparse.ArgumentParser(prog="python -m tfident.ingest.make_schemas", description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=SCHEMA_DIR)
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed schema is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = out_of_date(args.folder)
        for name in stale:
            print(f"out of date: {args.folder / name}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all(args.folder):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
