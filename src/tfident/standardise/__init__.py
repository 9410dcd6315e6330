"""tfident.standardise."""
