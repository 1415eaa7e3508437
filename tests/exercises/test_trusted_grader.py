"""The grader a teacher can trust: each attack of a hostile student's file is a real child
process, and none of them passes; the sandbox's limits; what happens to the processes a part
leaves behind; signals; malformed answers; parts that did not run; the workspace's files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import alive

from tinygrad_edu import cli
from tinygrad_edu.data import datasets
from tinygrad_edu.exercises import EXERCISES, grader, integrity
from tinygrad_edu.exercises.remote import Session, clean_output

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "tinygrad_edu"
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox's Linux pieces")

#: softmax-cross-entropy with every answer wrong (the right shapes, wrong values).
WRONG = """
import numpy as np


def softmax(z):
    return np.ones_like(z) / z.shape[1]


def cross_entropy(z, y):
    return 1.0


def cross_entropy_grad(z, y):
    return np.zeros_like(z)
"""


def workspace(tmp_path: Path, code: str, exercise: str = "softmax-cross-entropy") -> Path:
    folder = tmp_path / "ws"
    assert cli.main(["exercise", "start", exercise, str(folder)]) == 0
    module = EXERCISES[exercise].module
    (folder / f"{module}.py").write_text(code)
    return folder


def check(capsys: pytest.CaptureFixture[str], folder: Path, *more: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = cli.main(["exercise", "check", str(folder), *more])
    return status, capsys.readouterr().out.splitlines()


# ----------------------------------------------------------------------------- the attacks
ATTACKS = {
    "a forged outcome file, then os._exit(0) at import": """
import json, os, sys
for arg in sys.argv[1:]:  # the old grader's child was given the path of its outcome file
    if arg.endswith(".json"):
        with open(arg, "w") as f:
            json.dump({"part": sys.argv[3], "passed": True}, f)
os._exit(0)
""",
    "np.allclose patched to say yes": """
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: np.True_
""",
    "the checker's tolerance patched through sys.modules": """
import sys
import tinygrad_edu.check
diagnose = sys.modules["tinygrad_edu.check.diagnose"]
diagnose.Tolerance.close = lambda self, got, expected: True
for module in list(sys.modules.values()):
    if hasattr(module, "EXACT"):
        module.EXACT = diagnose.Tolerance(1e9, 1e9)
""",
    "the expected values read from the checker's frames": """
import inspect


def _stolen(shape):
    for frame in inspect.stack()[1:]:
        expected = frame.frame.f_locals.get("expected")
        if isinstance(expected, np.ndarray) and expected.shape == shape:
            return expected.copy()
    return np.zeros(shape)


def softmax(z):
    return _stolen(z.shape)


def cross_entropy_grad(z, y):
    return _stolen(z.shape)
""",
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_no_attack_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str], attack: str) -> None:
    """Before: each of these made `exercise check` say "all passed", exit 0."""
    folder = workspace(tmp_path, WRONG + ATTACKS[attack])
    status, lines = check(capsys, folder)
    parts = [line for line in lines if not line.startswith("note: ")]  # imports, listed
    assert status == 1 and len(parts) == 3
    assert not any(line.endswith(": passed") for line in parts), lines
    assert (len(lines) > 3) == ("import tinygrad_edu" in ATTACKS[attack])


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the package to run the grader from, so that an attack on its files can do no
    harm to the real one."""
    root = tmp_path / "installed"
    shutil.copytree(PACKAGE, root / "tinygrad_edu", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def run_copy(root: Path, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=timeout,
    )


APPEND_TO_THE_GRADER = """
import tinygrad_edu.check.diagnose as diagnose
try:
    with open(diagnose.__file__, "a") as f:
        f.write("\\ndiagnose = lambda *a, **k: None  # every answer is right\\n")
except OSError as e:
    print("could not write:", e)
"""


@linux_only
def test_the_student_cannot_change_the_grader(tmp_path: Path, package_copy: Path) -> None:
    """Before: appending a line to the installed check/diagnose.py made plain wrong answers
    pass for everyone after. Now the sandbox refuses the write; the next check still fails."""
    diagnose_py = package_copy / "tinygrad_edu" / "check" / "diagnose.py"
    before = diagnose_py.read_bytes()
    folder = tmp_path / "ws"
    assert (
        run_copy(package_copy, "exercise", "start", "softmax-cross-entropy", str(folder)).returncode
        == 0
    )
    (folder / "softmax_cross_entropy.py").write_text(WRONG + APPEND_TO_THE_GRADER)
    for _ in range(2):
        done = run_copy(package_copy, "exercise", "check", str(folder))
        assert done.returncode == 1 and "passed" not in done.stdout, done.stdout + done.stderr
    assert diagnose_py.read_bytes() == before


def test_a_changed_grader_refuses_to_grade(tmp_path: Path, package_copy: Path) -> None:
    """Where no sandbox could stop the write (another platform), the next check finds it."""
    folder = tmp_path / "ws"
    run_copy(package_copy, "exercise", "start", "softmax-cross-entropy", str(folder), "--solution")
    diagnose_py = package_copy / "tinygrad_edu" / "check" / "diagnose.py"
    diagnose_py.write_text(diagnose_py.read_text() + "\n# changed\n")
    done = run_copy(package_copy, "exercise", "check", str(folder))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert (
        "the grader's own files differ" in done.stderr
        and "check/diagnose.py (changed)" in done.stderr
    )


def test_the_shipped_manifest_is_current() -> None:
    """The manifest lists every file of the package as it is (after editing the package, run
    python scripts/write_package_manifest.py)."""
    assert integrity.changed_files() == []


# ----------------------------------------------------------------------------- the sandbox
SOLUTION = (PACKAGE / "exercises" / "solutions" / "softmax_cross_entropy.py").read_text()


def test_a_numpy_py_in_the_workspace_does_not_shadow_numpy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = workspace(tmp_path, SOLUTION)
    (folder / "numpy.py").write_text("raise ImportError('the fake numpy')\n")
    (folder / "helper.py").write_text("TWO = 2\n")  # the student's own modules still import
    (folder / "softmax_cross_entropy.py").write_text("from helper import TWO\n" + SOLUTION)
    status, lines = check(capsys, folder)
    assert status == 0, lines


@linux_only
def test_the_sandbox_is_in_place(tmp_path: Path) -> None:
    (tmp_path / "probe.py").write_text(
        "import os, resource\n"
        "def limits():\n"
        "    return [resource.getrlimit(getattr(resource, n))[1] for n in\n"
        "            ('RLIMIT_AS', 'RLIMIT_FSIZE', 'RLIMIT_CORE')]\n"
        "def cwd():\n"
        "    return os.getcwd()\n"
        "def write(path):\n"
        "    open(path, 'w').write('x')\n"
    )
    with Session(tmp_path / "probe.py", 20) as session:
        student = session.module()
        assert student.limits() == [2 << 30, 16 << 20, 0]
        assert student.cwd() == str(tmp_path)
        student.write(str(tmp_path / "mine.txt"))  # its own folder: allowed
        if session.sandbox.startswith("Landlock"):
            with pytest.raises(PermissionError):
                student.write(str(tmp_path.parent / "outside.txt"))
            assert not (tmp_path.parent / "outside.txt").exists()


LIMITS = """
import numpy as np


def softmax(z):
    return np.ones(2**31)  # 16 GB


def cross_entropy(z, y):
    with open("big.bin", "wb") as f:
        f.write(b"0" * (64 << 20))


def cross_entropy_grad(z, y):
    print("\\x1b[31mred\\x1b[0m\\x1b]0;a title\\x07 and plain text", flush=True)
    import os
    os._exit(1)
"""


def test_limits_and_a_crash_are_report_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = workspace(tmp_path, LIMITS)
    status, lines = check(capsys, folder)
    assert status == 1
    assert lines[0].startswith("softmax: FAILED, raised") and "MemoryError" in lines[0]
    assert lines[1].startswith("cross_entropy: FAILED, raised") and "File too large" in lines[1]
    assert lines[2].startswith("gradient: FAILED, crashed") and "exited with status 1" in lines[2]
    assert "red and plain text" in lines[2] and "\x1b" not in lines[2] and "\x07" not in lines[2]
    assert (folder / "big.bin").stat().st_size <= 16 << 20


def test_clean_output_removes_escape_codes() -> None:
    assert clean_output("\x1b[1;31mbold\x1b[0m \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x07") == (
        "bold link "
    )


LEAVES_PROCESSES = """
import os, subprocess, sys
import numpy as np

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def softmax(z):
    same = subprocess.Popen(SLEEP)
    own = subprocess.Popen(SLEEP, start_new_session=True)
    with open("pids", "w") as f:
        f.write(f"{same.pid} {own.pid}\\n")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
"""


@linux_only
def test_every_process_a_part_started_is_killed_when_it_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: only on a timeout was the part's process group killed, and a grandchild in a
    session of its own was never found."""
    folder = workspace(tmp_path, LEAVES_PROCESSES)
    _status, lines = check(capsys, folder)
    assert lines[0] == "softmax: passed"
    pids = [int(p) for p in (folder / "pids").read_text().split()]
    assert not any(alive(pid) for pid in pids)


LOOPS = """
import os


def softmax(z):
    with open(f"pid-{os.getpid()}", "w"):
        pass
    while True:
        pass


cross_entropy = cross_entropy_grad = softmax
"""


@linux_only
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_every_part(tmp_path: Path, signum: int) -> None:
    folder = workspace(tmp_path, LOOPS)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tinygrad_edu", "exercise", "check", str(folder)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(100):
        if list(folder.glob("pid-*")):
            break
        time.sleep(0.1)
    time.sleep(0.3)
    start = time.monotonic()
    process.send_signal(signum)
    process.wait(timeout=20)
    assert time.monotonic() - start < 8
    pids = [int(p.name[4:]) for p in folder.glob("pid-*")]
    assert pids and not any(alive(pid) for pid in pids)


MALFORMED = (
    SOLUTION
    + """

def cross_entropy(z, y):  # an answer of its own making on the grader's pipe, then the real one
    import json, os, sys
    answers = json.loads(sys.argv[-1])["fds"][1]
    os.write(answers, b"\\x00\\x00\\x00\\x05[[[[[")
    return 0.0
"""
)


def test_a_malformed_answer_is_a_crashed_part_and_the_others_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = workspace(tmp_path, MALFORMED)
    status, lines = check(capsys, folder)
    assert status == 1
    assert lines[0] == "softmax: passed" and lines[2] == "gradient: passed"
    assert lines[1].startswith("cross_entropy: FAILED, crashed") and "malformed" in lines[1]


def test_a_part_whose_data_is_missing_is_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: "train: passed (skipped: ...)" and exit 0."""
    solution = (PACKAGE / "exercises" / "solutions" / "single_neuron.py").read_text()
    folder = workspace(tmp_path, solution, "single-neuron")
    monkeypatch.setattr(datasets, "MNIST_SAMPLE_DIR", tmp_path / "no-sample")
    status, lines = check(capsys, folder)
    assert status == 1
    assert lines[3].startswith("train: not run (the bundled MNIST sample cannot be read")


def test_a_training_part_needs_the_gradients_it_trains_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: "train: passed" right after the failing sigmoid gradient it trains on."""
    solution = (PACKAGE / "exercises" / "solutions" / "derivative_table.py").read_text()
    wrong = "\n\ndef sigmoid_backward(g, z):\n    s = 1 / (1 + np.exp(-z))\n    return g * s\n"
    folder = workspace(tmp_path, solution + wrong, "derivative-table")
    status, lines = check(capsys, folder)
    assert status == 1
    assert lines[1].startswith("sigmoid: FAILED, missing_factor")
    assert lines[-1] == "train: not run (needs sigmoid)"


# ----------------------------------------------------------------------------- the workspace
@pytest.mark.parametrize(
    "file",
    ["/etc/passwd.py", "../outside.py", "sub/student.py", 42, None, ".hidden.py", "x.txt"],
)
def test_exercise_json_names_a_plain_file_in_the_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: object
) -> None:
    folder = workspace(tmp_path, SOLUTION)
    meta = {"exercise": "softmax-cross-entropy", "file": file}
    (folder / "exercise.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert cli.main(["exercise", "check", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and '"file" must be the name of a .py file' in err


def test_a_deeply_nested_exercise_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = workspace(tmp_path, SOLUTION)
    (folder / "exercise.json").write_text("[" * 100_000)
    capsys.readouterr()
    assert cli.main(["exercise", "check", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "exercise.json" in err


def test_start_never_overwrites_the_users_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "README.md").write_text("my notes\n")
    assert cli.main(["exercise", "start", "jacobians", str(folder)]) == 2
    assert "README.md" in capsys.readouterr().err and not (folder / "jacobians.py").exists()
    assert (folder / "README.md").read_text() == "my notes\n"
    assert cli.main(["exercise", "start", "jacobians", str(folder), "--force"]) == 0
    for other in (["single-neuron", str(folder)], ["single-neuron", str(folder), "--force"]):
        capsys.readouterr()
        assert cli.main(["exercise", "start", *other]) == 2
        assert "holds the exercise jacobians" in capsys.readouterr().err
    assert not (folder / "single_neuron.py").exists()


SLOW_TO_TRAIN = """

def forward(X, W1, b1, W2, b2, y):  # wrong: the loss summed, not averaged
    out = _forward(X, W1, b1, W2, b2, y)
    return {**out, "loss": out["loss"] * len(y)}


def backward(X, W1, b1, W2, b2, y):
    if X.shape[1] == 784:  # only the training part's calls: endless
        import time

        time.sleep(60)
    return _backward(X, W1, b1, W2, b2, y)
"""


def test_a_part_whose_need_fails_is_stopped_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A training part starts with the parts it needs (for speed) but is stopped as soon as one
    of them fails: the check does not wait for its 30 s limit."""
    solution = (PACKAGE / "exercises" / "solutions" / "mlp_backward.py").read_text()
    code = solution.replace("def forward(", "def _forward(").replace(
        "def backward(", "def _backward("
    )
    code = code.replace("v = forward(", "v = _forward(")
    folder = workspace(tmp_path, code + SLOW_TO_TRAIN, "mlp-backward")
    start = time.monotonic()
    status, lines = check(capsys, folder)
    assert time.monotonic() - start < 15
    assert status == 1 and lines[0].startswith("forward: FAILED, scaled")
    assert lines[-1] == "train: not run (needs forward)"


WAITS_FOR_TRAINING = """

def forward(X, W1, b1, W2, b2, y):  # right, once the training part has started
    import os
    import time

    for _ in range(400):
        if os.path.exists("training-started"):
            break
        time.sleep(0.05)
    return _forward(X, W1, b1, W2, b2, y)


def backward(X, W1, b1, W2, b2, y):
    if X.shape[1] == 784:
        open("training-started", "w").close()
    return _backward(X, W1, b1, W2, b2, y)
"""


def test_a_part_that_needs_others_starts_with_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """forward waits (up to 20 s, over its 10 s limit) for the training part to start: before,
    training started only after forward passed, so forward ran out of time."""
    monkeypatch.setattr(grader, "_cores", lambda: 3)
    solution = (PACKAGE / "exercises" / "solutions" / "mlp_backward.py").read_text()
    code = solution.replace("def forward(", "def _forward(").replace(
        "def backward(", "def _backward("
    )
    code = code.replace("v = forward(", "v = _forward(")
    folder = workspace(tmp_path, code + WAITS_FOR_TRAINING, "mlp-backward")
    status, lines = check(capsys, folder)
    assert status == 0, lines
