"""The class report's aggregation, without grading: outcomes made by hand become the printed
summary, the CSV rows, the ``check --json`` outcome and the HTML dashboard; the students'
names; the imports of the reference solutions found by reading the code."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tinygrad_edu.check import Diagnosis
from tinygrad_edu.exercises import Outcome
from tinygrad_edu.exercises.classpage import html_page, mistake_chart
from tinygrad_edu.exercises.classreport import (
    CSV_COLUMNS,
    StudentResult,
    autodiff_imports,
    class_report,
    csv_text,
    outcome_json,
    part_stats,
    solution_imports,
    student_names,
    summary_text,
)

SCE = "softmax-cross-entropy"


def passed(part: str) -> Outcome:
    return Outcome(part, True)


def failed(part: str, kind: str, message: str = "wrong") -> Outcome:
    return Outcome(part, False, Diagnosis(kind, message), "a hint")


def sce(name: str, gradient: Outcome | None = None, **more: object) -> StudentResult:
    outcomes = (passed("softmax"), passed("cross_entropy"), gradient or passed("gradient"))
    return StudentResult(name, SCE, outcomes, **more)  # type: ignore[arg-type]


def a_class() -> list[StudentResult]:
    """Given in no particular order: the report sorts by name."""
    return [
        sce("carol", failed("gradient", "scaled")),
        StudentResult("erin", "", broken="erin is not an exercise workspace (no exercise.json)"),
        sce("alice"),
        StudentResult(
            "dave", SCE, broken="softmax_cross_entropy.py, line 5: SyntaxError: invalid syntax"
        ),
        sce("bob", failed("gradient", "scaled")),
        sce("frank", solution_imports=("softmax_cross_entropy.py, line 1: import x",)),
        StudentResult(
            "grace",
            "derivative-table",
            (failed("sigmoid", "missing_factor"), failed("train", "not_run", "needs sigmoid")),
        ),
        sce("hank", failed("gradient", "transposed")),
    ]


def test_the_summary_gives_pass_rates_mistakes_and_who_still_fails() -> None:
    assert summary_text(class_report(a_class())) == (
        "class report: 8 workspaces, 2 exercises\n"
        "\n"
        "derivative-table (1 student)\n"
        "  sigmoid: 0/1 passed (0%)\n"
        "    mistakes: missing_factor 1\n"
        "    still failing: grace\n"
        "  train: 0/1 passed (0%)\n"
        "    not run: 1\n"
        "    still failing: grace\n"
        "\n"
        "softmax-cross-entropy (6 students)\n"
        "  softmax: 5/6 passed (83%)\n"
        "    still failing: dave\n"
        "  cross_entropy: 5/6 passed (83%)\n"
        "    still failing: dave\n"
        "  gradient: 2/6 passed (33%)\n"
        "    mistakes: scaled 2, transposed 1\n"
        "    still failing: bob, carol, dave, hank\n"
        "\n"
        "broken workspaces (2):\n"
        "  dave (softmax-cross-entropy): softmax_cross_entropy.py, line 5: SyntaxError: "
        "invalid syntax\n"
        "  erin: erin is not an exercise workspace (no exercise.json)\n"
        "\n"
        "imports the reference solutions (tinygrad_edu.exercises) (1):\n"
        "  frank: softmax_cross_entropy.py, line 1: import x\n"
    )


def test_part_stats_count_the_kinds_most_frequent_first() -> None:
    stats = part_stats(class_report(a_class()), SCE, "gradient")
    assert (stats.passed, stats.total, stats.not_run) == (2, 6, 0)
    assert stats.mistakes == (("scaled", 2), ("transposed", 1))
    assert stats.failing == ("bob", "carol", "dave", "hank")
    assert stats.rate == pytest.approx(1 / 3)


def test_the_csv_has_one_row_per_student_exercise_and_part_sorted() -> None:
    text = csv_text(class_report(a_class()))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS == ("student", "exercise", "part", "passed", "diagnosis")
    assert rows[1:] == [
        ["alice", SCE, "softmax", "True", ""],
        ["alice", SCE, "cross_entropy", "True", ""],
        ["alice", SCE, "gradient", "True", ""],
        ["bob", SCE, "softmax", "True", ""],
        ["bob", SCE, "cross_entropy", "True", ""],
        ["bob", SCE, "gradient", "False", "scaled"],
        ["carol", SCE, "softmax", "True", ""],
        ["carol", SCE, "cross_entropy", "True", ""],
        ["carol", SCE, "gradient", "False", "scaled"],
        ["dave", SCE, "", "False", "broken"],
        ["erin", "", "", "False", "broken"],
        ["frank", SCE, "softmax", "True", ""],
        ["frank", SCE, "cross_entropy", "True", ""],
        ["frank", SCE, "gradient", "True", ""],
        ["grace", "derivative-table", "sigmoid", "False", "missing_factor"],
        ["grace", "derivative-table", "train", "False", "not_run"],
        ["hank", SCE, "softmax", "True", ""],
        ["hank", SCE, "cross_entropy", "True", ""],
        ["hank", SCE, "gradient", "False", "transposed"],
    ]
    assert text == csv_text(class_report(reversed(a_class())))  # the order given: no matter


def test_the_printed_report_has_no_control_characters_from_students() -> None:
    students = [
        StudentResult("a\x1b[2Jb", "", broken="x.py raised ValueError: \x1b]0;owned\x07\nline"),
        sce("c\rd", failed("gradient", "scaled")),
        sce("e\x1b[31m", solution_imports=("s.py, line 1: import tinygrad_edu.exercises",)),
    ]
    text = summary_text(class_report(students))
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    assert "  ab: x.py raised ValueError:  line\n" in text and "still failing: cd\n" in text


def test_a_name_with_a_comma_or_quote_is_one_csv_field() -> None:
    text = csv_text(class_report([sce('o"neil, jr')]))
    assert list(csv.reader(io.StringIO(text)))[1][0] == 'o"neil, jr'


def test_the_json_outcome_follows_the_schema() -> None:
    outcomes = [
        passed("sigmoid"),
        failed("tanh", "scaled", "dz: scaled by 2"),
        failed("train", "not_run", "needs tanh"),
    ]
    assert outcome_json("derivative-table", outcomes) == {
        "exercise": "derivative-table",
        "passed": False,
        "parts": [
            {"part": "sigmoid", "passed": True, "diagnosis": None, "message": None},
            {"part": "tanh", "passed": False, "diagnosis": "scaled", "message": "dz: scaled by 2"},
            {"part": "train", "passed": False, "diagnosis": "not_run", "message": "needs tanh"},
        ],
    }
    assert outcome_json("x", [passed("a")])["passed"] is True


# ----------------------------------------------------------------------------- the page
def test_the_page_escapes_everything_a_student_chose() -> None:
    students = [
        sce("<script>", failed("gradient", "raised", "raised ValueError: <img src=x>")),
        StudentResult("<marquee>", "", broken="<marquee> is not an exercise workspace"),
        sce('a"b', solution_imports=("s.py, line 1: import_module('<i>')",)),
    ]
    page = html_page(class_report(students))
    for raw in ("<script>", "<img", "<marquee>", "<i>", 'a"b'):
        assert raw not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x&gt;" in page and "a&quot;b" in page
    assert "src=" not in page.replace("src=x", "") and "href" not in page  # nothing to fetch


def test_the_page_is_a_grid_coloured_by_status_with_a_chart() -> None:
    page = html_page(class_report(a_class()))
    grid = page[page.index("<h2>softmax-cross-entropy (6 students)</h2>") :]
    bob = grid[grid.index("<th>bob</th>") : grid.index("</tr>", grid.index("<th>bob</th>"))]
    assert bob.count('class="passed"') == 2 and 'class="failed"' in bob and ">scaled<" in bob
    assert 'title="gradient: FAILED, scaled: wrong -- hint: a hint"' in bob
    assert 'class="broken" colspan="3"' in grid  # dave
    assert 'class="not_run"' in page  # grace's train
    assert "imports tinygrad_edu.exercises" in page  # frank
    assert '<td class="rate">2/6 (33%)<br>scaled 2, transposed 1</td>' in grid
    chart = page[page.index("<svg") : page.index("</svg>")]
    kinds = ["broken", "scaled", "missing_factor", "transposed"]  # by count, then by name
    assert sorted(kinds, key=lambda k: chart.index(f">{k}<")) == kinds
    assert "<title>scaled: 2</title>" in chart and "not_run" not in chart


def test_a_class_without_mistakes_has_no_bars() -> None:
    assert "<svg" not in mistake_chart([])
    assert "No mistakes" in html_page(class_report([sce("alice")]))


# ----------------------------------------------------------------------------- the names
@pytest.mark.parametrize(
    ("folders", "names"),
    [
        (["/c/alice", "/c/bob"], ["alice", "bob"]),
        (["/c/alice/ex1", "/c/bob/ex1", "/c/carol"], ["alice/ex1", "bob/ex1", "carol"]),
        (["/x/a/ex", "/y/a/ex", "/y/b/ex"], ["x/a/ex", "y/a/ex", "b/ex"]),
        (["/a/b", "/c/a/b"], ["a/b", "c/a/b"]),
        (["/ex", "/c/ex"], ["ex", "c/ex"]),
    ],
)
def test_equal_folder_names_are_told_apart_by_their_parents(
    folders: list[str], names: list[str]
) -> None:
    assert student_names(folders) == names


def test_a_relative_folder_is_named_as_it_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "alice").mkdir()
    monkeypatch.chdir(tmp_path / "alice")
    assert student_names([".", "../bob/"]) == ["alice", "bob"]


# ----------------------------------------------------------------------------- the imports
@pytest.mark.parametrize(
    "code",
    [
        "import tinygrad_edu.exercises",
        "import tinygrad_edu.exercises.solutions.jacobians as j",
        "import numpy as np, tinygrad_edu.exercises.solutions",
        "from tinygrad_edu.exercises.solutions.jacobians import *",
        "from tinygrad_edu.exercises import solutions",
        "from tinygrad_edu import exercises",
        "from tinygrad_edu import check, exercises as ex",
        "import importlib\nm = importlib.import_module('tinygrad_edu.exercises.solutions.x')",
        "from importlib import import_module\nm = import_module('tinygrad_edu.exercises')",
        "import importlib\nm = importlib.import_module('.exercises.solutions', 'tinygrad_edu')",
        "m = __import__('tinygrad_edu.exercises.solutions.x')",
        "m = __import__('tinygrad_edu', fromlist=['exercises'])",
        "def f():\n    if True:\n        from tinygrad_edu.exercises import grader",
    ],
)
def test_imports_of_the_solutions_are_found_without_running_the_file(code: str) -> None:
    found = solution_imports(code, "s.py")
    assert len(found) == 1 and found[0].startswith(f"s.py, line {code.count(chr(10)) + 1}: ")


@pytest.mark.parametrize(
    "code",
    [
        "import tinygrad_edu",
        "from tinygrad_edu.check import check_vjp",
        "import tinygrad_edu.exercises_of_mine",
        "from . import exercises",
        "import importlib\nm = importlib.import_module('numpy')",
        '"""Unlike tinygrad_edu.exercises.solutions, this file is mine."""',
        "x = 'tinygrad_edu.exercises'",
        "m = __import__('tinygrad_edu', fromlist=['check'])",
    ],
)
def test_other_imports_and_mere_mentions_are_not_flagged(code: str) -> None:
    assert solution_imports(code) == []


@pytest.mark.parametrize(
    ("name", "package", "flagged"),
    [
        ("..exercises", "tinygrad_edu.check", True),
        ("..exercises.solutions", "tinygrad_edu.check", True),
        ("...exercises", "tinygrad_edu.check", False),
        (".solutions", "tinygrad_edu.exercises", True),
        (".", "tinygrad_edu.exercises", True),
        (".check", "tinygrad_edu", False),
    ],
)
def test_relative_names_are_resolved_as_import_module_does(
    name: str, package: str, flagged: bool
) -> None:
    code = f"import importlib\nm = importlib.import_module({name!r}, package={package!r})"
    assert bool(solution_imports(code)) == flagged


def test_each_place_is_listed_in_line_order() -> None:
    code = (
        "import numpy as np\n"
        "import importlib\n"
        "def f():\n"
        "    return importlib.import_module('tinygrad_edu.exercises.solutions.jacobians')\n"
        "from tinygrad_edu.exercises.solutions import jacobians\n"
    )
    assert solution_imports(code, "j.py") == [
        "j.py, line 4: importlib.import_module('tinygrad_edu.exercises.solutions.jacobians')",
        "j.py, line 5: from tinygrad_edu.exercises.solutions import jacobians",
    ]


def test_a_file_that_is_not_python_is_a_syntax_error() -> None:
    with pytest.raises(SyntaxError):
        solution_imports("def f(:\n")


@pytest.mark.parametrize(
    "code",
    [
        "import torch",
        "import torch.nn.functional as F",
        "from jax import grad",
        "import autograd.numpy as anp",
        "from tinygrad_edu import Tensor",
        "import tinygrad_edu.check",
        "import tensorflow as tf",
        "import importlib\nm = importlib.import_module('torch')",
        "m = __import__('jax', fromlist=['grad'])",
        "def f():\n    import torch",
    ],
)
def test_imports_of_an_autodiff_library_are_found(code: str) -> None:
    found = autodiff_imports(code, "s.py")
    assert len(found) == 1 and found[0].startswith(f"s.py, line {code.count(chr(10)) + 1}: ")


@pytest.mark.parametrize(
    "code",
    [
        "import numpy as np",
        "import torchvision_of_mine",
        "from . import torch",
        "x = 'torch'",
        "from tinygrad_edu.exercises.solutions import jacobians",  # listed as a solution import
        "import tinygrad_edu.exercises",
    ],
)
def test_numpy_mentions_and_solution_imports_are_not_autodiff_imports(code: str) -> None:
    assert autodiff_imports(code) == []


def test_the_summary_and_page_list_autodiff_imports_after_solution_imports() -> None:
    students = [
        sce("judy", autodiff_imports=("s.py, line 2: import torch",)),
        sce("frank", solution_imports=("s.py, line 1: import tinygrad_edu.exercises",)),
    ]
    text = summary_text(class_report(students))
    assert text.endswith(
        "imports the reference solutions (tinygrad_edu.exercises) (1):\n"
        "  frank: s.py, line 1: import tinygrad_edu.exercises\n"
        "\n"
        "imports an autodiff library, gradients are by hand (1):\n"
        "  judy: s.py, line 2: import torch\n"
    )
    page = html_page(class_report(students))
    section = page[page.index("<h2>Imports an autodiff library (1)</h2>") :]
    assert "<li><b>judy</b>: <code>s.py, line 2: import torch</code></li>" in section
    assert "frank" not in section
