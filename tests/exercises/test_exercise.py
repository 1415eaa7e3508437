"""Part.hint: the most specific hint for a diagnosis, the part's own before the general one."""

from __future__ import annotations

from tinygrad_edu.check import Diagnosis
from tinygrad_edu.exercises.exercise import HINTS, Part, hint_keys


def part(**hints: str) -> Part:
    return Part("p", ("f",), "what", lambda module: (None, ""), hints=hints)


def test_a_scaled_hint_follows_the_factors_direction() -> None:
    small, large = Diagnosis("scaled", "m", 0.125), Diagnosis("scaled", "m", 8.0)
    assert hint_keys(small) == ["scaled:too_small", "scaled"]
    assert hint_keys(large) == ["scaled:too_large", "scaled"]
    assert part().hint(small) == HINTS["scaled:too_small"]
    assert part(scaled="mine").hint(large) == HINTS["scaled:too_large"]
    assert part(**{"scaled:too_large": "mine"}).hint(large) == "mine"


def test_a_bare_kind_or_a_diagnosis_without_factor_gets_the_kinds_hint() -> None:
    assert part(scaled="mine").hint("scaled") == "mine"
    assert part().hint(Diagnosis("scaled", "m")) == HINTS["scaled"]
    assert part().hint("no such kind") == ""
