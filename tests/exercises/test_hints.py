"""Hint levels: every part has them; ``exercise start --hints none|some|all`` writes what it
says; ``exercise hint DIR PART`` gives one level at a time, records it and refuses past the
last; ``--hints none`` also leaves the hints out of ``exercise check``; bad input (an unknown
part, exercise.json's hint fields edited) is one line and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinygrad_edu import cli
from tinygrad_edu.exercises import EXERCISES
from tinygrad_edu.exercises.hints import HintError, HintState
from tinygrad_edu.exercises.workspace import check_part

NAME = "softmax-cross-entropy"
EXERCISE = EXERCISES[NAME]
#: The loss and its gradient summed over the batch where the mean is needed: two failed parts.
SUMMED = """\
import numpy as np


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(z, y):
    return float(-np.log(softmax(z)[np.arange(len(y)), y]).sum())


def cross_entropy_grad(z, y):
    return softmax(z) - np.eye(z.shape[1])[y]
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    capsys.readouterr()
    status = cli.main(["exercise", *argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def start(capsys: pytest.CaptureFixture[str], folder: Path, *more: str) -> Path:
    assert run(capsys, "start", NAME, str(folder), *more)[0] == 0
    return folder


def metadata(folder: Path) -> dict:
    return json.loads((folder / "exercise.json").read_text())


def edit_metadata(folder: Path, **fields: object) -> None:
    data = {**metadata(folder), **fields}
    (folder / "exercise.json").write_text(json.dumps(data))


@pytest.mark.parametrize("exercise", list(EXERCISES.values()), ids=list(EXERCISES))
def test_every_part_has_two_or_more_hint_levels(exercise: object) -> None:
    for part in exercise.parts:  # type: ignore[attr-defined]
        levels = part.hint_levels
        assert len(levels) >= 2, f"{exercise.name}/{part.name}"  # type: ignore[attr-defined]
        assert all(text.strip() for text in levels) and len(set(levels)) == len(levels)


# ----------------------------------------------------------------------------- start --hints
@pytest.mark.parametrize("choice", ["none", "some", "all"])
def test_start_writes_the_chosen_levels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], choice: str
) -> None:
    folder = start(capsys, tmp_path / "ws", "--hints", choice)
    readme = (folder / "README.md").read_text()
    shown = {"none": 0, "some": 1, "all": None}[choice]
    for part in EXERCISE.parts:
        for level, text in enumerate(part.hint_levels):
            assert (text in readme) == (shown is None or level < shown), (part.name, level)
    expected = {p.name: len(p.hint_levels[:shown]) for p in EXERCISE.parts}
    assert metadata(folder)["hints"] == choice
    assert metadata(folder)["hints_shown"] == expected
    assert ("exercise hint" in readme) == (choice == "some")
    assert ("teacher chose to give no hints" in readme) == (choice == "none")


def test_the_default_is_some(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default = start(capsys, tmp_path / "a")
    some = start(capsys, tmp_path / "b", "--hints", "some")
    assert (default / "README.md").read_text() == (some / "README.md").read_text()
    assert metadata(default)["hints"] == "some"


# ----------------------------------------------------------------------------- exercise hint
def test_hint_gives_the_next_level_one_at_a_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = start(capsys, tmp_path / "ws")
    readme = (folder / "README.md").read_text()
    levels = EXERCISE.part("gradient").hint_levels
    for level in range(2, len(levels) + 1):
        status, out, _ = run(capsys, "hint", str(folder), "gradient")
        assert status == 0
        assert out == [f"gradient, hint {level} of {len(levels)}: {levels[level - 1]}"]
        assert metadata(folder)["hints_shown"] == {
            "softmax": 1,
            "cross_entropy": 1,
            "gradient": level,
        }
    status, out, err = run(capsys, "hint", str(folder), "gradient")
    assert status == 2 and out == [] and len(err) == 1
    assert f"no more hints for gradient: all {len(levels)} have been shown" in err[0]
    assert metadata(folder)["hints_shown"]["gradient"] == len(levels)
    assert (folder / "README.md").read_text() == readme, "the README stays as it was written"
    status, out, _ = run(capsys, "hint", str(folder), "softmax")  # the other parts: their own
    assert status == 0 and out[0].startswith("softmax, hint 2 of")


def test_hint_refuses_where_the_teacher_chose_none_or_all_are_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = start(capsys, tmp_path / "none", "--hints", "none")
    status, out, err = run(capsys, "hint", str(folder), "gradient")
    assert status == 2 and out == [] and len(err) == 1 and "teacher chose none" in err[0]
    assert metadata(folder)["hints_shown"] == {"softmax": 0, "cross_entropy": 0, "gradient": 0}
    folder = start(capsys, tmp_path / "all", "--hints", "all")
    status, out, err = run(capsys, "hint", str(folder), "softmax")
    assert status == 2 and len(err) == 1 and "all 3 have been shown (README.md" in err[0]


def test_an_unknown_part_is_one_line_listing_the_parts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = start(capsys, tmp_path / "ws")
    status, out, err = run(capsys, "hint", str(folder), "gradients")
    assert status == 2 and out == [] and len(err) == 1
    assert "no part 'gradients' (parts: softmax, cross_entropy, gradient)" in err[0]
    status, _, err = run(capsys, "hint", str(tmp_path / "nowhere"), "gradient")
    assert status == 2 and len(err) == 1 and "exercise start" in err[0]


# ------------------------------------------------------------------- exercise.json, untrusted
@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"hints": "lots"}, '"hints" must be one of none, some, all'),
        ({"hints": ["all"]}, '"hints" must be one of none, some, all, got list'),
        ({"hints": None}, '"hints" must be one of'),
        ({"hints_shown": [1, 2]}, '"hints_shown" must map part names'),
        ({"hints_shown": {"gradient": -1}}, '"hints_shown" must map part names'),
        ({"hints_shown": {"gradient": "3"}}, '"hints_shown" must map part names'),
        ({"hints_shown": {"gradient": True}}, '"hints_shown" must map part names'),
        ({"hints_shown": {"gradient": 1.5}}, '"hints_shown" must map part names'),
    ],
)
def test_bad_hint_fields_are_one_line_for_hint_and_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fields: dict, says: str
) -> None:
    folder = start(capsys, tmp_path / "ws")
    edit_metadata(folder, **fields)
    for argv in (["hint", str(folder), "gradient"], ["check", str(folder)]):
        status, out, err = run(capsys, *argv)
        assert status == 2 and out == [] and len(err) == 1, argv
        assert "exercise.json" in err[0] and says in err[0] and "Traceback" not in err[0]


def test_an_exercise_json_without_hints_reads_as_some_with_none_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As written before hints existed: its README showed none, so hint starts at level 1."""
    folder = start(capsys, tmp_path / "ws")
    (folder / "exercise.json").write_text(json.dumps({"exercise": NAME}))
    levels = EXERCISE.part("gradient").hint_levels
    for level in (1, 2):
        status, out, _ = run(capsys, "hint", str(folder), "gradient")
        assert status == 0 and out == [f"gradient, hint {level} of 3: {levels[level - 1]}"]
    assert metadata(folder) == {"exercise": NAME, "hints": "some", "hints_shown": {"gradient": 2}}


def test_counts_beyond_a_parts_levels_or_of_unknown_parts_are_harmless() -> None:
    state = HintState.from_json({"hints_shown": {"gradient": 99, "old_part": 2}}, "x")
    assert state.choice == "some" and state.count(EXERCISE.part("gradient")) == 3
    with pytest.raises(HintError, match="no more hints for gradient"):
        state.reveal(EXERCISE, "gradient")
    assert state.reveal(EXERCISE, "softmax")[1:] == (1, EXERCISE.part("softmax").hint_levels[0])


# ----------------------------------------------------------------- exercise check and --hints
def test_check_gives_hints_unless_the_teacher_chose_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = {}
    for choice in ("none", "some", "all"):
        folder = start(capsys, tmp_path / choice, "--hints", choice)
        (folder / "softmax_cross_entropy.py").write_text(SUMMED)
        status, lines[choice], _ = run(capsys, "check", str(folder))
        assert status == 1 and lines[choice][0] == "softmax: passed"
    assert all(" -- hint: " in line for line in lines["some"][1:])
    assert lines["all"] == lines["some"]
    assert lines["none"] == [line.split(" -- hint: ")[0] for line in lines["some"]]
    assert "FAILED, scaled: z: scaled by 6" in lines["none"][2], "the diagnosis stays"
    outcome = check_part(tmp_path / "none", "gradient")  # what the workspace's tests print
    assert not outcome.passed and outcome.hint == "" and " -- hint" not in outcome.line()
    assert check_part(tmp_path / "some", "gradient").hint
