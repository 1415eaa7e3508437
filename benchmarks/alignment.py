"""Does it matter where a weight matrix starts? Time the SGD update ``W -= lr * dW`` on a
(784, 64) float32 W (the course's first layer) that starts on a 64-byte boundary (a cache line)
against copies that start 16, 32 and 48 bytes past one (numpy only promises 16).

Each variant updates its own W with the same dW; the variants are timed interleaved, round
after round, in a rotating order, so a busy core slows them alike. The table gives the median
microseconds per update and the ratio to the aligned W (median and min..max over the rounds).

    python benchmarks/alignment.py [--rounds 15] [--number 2000] [--shape 784,64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

LR = np.float32(0.1)


def offset_array(shape: tuple[int, ...], offset: int) -> np.ndarray:
    """A C-contiguous float32 array whose data starts ``offset`` bytes past a 64-byte boundary."""
    nbytes = int(np.prod(shape)) * 4
    raw = np.empty(nbytes + 128, dtype=np.uint8)
    start = -raw.ctypes.data % 64 + offset
    out = raw[start : start + nbytes].view(np.float32).reshape(shape)
    assert out.ctypes.data % 64 == offset
    return out


def time_update(w: np.ndarray, dw: np.ndarray, number: int) -> float:
    """Microseconds per ``w -= lr * dw``."""
    start = time.perf_counter()
    for _ in range(number):
        w -= LR * dw
    return (time.perf_counter() - start) / number * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=2000, help="updates per timing")
    parser.add_argument("--shape", default="784,64")
    args = parser.parse_args(argv)
    shape = tuple(int(n) for n in args.shape.split(","))
    rng = np.random.default_rng(0)
    w0 = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    dw = offset_array(shape, 0)
    dw[...] = rng.standard_normal(shape) * 1e-6  # tiny steps: W stays in range for all rounds
    variants = {offset: offset_array(shape, offset) for offset in (0, 16, 32, 48)}
    for w in variants.values():
        w[...] = w0
        time_update(w, dw, 50)  # warm-up
    times: dict[int, list[float]] = {offset: [] for offset in variants}
    order = list(variants)
    for r in range(args.rounds):
        for offset in order[r % len(order) :] + order[: r % len(order)]:
            times[offset].append(time_update(variants[offset], dw, args.number))
    print(f"# W -= lr * dW, W {shape} float32, {args.rounds} interleaved rounds")
    print("| W starts at | us/update (median) | ratio to aligned (median) | min..max |")
    print("|---|---:|---:|---|")
    for offset, ts in times.items():
        ratios = [t / a for t, a in zip(ts, times[0], strict=True)]
        where = "a 64-byte boundary" if offset == 0 else f"64k + {offset} bytes"
        print(
            f"| {where} | {statistics.median(ts):.1f} | {statistics.median(ratios):.2f} "
            f"| {min(ratios):.2f}..{max(ratios):.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
