"""tfident.link."""
