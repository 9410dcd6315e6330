"""tfident.households."""
