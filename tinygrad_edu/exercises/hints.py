"""Hint levels: how many a workspace shows, and the next one a student asks for.

Each :class:`~.exercise.Part` has ``hint_levels``, from a nudge through the method to the result
nearly spelled out. The teacher chooses what a workspace shows with
``tinygrad-edu exercise start NAME DIR --hints CHOICE``:

* ``none``: no level anywhere; ``exercise check`` names each mistake without the hint that
  follows it, and ``exercise hint`` refuses;
* ``some`` (the default): the first level of each part in the README; ``exercise check`` gives
  its hint after each mistake; ``exercise hint DIR PART`` prints the next level, one at a time;
* ``all``: every level of every part in the README.

``exercise.json`` records the choice (``"hints"``) and how many levels of each part have been
shown, the README's included (``"hints_shown"``: part -> count). It is the student's to edit, so
both fields are validated (:meth:`HintState.from_json`); one written before hints existed (no
``"hints"``) reads as ``some`` with no level shown yet. The hints ship inside the package, as
the reference solutions do: ``none`` is a teaching choice, not a lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..engine.errors import is_integer
from .exercise import Exercise, Part

__all__ = ["CHOICES", "DEFAULT", "HintError", "HintState", "readme_hints"]

#: The teacher's choices of ``--hints``, and the default.
CHOICES = ("none", "some", "all")
DEFAULT = "some"
#: The levels of each part ``some`` writes into the README.
SOME = 1


class HintError(ValueError):
    """A hint that cannot be given (no hints chosen, an unknown part, no level left), or hint
    fields of ``exercise.json`` that are not valid."""


@dataclass(frozen=True)
class HintState:
    """A workspace's hints: the teacher's ``choice`` and the levels ``shown`` of each part (by
    part name: the README's and those asked for since)."""

    choice: str = DEFAULT
    shown: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def start(cls, exercise: Exercise, choice: str = DEFAULT) -> HintState:
        """The state ``exercise start --hints choice`` writes: the README's levels shown."""
        if choice not in CHOICES:
            raise HintError(f"--hints must be one of {', '.join(CHOICES)}, got {choice!r}")
        per_part = {"none": 0, "some": SOME, "all": None}[choice]
        return cls(choice, {p.name: _levels(p, per_part) for p in exercise.parts})

    @classmethod
    def from_json(cls, data: Mapping[str, object], where: str) -> HintState:
        """The state in ``exercise.json``'s ``data`` (read as untrusted: a HintError starting
        with ``where`` for a bad field). Counts for parts the exercise no longer has are kept
        and never used; a count above a part's levels means all of them."""
        choice = data.get("hints", DEFAULT)
        if choice not in CHOICES:
            shown = repr(choice)[:40] if isinstance(choice, str) else type(choice).__name__
            raise HintError(f'{where}: "hints" must be one of {", ".join(CHOICES)}, got {shown}')
        counts = data.get("hints_shown", {})
        valid = isinstance(counts, dict) and all(is_integer(n) and n >= 0 for n in counts.values())
        if not valid:
            raise HintError(
                f'{where}: "hints_shown" must map part names to counts of hints shown (0, 1, ...)'
            )
        return cls(str(choice), dict(counts))  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        """The fields of ``exercise.json`` that hold this state."""
        return {"hints": self.choice, "hints_shown": dict(self.shown)}

    def count(self, part: Part) -> int:
        """The levels of ``part`` shown so far."""
        return min(self.shown.get(part.name, 0), len(part.hint_levels))

    def reveal(self, exercise: Exercise, name: str) -> tuple[HintState, int, str]:
        """(the state with one more level of part ``name`` shown, that level's number counting
        from 1, its text); a HintError if there is none to give."""
        if self.choice == "none":
            raise HintError("no hints in this workspace: your teacher chose none (--hints none)")
        try:
            part = exercise.part(name)
        except KeyError as e:
            raise HintError(e.args[0]) from None
        shown, total = self.count(part), len(part.hint_levels)
        if not total:
            raise HintError(f"{exercise.name}'s part {name} has no hints")
        if shown >= total:
            where = " (README.md lists them)" if self.choice == "all" else ""
            raise HintError(f"no more hints for {name}: all {total} have been shown{where}")
        state = HintState(self.choice, {**self.shown, name: shown + 1})
        return state, shown + 1, part.hint_levels[shown]


def _levels(part: Part, per_part: int | None) -> int:
    total = len(part.hint_levels)
    return total if per_part is None else min(per_part, total)


def readme_hints(exercise: Exercise, state: HintState) -> str:
    """The README's section on hints: the levels ``state`` shows, and how to ask for more."""
    if state.choice == "none":
        return "## Hints\n\nNone in this workspace: your teacher chose to give no hints.\n"
    lines = [
        "## Hints",
        "",
        "Each part has hints in levels: a nudge, then the method, then the result nearly "
        "spelled out. Try each level before you read the next.",
        "",
    ]
    for part in exercise.parts:
        shown, total = state.count(part), len(part.hint_levels)
        if shown == 1:
            lines.append(f"- `{part.name}` (hint 1 of {total}): {part.hint_levels[0]}")
        elif shown:
            lines.append(f"- `{part.name}`:")
            lines += [f"  {i}. {text}" for i, text in enumerate(part.hint_levels[:shown], 1)]
    if any(state.count(p) < len(p.hint_levels) for p in exercise.parts):
        lines += [
            "",
            "The next hint of a part, one level at a time (it is recorded in exercise.json):",
            "",
            "```console",
            f"tinygrad-edu exercise hint . {exercise.parts[0].name}",
            "```",
        ]
    return "\n".join(lines) + "\n"
