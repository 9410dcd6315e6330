"""Blocking: which pairs of profiles the model scores (``blocking_rules`` of ``config/linkage.yaml``)."""

from __future__ import annotations

from typing import Any

from tfident.link.config import LinkageConfig


def blocking_rule_sql(config: LinkageConfig) -> list[str]:
    """The prediction blocking rules of the configuration as SQL conditions.

    A key ``column`` is ``l.column = r.column``; a key ``left=right`` is ``l.left = r.right``.
    """
    rules = []
    for rule in config.blocking_rules:
        parts = []
        for key in rule.block_on:
            left, _, right = key.partition("=")
            parts.append(f"l.{left} = r.{right or left}")
        rules.append(" AND ".join(parts))
    return rules


def blocking_rules_setting(config: LinkageConfig) -> list[dict[str, Any]]:
    """Splink's ``blocking_rules_to_generate_predictions`` for ``config`` on its backend."""
    return [{"blocking_rule": sql, "sql_dialect": config.backend} for sql in blocking_rule_sql(config)]
