"""``tinygrad-edu exercise``: list, start (stubs or the solution), check; a student's bug (an
exception, None, NaN, the wrong number of arrays, an endless loop, a dying process) is one
report line naming the student's file and line, never a crash or a hang of the checker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from processes import alive

from tinygrad_edu import cli
from tinygrad_edu.exercises import EXERCISES, grader

REPO = Path(__file__).resolve().parents[2]
HEADER = "import numpy as np\n\n\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    status = cli.main(["exercise", *argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_list_names_one_exercise_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = run(capsys, "list")
    assert status == 0
    assert [line.split()[0] for line in lines] == list(EXERCISES)


def test_start_writes_a_workspace_and_check_grades_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ex"
    status, _, _ = run(capsys, "start", "softmax-cross-entropy", str(folder))
    assert status == 0
    assert {p.name for p in folder.iterdir()} == {
        "softmax_cross_entropy.py",
        "README.md",
        "test_softmax_cross_entropy.py",
        "exercise.json",
    }
    stub = (folder / "softmax_cross_entropy.py").read_text()
    assert "(N, C)" in stub and "dL/dz" in stub and "NotImplementedError" in stub
    assert json.loads((folder / "exercise.json").read_text())["exercise"] == (
        "softmax-cross-entropy"
    )
    status, lines, _ = run(capsys, "check", str(folder))
    assert status == 1
    assert [line.split(":")[0] for line in lines] == ["softmax", "cross_entropy", "gradient"]
    assert all("FAILED, not_written" in line for line in lines)

    status, _, err = run(capsys, "start", "softmax-cross-entropy", str(folder))
    assert status == 2 and "--force" in err
    status, _, _ = run(
        capsys, "start", "softmax-cross-entropy", str(folder), "--solution", "--force"
    )
    status, lines, _ = run(capsys, "check", str(folder))
    assert status == 0 and lines == ["softmax: passed", "cross_entropy: passed", "gradient: passed"]


def test_user_errors_are_one_line_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "start", "no-such-exercise", str(tmp_path / "x"))
    assert status == 2 and "softmax-cross-entropy" in err and len(err.splitlines()) == 1
    status, _, err = run(capsys, "check", str(tmp_path))
    assert status == 2 and "exercise start" in err and len(err.splitlines()) == 1


def student_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str], code: str) -> Path:
    folder = tmp_path / "ws"
    run(capsys, "start", "softmax-cross-entropy", str(folder))
    (folder / "softmax_cross_entropy.py").write_text(HEADER + code)
    return folder


BUGGY_1 = """\
def softmax(z):
    import subprocess
    import sys

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    open(PIDFILE, "w").write(str(sleeper.pid))
    while True:
        pass


def cross_entropy(z, y):
    return None


def cross_entropy_grad(z, y):
    p = np.exp(z)
    return p[:, 99]
"""

BUGGY_2 = """\
import os


def softmax(z):
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) * np.nan


def cross_entropy(z, y):
    os._exit(3)


def cross_entropy_grad(z, y):
    return z, z
"""


def test_an_endless_loop_an_exception_and_none_are_report_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pidfile = tmp_path / "ws" / "sleeper.pid"  # in the workspace: the only place it may write
    folder = student_workspace(tmp_path, capsys, f"PIDFILE = {str(pidfile)!r}\n\n\n" + BUGGY_1)
    start = time.monotonic()
    status, lines, _ = run(capsys, "check", str(folder), "--timeout", "3")
    assert time.monotonic() - start < 15
    assert status == 1 and len(lines) == 3
    assert lines[0].startswith("softmax: FAILED, timeout") and "within 3 s" in lines[0]
    assert lines[1].startswith("cross_entropy: FAILED, missing")
    assert "softmax_cross_entropy.py, line " in lines[1], "None: where the function is defined"
    assert lines[2].startswith("gradient: FAILED, raised")
    source = (folder / "softmax_cross_entropy.py").read_text().splitlines()
    line = source.index("    return p[:, 99]") + 1
    assert "IndexError" in lines[2] and f"softmax_cross_entropy.py, line {line})" in lines[2]
    assert not alive(int(pidfile.read_text())), "the part's own children are killed too"


def test_nan_a_dying_process_and_the_wrong_number_of_arrays_are_report_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = student_workspace(tmp_path, capsys, BUGGY_2)
    status, lines, _ = run(capsys, "check", str(folder))
    assert status == 1 and len(lines) == 3
    assert lines[0].startswith("softmax: FAILED, not_finite")
    assert lines[1].startswith("cross_entropy: FAILED, crashed")
    assert lines[2].startswith("gradient: FAILED, wrong_count")
    assert "softmax_cross_entropy.py, line " in lines[0] and "softmax_cross_entropy.py" in lines[2]


WAITS_FOR_ANOTHER_PART = """\
import time


def softmax(z):
    for _ in range(400):  # 20 s: as long as cross_entropy has not run
        if os.path.exists(MARKER):
            break
        time.sleep(0.05)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(z, y):
    open(MARKER, "w").close()
    return None


def cross_entropy_grad(z, y):
    return None
"""


def test_parts_run_at_once_and_report_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """softmax waits for a file that cross_entropy writes: one after the other, softmax would
    run out of its 5 s; at once (two or more cores, here three), it passes. Lines keep the
    parts' order."""
    monkeypatch.setattr(grader, "_cores", lambda: 3)
    marker = tmp_path / "ws" / "cross_entropy_ran"
    header = f"import os\n\nMARKER = {str(marker)!r}\n\n\n"
    folder = student_workspace(tmp_path, capsys, header + WAITS_FOR_ANOTHER_PART)
    status, lines, _ = run(capsys, "check", str(folder), "--timeout", "5")
    assert status == 1 and [line.split(":")[0] for line in lines] == [
        "softmax",
        "cross_entropy",
        "gradient",
    ]
    assert lines[0] == "softmax: passed" and marker.exists()


LOOPS_FOREVER = """\
import os


def softmax(z):
    with open(PIDS, "a") as f:
        f.write(f"{os.getpid()}\\n")
    while True:
        pass


cross_entropy = cross_entropy_grad = softmax
"""


def test_ctrl_c_stops_a_check_at_once_and_kills_its_parts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every part loops forever (30 s limit); SIGINT after 1.5 s: KeyboardInterrupt within a
    few seconds, and no part's process is left running."""
    pids = tmp_path / "ws" / "pids"
    folder = student_workspace(tmp_path, capsys, LOOPS_FOREVER.replace("PIDS", repr(str(pids))))
    exercise = EXERCISES["softmax-cross-entropy"]
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        grader.grade_isolated(exercise, folder / "softmax_cross_entropy.py", timeout=30)
    assert time.monotonic() - start < 8
    started = [int(line) for line in pids.read_text().split()]
    assert started and not any(alive(pid) for pid in started)


def test_an_interrupted_check_kills_the_children_still_running(tmp_path: Path) -> None:
    """stop() kills a part's child at once; a part still waiting for a core never starts."""
    (tmp_path / "student.py").write_text("import time\n\n\ndef wait():\n    time.sleep(60)\n")
    runner = grader._Runner(EXERCISES["softmax-cross-entropy"], tmp_path / "student.py", 60)
    with runner._session(60) as session:
        threading.Timer(0.5, runner.stop).start()
        start = time.monotonic()
        with pytest.raises(grader.PartEnded):
            session.module().wait()
        assert time.monotonic() - start < 5
        assert session._process.poll() is not None, "killed and waited for"
    with pytest.raises(KeyboardInterrupt), runner._session(60):
        pass


def test_a_syntax_error_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = student_workspace(tmp_path, capsys, "def softmax(z):\n    return z +\n")
    status, lines, _ = run(capsys, "check", str(folder), "--timeout", "10")
    assert status == 1
    assert all("SyntaxError" in line and "line 5" in line for line in lines)


def test_the_workspace_tests_run_with_pytest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ws"
    run(capsys, "start", "jacobians", str(folder), "--solution")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_mlp_backward_lists_every_gradient_from_the_loss_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole backward pass: the first wrong gradient named in the part's line, then one
    line per gradient in backward order with its status; training is not run."""
    folder = tmp_path / "ws"
    run(capsys, "start", "mlp-backward", str(folder), "--solution")
    code = (folder / "mlp_backward.py").read_text()
    (folder / "mlp_backward.py").write_text(code.replace("    dz2 /= n\n", ""))
    status, lines, _ = run(capsys, "check", str(folder))
    assert status == 1 and lines[0] == "forward: passed"
    assert lines[1].startswith("backward: FAILED, scaled: the first wrong gradient is dL/dz2")
    nodes = [line.split()[0] for line in lines[2:9]]
    assert nodes == ["z2", "W2", "b2", "h", "z1", "W1", "b1"]
    statuses = [line.split(")")[1].split()[0] for line in lines[2:9]]
    assert statuses == ["wrong"] + ["inherited"] * 6 and lines[2].endswith("<- first wrong")
    assert "z2 is the first wrong gradient" in lines[9]
    assert lines[-1] == "train: not run (needs backward)"
