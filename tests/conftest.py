"""Shared test setup: the Hypothesis profile and the default-dtype fixture.

Hypothesis runs a modest, derandomized number of examples by default so the suite stays
fast and repeatable; ``HYPOTHESIS_PROFILE=thorough`` runs many more.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinygrad_bp as tg

settings.register_profile(
    "tinygrad_bp",
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,  # derandomized runs reproduce failures without writing .hypothesis/
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tinygrad_bp"))


@pytest.fixture
def float32_default() -> Iterator[None]:
    """Make float32 the default dtype for one test, and restore the previous default."""
    previous = tg.get_default_dtype()
    tg.set_default_dtype(np.float32)
    try:
        yield
    finally:
        tg.set_default_dtype(previous)


@pytest.fixture(autouse=True)
def _engine_state_is_clean() -> Iterator[None]:
    """Every test starts and ends with grad mode on, anomaly mode off, float64 default."""
    assert tg.is_grad_enabled() and not tg.autograd.is_anomaly_enabled()
    assert tg.get_default_dtype() == np.float64
    yield
    assert tg.is_grad_enabled(), "a test left grad mode off"
    assert not tg.autograd.is_anomaly_enabled(), "a test left anomaly mode on"
    assert tg.get_default_dtype() == np.float64, "a test left the default dtype changed"
