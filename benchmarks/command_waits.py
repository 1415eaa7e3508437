"""Seconds a user waits for the course's commands beside training, each run as a fresh process:
``tinygrad-edu plot RUN`` (the five figures of a trained run) and ``tinygrad-edu exercise check``
of the derivative table's eight parts (the solution, so every part runs to the end).

The run (an MLP trained for ``--epochs`` on MNIST) and the exercise workspace are made once, by
this checkout, in a temporary folder. With ``--against DIR`` (another checkout of the repository,
such as ``git worktree add /tmp/base <commit>``) every command also runs with that checkout's
package, in the same interleaved rounds (the order rotates each round), so a change is measured
side by side; the table gives the median seconds and their spread.

    python benchmarks/command_waits.py [--data-dir ../shared/data/mnist-24k] [--rounds 3]
        [--epochs 3] [--warmup 1] [--against DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tinygrad_edu.cli.options import nonnegative_int, positive_int

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist-24k"
COMMANDS = {
    "plot RUN": ["plot", "run"],
    "exercise check (derivative table)": ["exercise", "check", "workspace"],
}


def tinygrad_edu(tree: Path, args: list[str], folder: Path) -> float:
    """Seconds of ``python -m tinygrad_edu ARGS`` in ``folder`` with ``tree``'s package; a
    SystemExit with its output if it fails."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} with {tree} failed:\n{done.stdout}{done.stderr}")
    return seconds


def prepare(folder: Path, data_dir: Path, epochs: int) -> None:
    """A trained run in ``folder/run`` and the derivative table's solution in
    ``folder/workspace``, made by this checkout."""
    train = ["train", "--data-dir", str(data_dir), "--epochs", str(epochs), "--out", "run"]
    tinygrad_edu(REPO, train, folder)
    start = ["exercise", "start", "derivative-table", "workspace", "--solution"]
    tinygrad_edu(REPO, start, folder)


def time_rounds(
    folder: Path, trees: list[Path], rounds: int, warmup: int
) -> dict[tuple[str, Path], list[float]]:
    """{(command, tree): seconds of each round}, interleaved, after ``warmup`` untimed runs
    of each."""
    cells = [(name, tree) for name in COMMANDS for tree in trees]
    for _ in range(warmup):
        for name, tree in cells:
            tinygrad_edu(tree, COMMANDS[name], folder)
    times: dict[tuple[str, Path], list[float]] = {cell: [] for cell in cells}
    for r in range(rounds):
        for name, tree in cells[r % len(cells) :] + cells[: r % len(cells)]:
            times[name, tree].append(tinygrad_edu(tree, COMMANDS[name], folder))
    return times


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--epochs", type=positive_int, default=3, help="of the run to plot")
    parser.add_argument("--against", type=Path, help="another checkout, timed side by side")
    parser.add_argument(
        "--warmup", type=nonnegative_int, default=1, help="untimed runs of each first"
    )
    args = parser.parse_args(argv)
    if args.against is not None and not (args.against / "tinygrad_edu").is_dir():
        parser.error(f"--against: {args.against} is not a checkout (no tinygrad_edu/ in it)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.data_dir / "train-images-idx3-ubyte.gz").exists():
        print(f"command_waits: no MNIST at {args.data_dir} (give --data-dir)", file=sys.stderr)
        return 2
    trees = [REPO] + ([args.against.absolute()] if args.against else [])
    with tempfile.TemporaryDirectory() as tmp:
        prepare(Path(tmp), args.data_dir.resolve(), args.epochs)
        times = time_rounds(Path(tmp), trees, args.rounds, args.warmup)
    print(
        f"# each command a fresh process; {args.rounds} interleaved rounds; {os.cpu_count()} CPUs"
    )
    print("| command | checkout | s (median) | min..max |")
    print("|---|---|---:|---:|")
    for (name, tree), ts in times.items():
        print(f"| {name} | {tree} | {statistics.median(ts):.2f} | {min(ts):.2f}..{max(ts):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
