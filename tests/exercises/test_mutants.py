"""The grader's own quality: every plausible wrong answer in the mutation library fails, with
the diagnosis it should get; the catch rate is printed (``pytest -s``) and must stay 100 %."""

from __future__ import annotations

import pytest
from mutants import MUTANTS, Mutant, catch_rate

from tinygrad_edu.exercises import EXERCISES, get_exercise


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: f"{m.exercise}/{m.part}/{m.what}")
def test_every_mutant_fails_with_its_diagnosis(mutant: Mutant) -> None:
    outcome = mutant.grade()
    assert not outcome.passed, outcome.line()
    assert outcome.diagnosis.kind == mutant.kind, outcome.line()
    assert outcome.hint, "every failed part comes with a hint"


def test_the_library_is_large_and_covers_every_exercise_and_the_named_mistakes() -> None:
    assert len(MUTANTS) >= 25
    assert {m.exercise for m in MUTANTS} == set(EXERCISES)
    named = {
        "transposed",
        "sign_flipped",
        "scaled",
        "not_summed",
        "ignores_upstream",
        "derivative_at_output",
        "overwritten",
        "wrong_derivative",
        "swapped",
        "missing_factor",
        "writes_upstream",
        "writes_input",
    }
    assert named <= {m.kind for m in MUTANTS}


def test_catch_rate(capsys: pytest.CaptureFixture[str]) -> None:
    caught, right, total, problems = catch_rate(MUTANTS)
    with capsys.disabled():
        print(f"\nmutants caught: {caught}/{total}; diagnosed right: {right}/{total}")
    assert problems == []
    assert caught == right == total


def mutant(what: str) -> Mutant:
    return next(m for m in MUTANTS if m.what == what)


@pytest.mark.parametrize(
    "what",
    [
        "(h - t) / N divided by N again",
        "X^T (h - t) / N divided by N again",
        "divided by batch_size twice",
    ],
)
def test_a_division_by_n_too_many_is_never_told_to_divide_by_n(what: str) -> None:
    m = mutant(what)
    outcome = m.grade()
    d = outcome.diagnosis
    assert d.kind == "scaled" and d.factor < 1
    assert "times too small" in d.message and "once too often" in d.message, outcome.line()
    part = get_exercise(m.exercise).part(m.part)
    for hint in (outcome.hint, part.hint(d)):
        assert "divide by N" not in hint and "/ N" not in hint, hint
        assert "divide h - t by N" not in hint


def test_the_hint_for_a_factor_follows_its_direction() -> None:
    part = get_exercise("softmax-cross-entropy").part("gradient")
    small, large = (
        mutant(w).grade().diagnosis
        for w in ("(h - t) / N divided by N again", "h - t without the 1/N")
    )
    assert "once too often" in part.hint(small)
    assert "divide h - t by N" in part.hint(large) and "times too large" in large.message


def test_tanh_mistakes_are_explained_with_tanh() -> None:
    outcome = mutant("1 - z^2").grade()
    assert outcome.diagnosis.kind == "output_formula_at_input"
    assert "tanh" in outcome.diagnosis.message and "1 - a^2" in outcome.diagnosis.message
    assert "a (1 - a)" not in outcome.diagnosis.message and "1 - a^2" in outcome.hint


@pytest.mark.parametrize(
    ("what", "says"),
    [
        ("g s(z), the (1 - s) forgotten", "the (1 - s) factor is missing"),
        ("dz1 = da1 a1, the (1 - a1) forgotten", "the (1 - s) factor is missing"),
        ("g (1 - tanh(z)), the square forgotten", "the square in 1 - a^2 is missing"),
        ("da = g a, db = g b", "the gradient of b, not of a"),
    ],
)
def test_a_missing_factor_and_swapped_arguments_are_named(what: str, says: str) -> None:
    outcome = mutant(what).grade()
    assert says in outcome.diagnosis.message, outcome.line()
