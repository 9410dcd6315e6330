"""Prefect orchestration: the only package in tfident that imports Prefect.

The flow makes one task of each stage declared in ``tfident.pipeline.NODES`` and runs them
through the same ``pipeline.run_graph`` (and checkpoints) as a plain run, so a run under
Prefect produces exactly what ``pipeline.run_pipeline`` produces. Import
``tfident.flows.monthly`` lazily: ``import tfident`` works without Prefect installed.
"""
