"""Fixtures of the criteria tests."""

from __future__ import annotations

import pytest
from criteria_scenario import Scenario

from tfident.criteria import RulePack, load_pack


@pytest.fixture
def scenario() -> Scenario:
    """An empty scenario judged as of D = 2026-10-31."""
    return Scenario()


@pytest.fixture(scope="session")
def phase1() -> RulePack:
    """The phase1 pack of config/criteria."""
    return load_pack("phase1")
