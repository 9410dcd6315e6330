"""tfident.rank."""
