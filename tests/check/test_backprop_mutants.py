"""check_backprop's own quality on whole-network mistakes: every mutant in the library fails,
with the node it must report first, that node's status and diagnosis, the other nodes wrong on
their own, and the nodes that merely inherit; the rates are printed (``pytest -s``) and must
stay 100 %."""

from __future__ import annotations

import pytest
from backprop_mutants import MUTANTS, ORDER, Mutant, by_hand, catch_rate

from tinygrad_edu.check import STATUSES


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.what)
def test_every_mutant_is_reported_first_where_it_is(mutant: Mutant) -> None:
    report = mutant.check()
    assert mutant.problems(report) == [], str(report)
    if mutant.first is not None:
        first = report[mutant.first]
        assert report.nodes.index(first) == min(
            i for i, n in enumerate(report.nodes) if n.status in ("wrong", "wrong_shape", "missing")
        )


def test_the_library_covers_every_failing_status_node_and_two_mistake_passes() -> None:
    assert len(MUTANTS) >= 25
    assert {m.status for m in MUTANTS} == set(STATUSES) - {"right", "inherited"} | {"error"}
    assert {m.first for m in MUTANTS} == set(ORDER) | {None}
    assert sum(bool(m.also) for m in MUTANTS) >= 3
    named = {"scaled", "sign_flipped", "transposed", "not_summed", "wrong_shape"}
    named |= {"derivative_at_output", "output_formula_at_input", "ignores_upstream"}
    assert named <= {m.kind for m in MUTANTS}


def test_the_problems_of_a_mutant_are_seen() -> None:
    """The library's own check can fail: a mutant expecting the wrong node is reported."""
    wrong_first = Mutant("W2 expected, z2 is first", "W2", "wrong", "scaled", MUTANTS[0].backward)
    assert "first: expected W2, got z2" in wrong_first.problems(wrong_first.check(seed=0))
    right = Mutant("no mistake at all", "z2", "wrong", "scaled", by_hand())
    assert right.problems(right.check()) == ["not caught"]


def test_catch_rate_and_first_node_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    caught, right, total, problems = catch_rate(MUTANTS)
    with capsys.disabled():
        print(
            f"\nwhole-network mutants caught: {caught}/{total}; first node right: {right}/{total}"
        )
    assert problems == []
    assert caught == right == total
