"""Start ``python -m tinygrad_edu train`` in a subprocess and SIGKILL it once it has written its
first checkpoint: how the tests check that a killed run leaves readable files behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def train_args(mnist_dir: Path) -> list[str]:
    """A small run on real MNIST that takes long enough (40 epochs) to be killed in the middle."""
    data = ["--data-dir", str(mnist_dir), "--train-size", "500", "--test-size", "100"]
    model = ["--arch", "784,16,10", "--batch-size", "50", "--eval-every", "4", "--epochs", "40"]
    return ["train", *data, *model]


def kill_after_first_checkpoint(args: list[str], run_dir: Path, linger: float = 0.0) -> None:
    """Run ``tinygrad-edu ARGS`` (which write to ``run_dir``); SIGKILL it ``linger`` seconds after
    ``run_dir/checkpoint.npz`` appears; assert it died by the signal."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "tinygrad_edu", *args]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO
    )
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "checkpoint.npz").exists():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint after 60 s"
            time.sleep(0.002)
        time.sleep(linger)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
