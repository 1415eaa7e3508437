"""``tinygrad-edu exercise report DIR...`` on a small class made here (right, wrong the same way
twice, broken in every way a workspace breaks, importing the reference solutions, two
exercises, a folder called ``<script>``), and ``exercise check DIR --json FILE``."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import alive

from tinygrad_edu import cli
from tinygrad_edu.exercises import get_exercise, start_workspace

REPO = Path(__file__).resolve().parents[2]
SCE = "softmax-cross-entropy"

NOT_DIVIDED = """

def cross_entropy_grad(z, y):
    p = softmax(z)
    p[np.arange(len(y)), y] -= 1
    return p
"""
NOT_DIVIDED_EITHER = """

def cross_entropy_grad(z, y):
    return softmax(z) - np.eye(z.shape[1])[y]
"""
RAISES_HTML = """

def cross_entropy(z, y):
    raise ValueError("<img src=x onerror=alert(1)>")
"""
IMPORTS_THE_SOLUTIONS = """import importlib

S = importlib.import_module("tinygrad_edu.exercises.solutions.softmax_cross_entropy")
softmax, cross_entropy, cross_entropy_grad = S.softmax, S.cross_entropy, S.cross_entropy_grad
"""
TRANSPOSED = """

def da2_da1(x, W1, b1, W2, b2):
    return W2.T @ da2_db2(x, W1, b1, W2, b2)
"""


def workspace(folder: Path, exercise: str = SCE, append: str = "", code: str = "") -> Path:
    """The reference solution's workspace, ``append`` added to its file (or ``code`` instead)."""
    start_workspace(get_exercise(exercise), folder, solution=True)
    file = folder / f"{get_exercise(exercise).module}.py"
    file.write_text(code or file.read_text() + append)
    return folder


def make_class(root: Path) -> list[Path]:
    c = root / "class"
    folders = [
        workspace(c / "alice"),
        workspace(c / "bob", append=NOT_DIVIDED),
        workspace(c / "carol", append=NOT_DIVIDED_EITHER),
        workspace(c / "dave", code="import numpy as np\n\n\ndef softmax(z:\n    return z\n"),
        workspace(c / "erin"),
        workspace(root / "late" / "erin"),
        workspace(c / "frank", code=IMPORTS_THE_SOLUTIONS),
        workspace(c / "grace", "jacobians", append=TRANSPOSED),
        workspace(c / "hank"),
        workspace(c / "ivan"),
        workspace(c / "<script>", append=RAISES_HTML),
    ]
    for erin in (c / "erin", root / "late" / "erin"):
        (erin / "exercise.json").unlink()
    (c / "hank" / "exercise.json").write_text('{"exercise": ')
    (c / "ivan" / "softmax_cross_entropy.py").unlink()
    return folders


def report(*argv: str | Path) -> tuple[int, str, str]:
    """``exercise report ...`` in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["exercise", "report", *map(str, argv)])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("report")
    folders = make_class(root)
    status, out, err = report(*folders, "--csv", root / "a.csv", "--html", root / "a.html")
    assert status == 0, err
    return {"root": root, "folders": folders, "out": out, "err": err}


def test_the_printed_report_gives_each_parts_pass_rate_mistakes_and_failing_students(
    graded: dict,
) -> None:
    out = graded["out"]
    assert out.startswith("class report: 11 workspaces, 2 exercises\n\n")
    assert (
        "softmax-cross-entropy (7 students)\n"
        "  softmax: 5/7 passed (71%)\n"
        "    still failing: dave, ivan\n"
        "  cross_entropy: 4/7 passed (57%)\n"
        "    mistakes: raised 1\n"
        "    still failing: <script>, dave, ivan\n"
        "  gradient: 3/7 passed (43%)\n"
        "    mistakes: scaled 2\n"
        "    still failing: bob, carol, dave, ivan\n"
    ) in out
    assert (
        "jacobians (1 student)\n"
        "  da2_db2: 1/1 passed (100%)\n"
        "  da2_dW2: 1/1 passed (100%)\n"
        "  da2_da1: 0/1 passed (0%)\n"
        "    mistakes: transposed 1\n"
        "    still failing: grace\n"
    ) in out


def test_broken_workspaces_are_one_line_each_and_never_stop_the_report(graded: dict) -> None:
    out = graded["out"]
    broken = out[out.index("broken workspaces (5):\n") :].split("\n\n")[0].splitlines()[1:]
    assert [line.split(":")[0] for line in broken] == [
        "  class/erin",
        "  dave (softmax-cross-entropy)",
        "  hank",
        "  ivan (softmax-cross-entropy)",
        "  late/erin",
    ]
    assert "softmax_cross_entropy.py, line 4: SyntaxError" in broken[1]
    assert "class/erin is not an exercise workspace (no exercise.json)" in broken[0]
    assert "hank/exercise.json is not valid JSON" in broken[2]
    assert "softmax_cross_entropy.py is missing" in broken[3]
    assert str(graded["root"]) not in out, "folders are named as the students are"


def test_a_file_importing_the_solutions_is_flagged(graded: dict) -> None:
    assert graded["out"].endswith(
        "imports the reference solutions (tinygrad_edu.exercises) (1):\n"
        "  frank: softmax_cross_entropy.py, line 3: importlib.import_module("
        "'tinygrad_edu.exercises.solutions.softmax_cross_entropy')\n"
    )


def test_the_csv_has_the_five_columns_and_one_row_per_student_exercise_and_part(
    graded: dict,
) -> None:
    rows = list(csv.reader(io.StringIO((graded["root"] / "a.csv").read_text())))
    sce_rows = lambda name, gradient="", ce="": [  # noqa: E731
        [name, SCE, "softmax", "True", ""],
        [name, SCE, "cross_entropy", str(not ce), ce],
        [name, SCE, "gradient", str(not gradient), gradient],
    ]
    jacobian_rows = [
        ["grace", "jacobians", part, str(part != "da2_da1"), "transposed" * (part == "da2_da1")]
        for part in ("da2_db2", "da2_dW2", "da2_da1", "da1_dz1", "dz1_dW1")
    ]
    assert rows == [
        ["student", "exercise", "part", "passed", "diagnosis"],
        *sce_rows("<script>", ce="raised"),
        *sce_rows("alice"),
        *sce_rows("bob", gradient="scaled"),
        *sce_rows("carol", gradient="scaled"),
        ["class/erin", "", "", "False", "broken"],
        ["dave", SCE, "", "False", "broken"],
        *sce_rows("frank"),
        *jacobian_rows,
        ["hank", "", "", "False", "broken"],
        ["ivan", SCE, "", "False", "broken"],
        ["late/erin", "", "", "False", "broken"],
    ]


def test_the_same_class_gives_the_same_csv_and_summary(graded: dict) -> None:
    root = graded["root"]
    status, out, _ = report(*reversed(graded["folders"]), "--csv", root / "b.csv")
    assert status == 0 and out == graded["out"]
    assert (root / "b.csv").read_bytes() == (root / "a.csv").read_bytes()


def test_the_page_escapes_the_students_strings_and_shows_the_class(graded: dict) -> None:
    page = (graded["root"] / "a.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page
    assert "<th>&lt;script&gt;</th>" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count('class="passed"') > 10 and 'class="broken" colspan="3"' in page
    assert "<svg" in page and "<title>scaled: 2</title>" in page
    assert "frank" in page[page.index("Imports the reference solutions") :]
    assert 'src="' not in page and "<link" not in page and "<script" not in page
    assert page.count("http") == page.count('xmlns="http://www.w3.org/2000/svg"') == 1


def test_an_endless_loop_at_import_is_one_broken_row(tmp_path: Path) -> None:
    looping = workspace(tmp_path / "loops", code="while True:\n    pass\n")
    status, out, _ = report(
        looping, workspace(tmp_path / "ok"), "--csv", tmp_path / "c.csv", "--timeout", "3"
    )
    assert status == 0
    assert (
        "  loops (softmax-cross-entropy): importing softmax_cross_entropy.py failed: timeout: "
        "softmax_cross_entropy.py did not finish within 3 s\n"
    ) in out
    rows = (tmp_path / "c.csv").read_text().splitlines()
    assert rows[1] == "loops,softmax-cross-entropy,,False,broken" and len(rows) == 5


def test_user_errors_are_one_line_before_anything_is_graded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    for argv, error in (
        ([], "the following arguments are required: DIR"),
        (["ws", "--timeout", "0"], "--timeout must be a positive number of seconds, got 0.0"),
        (["ws", "--csv", str(tmp_path)], f"{tmp_path} is a folder: expected a file name"),
        (["ws", "--html", str(tmp_path / "file" / "p.html")], "file is a file, not a folder"),
        (["ws", "--csv", str(tmp_path / "x"), "--html", str(tmp_path / "x")], "the same file"),
    ):
        assert cli.main(["exercise", "report", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and error in err, err


@pytest.mark.skipif(sys.platform != "linux", reason="the sandbox's Linux pieces")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_stop_a_report_and_every_part(tmp_path: Path, signum: int) -> None:
    pids = tmp_path / "loops" / "pids"
    code = (
        f"import os\nopen({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\nwhile True:\n    pass\n"
    )
    folder = workspace(tmp_path / "loops", code=code)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tinygrad_edu", "exercise", "report", str(folder)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(200):
        if pids.exists():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    start = time.monotonic()
    process.send_signal(signum)
    process.wait(timeout=20)
    assert time.monotonic() - start < 8 and process.returncode == 130
    started = [int(line) for line in pids.read_text().split()]
    assert started and not any(alive(pid) for pid in started)


# ----------------------------------------------------------------------------- check --json
def check_json(
    folder: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str], dict]:
    capsys.readouterr()
    status = cli.main(["exercise", "check", str(folder), "--json", str(out)])
    return status, capsys.readouterr().out.splitlines(), json.loads(out.read_text())


def test_check_json_writes_the_outcome(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bob = workspace(tmp_path / "bob", append=NOT_DIVIDED)
    out = tmp_path / "results" / "bob.json"
    status, lines, data = check_json(bob, out, capsys)
    assert status == 1 and lines[:2] == ["softmax: passed", "cross_entropy: passed"]
    assert lines[2].startswith("gradient: FAILED, scaled")
    message = data["parts"][2].pop("message")
    assert "6 times too large" in message or "times too large" in message
    assert data == {
        "exercise": SCE,
        "passed": False,
        "parts": [
            {"part": "softmax", "passed": True, "diagnosis": None, "message": None},
            {"part": "cross_entropy", "passed": True, "diagnosis": None, "message": None},
            {"part": "gradient", "passed": False, "diagnosis": "scaled"},
        ],
    }
    out.write_text("an older outcome")
    status, _, data = check_json(workspace(tmp_path / "alice"), out, capsys)
    assert status == 0 and data["passed"] is True and len(data["parts"]) == 3
    assert [p.name for p in out.parent.iterdir()] == ["bob.json"], "no temp file left"


def test_check_json_refuses_a_folder_before_grading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = workspace(tmp_path / "ws", code="while True:\n    pass\n")
    start = time.monotonic()
    assert cli.main(["exercise", "check", str(folder), "--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert time.monotonic() - start < 5 and err.count("\n") == 1
    assert f"--json: {tmp_path} is a folder: expected a file name" in err


USES_AUTODIFF = """

def cross_entropy_grad(z, y):
    from tinygrad_edu import Tensor, nn

    zt = Tensor(z, requires_grad=True)
    nn.cross_entropy(zt, y).backward()
    return zt.grad
"""


def test_a_file_that_lets_autodiff_find_its_gradient_passes_but_is_flagged(
    tmp_path: Path,
) -> None:
    """The grader checks numbers, and autograd's are right: the teacher is told who used it."""
    folders = [workspace(tmp_path / "alice"), workspace(tmp_path / "judy", append=USES_AUTODIFF)]
    status, out, err = report(*folders, "--html", tmp_path / "class.html")
    assert status == 0, err
    assert "  gradient: 2/2 passed (100%)\n" in out
    code = (tmp_path / "judy" / "softmax_cross_entropy.py").read_text().splitlines()
    line = code.index("    from tinygrad_edu import Tensor, nn") + 1
    assert out.endswith(
        "imports an autodiff library, gradients are by hand (1):\n"
        f"  judy: softmax_cross_entropy.py, line {line}: from tinygrad_edu import Tensor, nn\n"
    )
    page = (tmp_path / "class.html").read_text()
    assert "<h2>Imports an autodiff library (1)</h2>" in page
    assert page.count("imports an autodiff library</span>") == 1


def test_check_tells_the_student_what_the_report_will_flag(tmp_path: Path) -> None:
    folder = workspace(tmp_path / "judy", append=USES_AUTODIFF)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(["exercise", "check", str(folder)])
    assert status == 0  # the numbers are right: the note does not fail the check
    code = (folder / "softmax_cross_entropy.py").read_text().splitlines()
    line = code.index("    from tinygrad_edu import Tensor, nn") + 1
    assert out.getvalue().endswith(
        f"note: softmax_cross_entropy.py, line {line}: from tinygrad_edu import Tensor, nn "
        "(an autodiff library, where the exercise asks for the gradients by hand; "
        "the class report lists it)\n"
    )
    clean = io.StringIO()
    with contextlib.redirect_stdout(clean):
        cli.main(["exercise", "check", str(workspace(tmp_path / "alice"))])
    assert "note:" not in clean.getvalue()


def test_check_tells_the_student_an_import_of_the_solutions_is_listed(tmp_path: Path) -> None:
    folder = workspace(tmp_path / "frank", code=IMPORTS_THE_SOLUTIONS)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["exercise", "check", str(folder)])
    assert out.getvalue().endswith(
        "note: softmax_cross_entropy.py, line 3: importlib.import_module("
        "'tinygrad_edu.exercises.solutions.softmax_cross_entropy') "
        "(imports the reference solutions; the class report lists it)\n"
    )
