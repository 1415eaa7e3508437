"""Fixtures of the course's tests."""

from __future__ import annotations

import pytest
from toy_digits import blobs

from tinygrad_edu.data import Dataset


@pytest.fixture(scope="module")
def toy() -> tuple[Dataset, Dataset]:
    """300 training and 100 test toy digits (:func:`toy_digits.blobs`)."""
    return blobs(300), blobs(100, seed=1)
