"""Prefect orchestration: the only package in tfident that imports Prefect.

The flow wraps the plain stage functions of ``tfident.pipeline`` as tasks, so a run
under Prefect produces exactly what ``pipeline.run_pipeline`` produces. Import
``tfident.flows.monthly`` lazily: ``import tfident`` works without Prefect installed.
"""
