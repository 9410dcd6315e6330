"""tfident.ingest."""
