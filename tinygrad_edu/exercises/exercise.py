"""What an exercise is: named parts, each graded by a function of the student's module.

An :class:`Exercise` has a name (``softmax-cross-entropy``), a title, the module name of its
student file (``softmax_cross_entropy``: the stub in ``exercises/stubs/``, the reference
solution in ``exercises/solutions/``) and its :class:`Part` s. A part's ``grade(module)``
returns ``(diagnosis, note)``: ``diagnosis`` None when the part passes, and a note such as a
test accuracy. Grading never raises for a student's bug: :func:`~.grader.grade_part` turns
it into an :class:`Outcome`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType

from ..check import Diagnosis

#: What a part's grade returns: (diagnosis or None, note), or with the lines that detail it
#: (check_backprop's gradients, one a line) as a third item.
Grade = tuple[Diagnosis | None, str] | tuple[Diagnosis | None, str, list[str]]

#: The hint printed after a failed part, by diagnosis kind (a part may give its own). A key
#: ``"scaled:too_large"`` or ``"scaled:too_small"`` is preferred for a ``scaled`` diagnosis
#: whose factor is above or below 1 (see :func:`hint_keys`).
HINTS: dict[str, str] = {
    "transposed": "check the order of the factors: dL/dW has W's shape",
    "sign_flipped": "check the sign of each term (is it h - t or t - h?)",
    "scaled": "look for a missing or extra constant factor: a mean divides by N exactly once, "
    "a sum does not divide",
    "scaled:too_large": "the gradient is too large: look for a missing division (a mean "
    "divides by N) or a term counted twice",
    "scaled:too_small": "the gradient is too small: look for a division too many (by N twice, "
    "or a mean where the loss is a sum)",
    "not_summed": "sum the gradient over the axis that was broadcast (the batch axis for a bias)",
    "wrong_shape": "a gradient has the shape of the value it is the gradient of",
    "ignores_upstream": "multiply the local derivative by the incoming gradient g",
    "derivative_at_output": "the derivative takes the input z: s'(z) = s(z) (1 - s(z)), "
    "tanh'(z) = 1 - tanh^2(z); with the output a, that is a (1 - a) or 1 - a^2",
    "output_formula_at_input": "a (1 - a) (sigmoid) and 1 - a^2 (tanh) take the output a, "
    "not the input z",
    "missing_factor": "write the local derivative out in full: s (1 - s) for the sigmoid, "
    "1 - a^2 for tanh, times g",
    "swapped": "match each gradient to its input: return them in input order, and use each "
    "input where the formula has it, not its neighbour",
    "writes_upstream": "do not change g in place (g *= ...): compute a new array, g * ...",
    "writes_input": "do not change an input or a saved array in place (x *= ..., x[...] = ...): "
    "compute a new array",
    "overwritten": "use += where a value is used more than once (or accumulated over samples)",
    "wrong_count": "return one array per input, in the order of the inputs",
    "missing": "return the result (a function without return gives None)",
    "not_an_array": "return numpy arrays",
    "not_finite": "avoid overflow: subtract the row max before exp, never take log 0",
    "unstable": "subtract the row max before exp: softmax(z) = softmax(z - max z)",
    "raised": "fix the error at the line shown",
    "not_written": "replace the raise NotImplementedError with your code",
    "timeout": "look for a loop that never ends (or far too much work)",
    "crashed": "the process running your code died; run the part's test to see why",
    "wrong_value": "compare your formula with the one in the docstring",
    "wrong_derivative": "derive it again, one chain-rule step at a time; check the worst element",
    "second_derivative": "save only the inputs and the output, and compute the rest in backward "
    "with tinygrad_edu.rule_math (exp, log, sigmoid...), so it runs on Tensors too",
    "not_trained": "the gradients above must pass before the network can learn",
    "not_run": "make the parts it needs pass first",
}


@dataclass(frozen=True)
class Outcome:
    """The grade of one part: passed, or the diagnosis and a hint; a note (accuracy...); the
    lines that detail it (each gradient of a whole backward pass, printed under its line)."""

    part: str
    passed: bool
    diagnosis: Diagnosis | None = None
    hint: str = ""
    note: str = ""
    details: tuple[str, ...] = ()

    @property
    def ran(self) -> bool:
        """False for a part that was not run (a part it needs failed, or its data is missing)."""
        return self.diagnosis is None or self.diagnosis.kind != "not_run"

    def line(self) -> str:
        note = f" ({self.note})" if self.note else ""
        if self.passed:
            return f"{self.part}: passed{note}"
        if not self.ran:
            return f"{self.part}: not run ({self.diagnosis.message}){note}"
        hint = f" -- hint: {self.hint}" if self.hint else ""
        return f"{self.part}: FAILED, {self.diagnosis}{note}{hint}"

    def lines(self) -> list[str]:
        """Its line, then its details, indented."""
        return [self.line(), *(f"    {d.strip()}" for d in self.details)]

    def to_json(self) -> dict:
        d = self.diagnosis
        return {
            "part": self.part,
            "passed": self.passed,
            "kind": d.kind if d else None,
            "message": d.message if d else None,
            "factor": d.factor if d else None,
            "hint": self.hint,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict) -> Outcome:
        d = None
        if data.get("kind"):
            d = Diagnosis(data["kind"], data["message"], data.get("factor"))
        return cls(data["part"], data["passed"], d, data.get("hint", ""), data.get("note", ""))


@dataclass(frozen=True)
class Part:
    """One graded part: ``functions`` the student writes for it, what it asks (one line: the
    task and the shapes, never the result), ``grade(module) -> (diagnosis, note)``, its time
    limit in seconds, its own hints by diagnosis, the parts it ``needs`` (a training part needs
    the gradients it trains with: it is not run unless they pass), and its ``hint_levels``:
    hints in order, from a nudge through the method to the result nearly spelled out (how
    many a workspace shows: :mod:`.hints`)."""

    name: str
    functions: tuple[str, ...]
    what: str
    grade: Callable[[ModuleType], Grade]
    timeout: float = 10.0
    hints: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    hint_levels: tuple[str, ...] = ()

    def hint(self, diagnosis: Diagnosis | str) -> str:
        """The hint for a diagnosis (or a bare kind): the most specific of :func:`hint_keys`,
        the part's own before the general :data:`HINTS`."""
        for key in hint_keys(diagnosis):
            found = self.hints.get(key) or HINTS.get(key)
            if found:
                return found
        return ""


def hint_keys(diagnosis: Diagnosis | str) -> list[str]:
    """The keys a hint is looked up by, most specific first: for ``scaled`` with a factor,
    ``"scaled:too_large"`` or ``"scaled:too_small"`` (so that a gradient divided by N twice is
    never told to divide by N), then the kind."""
    if isinstance(diagnosis, str):
        return [diagnosis]
    if diagnosis.kind == "scaled" and diagnosis.factor:
        side = "too_large" if abs(diagnosis.factor) > 1 else "too_small"
        return [f"scaled:{side}", "scaled"]
    return [diagnosis.kind]


@dataclass(frozen=True)
class Exercise:
    """An exercise: ``name`` (on the command line), ``title``, ``module`` (the student file's
    name, without .py), ``summary`` (the workspace README's text) and its parts."""

    name: str
    title: str
    module: str
    summary: str
    parts: tuple[Part, ...]

    def part(self, name: str) -> Part:
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(f"{self.name} has no part {name!r} (parts: {self.part_names()})")

    def part_names(self) -> str:
        return ", ".join(p.name for p in self.parts)
