"""diagnose on its own: a factor N or 1/N says which way the gradient is off, a known mistake
is named with its own message, and the cross-input clues name swapped arguments."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu.check import DIAGNOSES, Candidate, Clues, diagnose


@pytest.fixture
def expected() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((8, 3))


def test_a_factor_n_is_too_large_summed_where_the_mean_was_needed(expected: np.ndarray) -> None:
    d = diagnose(8 * expected, expected, clues=Clues(batch_sizes=(8,)))
    assert d.kind == "scaled" and d.factor == pytest.approx(8)
    assert "8 times too large" in d.message and "the 1/N is missing" in d.message


def test_a_factor_one_over_n_is_too_small_divided_once_too_often(expected: np.ndarray) -> None:
    d = diagnose(expected / 8, expected, clues=Clues(batch_sizes=(8,)))
    assert d.kind == "scaled" and d.factor == pytest.approx(1 / 8)
    assert d.message.startswith("scaled by 1/8 = 1/N: 8 times too small")
    assert "divided by N once too often" in d.message


def test_a_known_mistake_is_named_with_its_candidates_message(expected: np.ndarray) -> None:
    wrong = expected + 1.0
    named = Clues(variants=lambda: {"missing_factor": [Candidate(wrong, "the s factor")]})
    assert diagnose(wrong, expected, clues=named).message == "the s factor"
    bare = Clues(variants=lambda: {"missing_factor": [wrong]})
    assert diagnose(wrong, expected, clues=bare).message == DIAGNOSES["missing_factor"]


def test_the_swapped_clue_names_the_exchange_unless_it_is_the_right_answer(
    expected: np.ndarray,
) -> None:
    other = expected[::-1] + 0.5
    clues = Clues(swapped=lambda: [Candidate(expected, "no"), Candidate(other, "of b, not a")])
    d = diagnose(other, expected, clues=clues)
    assert d.kind == "swapped" and d.message == "of b, not a"
    assert diagnose(expected, expected, clues=clues) is None


def test_every_kind_has_its_meaning() -> None:
    new = {"swapped", "missing_factor", "writes_upstream", "writes_input"}
    assert new <= set(DIAGNOSES) and all(DIAGNOSES[k] for k in new)
