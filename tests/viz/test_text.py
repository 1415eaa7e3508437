"""viz.text: how shapes and values are written in graph labels, the trace table and details,
and percentages in the terminal and the figures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from strategies import magnitudes

from tinygrad_edu.viz.text import MAX_VALUES, percent_text, shape_text, values_text


def test_shape_text_is_written_as_python_tuples():
    assert shape_text((2, 3)) == "(2, 3)"
    assert shape_text((4,)) == "(4,)"
    assert shape_text(()) == "()"


def test_small_arrays_value_by_value_with_four_significant_digits():
    assert values_text(np.array(1 / 3)) == "0.3333"
    assert values_text(np.array(15000.0)) == "1.5e+04"
    assert values_text(np.array([1, 2], dtype=np.int64)) == "[1, 2]"
    assert values_text(np.array([True, False])) == "[True, False]"
    assert values_text(np.zeros(0)) == "[]"
    matrix = np.array([[1.0, 0.0], [3.0, 4.0]])
    assert values_text(matrix) == "[[1, 0],\n[3, 4]]"  # rows aligned for a left-justified label
    assert values_text(matrix, oneline=True) == "[[1, 0], [3, 4]]"


def test_larger_arrays_as_statistics():
    big = np.arange(MAX_VALUES + 4.0)  # 0 .. 9
    assert values_text(big) == "mean=4.5 std=2.87\nmin=0 max=9"
    assert values_text(big, oneline=True) == "mean=4.5 std=2.87 min=0 max=9"
    assert values_text(big, max_values=10) == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"


@pytest.mark.parametrize(
    ("fraction", "text"),
    [
        (0.99996, "99.99"),  # eval --first's figure said 100.0% where the terminal said 99.99 %
        (0.999999, "99.99"),
        (1.0, "100.00"),
        (0.5, "50.00"),
        (0.123456, "12.35"),
        (0.0, "0.00"),
    ],
)
def test_a_percentage_rounds_to_the_nearest_but_never_up_to_100(fraction: float, text: str) -> None:
    assert percent_text(fraction) == text


@given(magnitudes(1e-9, 1.0))
def test_only_certainty_reads_100(fraction: float) -> None:
    printed = float(percent_text(fraction))
    assert (printed == 100) == (fraction == 1.0)
    assert abs(printed - 100 * fraction) <= 0.01
    assert float(percent_text(fraction, decimals=1)) < 100 or fraction == 1.0
