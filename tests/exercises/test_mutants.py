"""The grader's own quality: every plausible wrong answer in the mutation library fails, with
the diagnosis it should get; the catch rate is printed (``pytest -s``) and must stay 100 %."""

from __future__ import annotations

import pytest
from mutants import MUTANTS, Mutant, catch_rate


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: f"{m.exercise}/{m.part}/{m.what}")
def test_every_mutant_fails_with_its_diagnosis(mutant: Mutant) -> None:
    outcome = mutant.grade()
    assert not outcome.passed, outcome.line()
    assert outcome.diagnosis.kind == mutant.kind, outcome.line()
    assert outcome.hint, "every failed part comes with a hint"


def test_the_library_is_large_and_covers_every_exercise_and_the_named_mistakes() -> None:
    assert len(MUTANTS) >= 25
    assert {m.exercise for m in MUTANTS} == {
        "softmax-cross-entropy",
        "single-neuron",
        "mlp-by-hand",
        "derivative-table",
        "jacobians",
    }
    named = {
        "transposed",
        "sign_flipped",
        "scaled",
        "not_summed",
        "ignores_upstream",
        "derivative_at_output",
        "overwritten",
        "wrong_derivative",
    }
    assert named <= {m.kind for m in MUTANTS}


def test_catch_rate(capsys: pytest.CaptureFixture[str]) -> None:
    caught, right, total, problems = catch_rate(MUTANTS)
    with capsys.disabled():
        print(f"\nmutants caught: {caught}/{total}; diagnosed right: {right}/{total}")
    assert problems == []
    assert caught == right == total
