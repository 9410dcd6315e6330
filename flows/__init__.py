"""Prefect entry points run from a source checkout (``flows/monthly_deployment.py``)."""
