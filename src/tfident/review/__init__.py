"""tfident.review."""
