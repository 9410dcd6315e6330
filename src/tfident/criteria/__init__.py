"""tfident.criteria."""
