"""Shared fixtures: a seeded random generator per test."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator, so every test draws the same numbers on every run."""
    return np.random.default_rng(12345)
