"""The course's exercises, graded part by part (``tinygrad-edu exercise list | start | check``).

Each exercise is a module here defining ``EXERCISE`` (:class:`~.exercise.Exercise`), with the
student's stub file in ``stubs/`` and the reference solution in ``solutions/`` under the same
name. :data:`EXERCISES` lists them in course order; docs/workbench.md says how to add one.
"""

from __future__ import annotations

from . import (
    derivative_table,
    jacobians,
    mlp_backward,
    mlp_by_hand,
    single_neuron,
    softmax_cross_entropy,
)
from .exercise import HINTS, Exercise, Outcome, Part
from .grader import grade_isolated, grade_many, grade_module, grade_part, load_student
from .workspace import grade_workspace, read_workspace, start_workspace

__all__ = [
    "EXERCISES",
    "HINTS",
    "Exercise",
    "Outcome",
    "Part",
    "get_exercise",
    "grade_isolated",
    "grade_many",
    "grade_module",
    "grade_part",
    "grade_workspace",
    "load_student",
    "read_workspace",
    "start_workspace",
]

#: The exercises by name, in course order.
EXERCISES: dict[str, Exercise] = {
    e.name: e
    for e in (
        derivative_table.EXERCISE,
        softmax_cross_entropy.EXERCISE,
        single_neuron.EXERCISE,
        mlp_by_hand.EXERCISE,
        mlp_backward.EXERCISE,
        jacobians.EXERCISE,
    )
}


def get_exercise(name: str) -> Exercise:
    """The exercise called ``name``; KeyError naming the known ones otherwise."""
    try:
        return EXERCISES[name]
    except KeyError:
        known = ", ".join(EXERCISES)
        raise KeyError(f"no exercise named {name!r} (the exercises: {known})") from None
