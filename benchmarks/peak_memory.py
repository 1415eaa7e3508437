"""Peak memory of one MLP epoch: tinygrad_edu (``fit`` and a bare loop) against hand-written numpy.

Each row runs in a fresh Python process of its own (peak RSS is per process): it loads the
training set, builds the course's 784-64-10 sigmoid MLP, trains one epoch (batch 256, SGD, as
``epoch_time.py``), and reports ``ru_maxrss``, the process's peak resident set. The first epoch
also makes the loader's float32 copy of the images (188 MB for 60k), alike in every row; so the
table gives the peak after that epoch, and how much the peak still grows over the epochs after it
(``--epochs``, default 2): the memory the training steps themselves need.

    python benchmarks/peak_memory.py [--data-dir DIR] [--epochs 1]

Target (issue: performance): the peak of the tinygrad_edu epoch at most numpy's plus 10 %.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

ROWS = ("numpy", "fit", "loop")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def run_row(row: str, data_dir: Path | None, epochs: int) -> dict[str, float]:
    """Train ``row`` for ``epochs`` in this process; the peak RSS before and after, in MB."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import epoch_time as et  # the same rows as the timing benchmark

    train = et.load_train(data_dir)
    runner = et.HandNumpy(et.Framework(use_fit=False).params()) if row == "numpy" else None
    runner = runner or et.Framework(use_fit=row == "fit")
    loader = et.DataLoader(train, et.BATCH, shuffle=True, seed=0)
    runner.epoch(loader)
    first = _peak_mb()
    for _ in range(epochs - 1):
        runner.epoch(loader)
    return {"first": first, "after": _peak_mb(), "images": len(train)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="Fashion-MNIST folder")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--row", choices=ROWS, help=argparse.SUPPRESS)  # one row, in a child
    args = parser.parse_args(argv)
    if args.row:
        print(json.dumps(run_row(args.row, args.data_dir, args.epochs)))
        return 0
    results = {}
    for row in ROWS:
        cmd = [sys.executable, __file__, "--row", row, "--epochs", str(args.epochs)]
        cmd += ["--data-dir", str(args.data_dir)] if args.data_dir else []
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        results[row] = json.loads(out.strip().splitlines()[-1])
    base = results["numpy"]
    print(
        f"# peak RSS, 784-64-10 sigmoid MLP, batch 256, {args.epochs} epoch(s) of "
        f"{base['images']} images; one process per row"
    )
    print(
        "| row | peak after epoch 1 (MB) | peak at the end (MB) | growth after epoch 1 (MB) "
        "| peak / numpy's |"
    )
    print("|---|---:|---:|---:|---:|")
    for row, r in results.items():
        print(
            f"| {row} | {r['first']:.1f} | {r['after']:.1f} | {r['after'] - r['first']:.1f} | "
            f"{r['after'] / base['after']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
