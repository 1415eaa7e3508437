"""Each speed helper of the engine against the obvious numpy route, on the course's shapes.

The helpers' docstrings give the reason for each route (``engine/speed.py``, ``fused.py``,
``conv.py``, ``optim.py``); this prints the figures, which change with the machine, numpy and BLAS.
Both routes of a row compute the same numbers (checked before timing). They are timed
interleaved, round after round, alternating which goes first, each call repeated until a
measurement lasts about ``--target-ms``; the table gives the median microseconds per call and
the ratio obvious / ours (median and min..max over the rounds: above 1, the helper is faster).
Shapes: the course's 784-64-10 sigmoid MLP (the course's MLP) at batch 256 and 1, and the course's
CNN at batch 128, timed after ``engine.memory.keep_freed_memory()`` (as in training). Then
``engine/parallel.py``'s splits of the CNN's big passes and products over ``--split`` threads
(BLAS on one, as ``fit``'s pool runs them) against one thread: above 1 the split is faster,
which needs a free core (compare with the load average). Last, the page faults and time of
reusing 40 MB (allocated, touched, freed) with glibc's default and after
``keep_freed_memory()``.

    python benchmarks/speed_helpers.py [--rounds 7] [--target-ms 20] [--threads 1] [--split 2]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable

from _blas import threads_from_argv

threads_from_argv(sys.argv[1:])  # --threads N into OPENBLAS_NUM_THREADS before numpy loads

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from tinygrad_edu import conv  # noqa: E402
from tinygrad_edu.engine import memory, parallel, speed  # noqa: E402
from tinygrad_edu.nn.init import aligned_copy  # noqa: E402

F32 = np.float32
Row = tuple[str, str, Callable[[], object], Callable[[], object]]  # name, shape, ours, obvious


def mlp_rows(rng: np.random.Generator) -> list[Row]:
    """engine/speed.py's helpers, fused.Linear's layouts and the SGD update, on the MLP's shapes."""
    x1, g1 = rng.random((784, 1), F32), rng.random((1, 64), F32)
    h, z = rng.random((256, 64), F32), rng.standard_normal((256, 10)).astype(F32)
    x, w = rng.random((256, 784), F32), rng.standard_normal((64, 784)).astype(F32)
    big = rng.standard_normal((128, 32, 24, 24)).astype(F32)
    g0 = np.asarray(F32(0.5))
    w_out, lr = aligned_copy(w), F32(1e-9)
    tmp = np.empty_like(w)
    return [
        (
            "matmul: x^T g, batch 1",
            "(784, 1) (1, 64)",
            lambda: speed.matmul(x1, g1),
            lambda: x1 @ g1,
        ),
        ("sigmoid in place", "(256, 64)", lambda: speed.sigmoid(h), lambda: 1 / (1 + np.exp(-h))),
        (
            "sigmoid in place",
            "(128, 32, 24, 24)",
            lambda: speed.sigmoid(big),
            lambda: 1 / (1 + np.exp(-big)),
        ),
        ("sigmoid_grad", "(256, 64)", lambda: speed.sigmoid_grad(h, h), lambda: (1 - h) * h * h),
        (
            "expand: a mean's gradient",
            "() -> (256,)",
            lambda: speed.expand(g0, (256,)),
            lambda: np.broadcast_to(g0, (256,)),
        ),
        ("sum_rows", "(256, 64)", lambda: speed.sum_rows(h), lambda: h.sum(axis=0)),
        (
            "max_along rows",
            "(256, 10)",
            lambda: speed.max_along(z, 1),
            lambda: z.max(axis=1, keepdims=True),
        ),
        (
            "sum_along rows",
            "(256, 10)",
            lambda: speed.sum_along(z, 1),
            lambda: z.sum(axis=1, keepdims=True),
        ),
        (
            "cached_ones",
            "(256,)",
            lambda: speed.cached_ones(256, np.dtype(F32)),
            lambda: np.ones(256, F32),
        ),
        (
            "Linear: x W^T, W read transposed",
            "(256, 784) (64, 784)",
            lambda: np.dot(x, w.T),
            lambda: np.dot(x, np.ascontiguousarray(w.T)),
        ),
        (
            "Linear: dW = g^T x in W's layout, then W -= lr dW",
            "(256, 64) (256, 784)",
            lambda: np.subtract(w_out, lr * np.dot(h.T, x), out=w_out),
            lambda: np.subtract(w_out, lr * np.dot(x.T, h).T, out=w_out),
        ),
        (
            "SGD: W -= lr g, temporary vs work array",
            "(64, 784)",
            lambda: np.subtract(w_out, lr * w, out=w_out),
            lambda: np.subtract(w_out, np.multiply(w, lr, out=tmp), out=w_out),
        ),
    ]


def chwn(x: np.ndarray) -> np.ndarray:
    """x (N, C, H, W) held in (C, H, W, N) memory, as the conv ops keep it."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def col2im(cols: np.ndarray, shape: tuple[int, ...], k: int) -> np.ndarray:
    """The adjoint of im2col at stride 1, one pass per kernel offset (the obvious route)."""
    n, c, hh, ww = shape
    ho, wo = hh - k + 1, ww - k + 1
    blocks = cols.reshape(c, k, k, ho, wo, n)
    xt = np.zeros((c, hh, ww, n), cols.dtype)
    for p in range(k):
        for q in range(k):
            xt[:, p : p + ho, q : q + wo] += blocks[:, p, q]
    return xt.transpose(3, 0, 1, 2)


def conv_rows(rng: np.random.Generator) -> list[Row]:
    """conv.py's layout and fused paths, on the course's CNN (second convolution, first pool)."""
    x = rng.standard_normal((128, 32, 12, 12)).astype(F32)  # the second convolution's input
    x_chwn, w = chwn(x), rng.standard_normal((64, 32, 5, 5)).astype(F32)
    gm = rng.standard_normal((64, 8 * 8 * 128)).astype(F32)  # G (O, Ho Wo N)
    a = chwn(rng.standard_normal((128, 32, 24, 24)).astype(F32))  # the first pool's input
    pooled = conv.MaxPool2d.forward(conv.MaxPool2d(), a, 2)
    g_pool = chwn(rng.standard_normal(pooled.shape).astype(F32))
    g_nchw = np.ascontiguousarray(g_pool)
    kernel, one, two = (5, 5), (1, 1), (2, 2)
    w_cols = w.reshape(64, -1)
    cols_1 = rng.standard_normal((801, 8 * 8 * 128)).astype(F32)  # [X; 1]
    return [
        (
            "im2col from (C, H, W, N) memory",
            "(128, 32, 12, 12), 5x5",
            lambda: conv.im2col(x_chwn, kernel, one),
            lambda: conv.im2col(x, kernel, one),
        ),
        (
            "conv input grad: col2im fused, a kernel row at a time",
            "W (64, 32, 5, 5)",
            lambda: conv.conv_input_grad(w, gm, x.shape, one),
            lambda: col2im(w_cols.T @ gm, x.shape, 5),
        ),
        (
            "conv weight grad: X G^T, transposed back",
            "G (64, 8192), [X; 1] (801, 8192)",
            lambda: conv.weight_grad(gm, cols_1),
            lambda: gm @ cols_1.T,
        ),
        (
            "max-pool grad, disjoint windows as blocks",
            "(128, 32, 24, 24), 2x2",
            lambda: conv.max_pool_grad_blocks(a, pooled, g_pool, two, (12, 12)),
            lambda: conv.max_pool_grad(a, pooled, g_pool, two, two, (12, 12)),
        ),
        (
            "elementwise in one memory layout",
            "(128, 32, 12, 12)",
            lambda: g_pool * pooled,
            lambda: g_nchw * pooled,
        ),
    ]


def on(threads: int, fn: Callable[[], object]) -> Callable[[], object]:
    """fn with the engine's passes and products split over ``threads`` threads, BLAS on one
    (as ``fit`` runs the pool's plan)."""

    def run() -> object:
        with threadpool_limits(1, "blas"), parallel.splitting(threads):
            return fn()

    return run


def split_rows(rng: np.random.Generator, threads: int) -> list[Row]:
    """engine/parallel.py's splits on the course CNN's shapes: ``threads`` threads against one."""
    a = chwn(rng.standard_normal((128, 32, 24, 24)).astype(F32))  # the first ReLU's input
    relu, positive = speed.relu(a)
    pooled = conv.max_pool(relu, (2, 2), (2, 2), (12, 12))
    g_pool = chwn(rng.standard_normal(pooled.shape).astype(F32))
    x = chwn(rng.standard_normal((128, 32, 12, 12)).astype(F32))
    w, cols = rng.standard_normal((64, 801)).astype(F32), np.empty((800, 8192), F32)
    cols_1 = rng.standard_normal((801, 8192)).astype(F32)  # [X; 1] of the second convolution
    gm = rng.standard_normal((64, 8192)).astype(F32)
    w4 = rng.standard_normal((64, 32, 5, 5)).astype(F32)
    calls = [
        ("ReLU: max(a, 0) and a > 0", "(128, 32, 24, 24)", lambda: speed.relu(a)),
        ("ReLU's gradient: g * mask", "(128, 32, 24, 24)", lambda: speed.masked(a, positive)),
        (
            "max-pool 2x2",
            "(128, 32, 24, 24)",
            lambda: conv.max_pool(relu, (2, 2), (2, 2), (12, 12)),
        ),
        (
            "max-pool grad, blocks",
            "(128, 32, 24, 24)",
            lambda: conv.max_pool_grad_blocks(relu, pooled, g_pool, (2, 2), (12, 12)),
        ),
        ("im2col's copy", "(128, 32, 12, 12), 5x5", lambda: conv.im2col(x, (5, 5), (1, 1), cols)),
        ("conv forward: W X", "(64, 801) (801, 8192)", lambda: parallel.matmul(w, cols_1)),
        ("conv weight grad: X G^T", "(801, 8192) (8192, 64)", lambda: conv.weight_grad(gm, cols_1)),
        (
            "conv input grad (products and adds)",
            "W (64, 32, 5, 5)",
            lambda: conv.conv_input_grad(w4, gm, x.shape, (1, 1)),
        ),
    ]
    return [
        (f"split over {threads}: {name}", shape, on(threads, fn), on(1, fn))
        for name, shape, fn in calls
    ]


def per_call(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e6


def time_rows(rows: list[Row], rounds: int, target_ms: float) -> list[tuple[Row, list, list]]:
    """(row, ours us per call, obvious us per call) for each row, over interleaved rounds."""
    results = []
    for row in rows:
        _, _, ours, obvious = row
        np.testing.assert_allclose(np.asarray(ours()), np.asarray(obvious()), rtol=1e-4, atol=1e-4)
        once = max(per_call(ours, 1), per_call(obvious, 1), 1e-3)
        number = max(1, int(target_ms * 1000 / once))
        times: tuple[list[float], list[float]] = ([], [])
        for r in range(rounds):
            order = [(0, ours), (1, obvious)][:: 1 if r % 2 == 0 else -1]
            for i, fn in order:
                times[i].append(per_call(fn, number))
        results.append((row, *times))
    return results


def page_faults(reuses: int = 20) -> tuple[float, float]:
    """Minor page faults and microseconds per reuse of 40 MB (allocated, touched, freed)."""

    def touch() -> None:
        np.empty(40 * 2**20, np.uint8).fill(1)

    touch()
    before, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    for _ in range(reuses):
        touch()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return faults / reuses, (time.perf_counter() - start) / reuses * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--target-ms", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument(
        "--split", type=int, default=2, help="the split rows' threads (default 2; BLAS on one)"
    )
    args = parser.parse_args(argv)
    default = page_faults()  # before anything else allocates: glibc as it starts
    kept = memory.keep_freed_memory()  # as in training (fit and the command line call it)
    after = page_faults()
    rng = np.random.default_rng(0)
    rows = mlp_rows(rng) + conv_rows(rng) + split_rows(rng, args.split)
    results = time_rows(rows, args.rounds, args.target_ms)
    print(f"# speed helpers against the obvious route, float32, {args.rounds} interleaved rounds")
    print("| helper | shapes | ours us | obvious us | obvious / ours | min..max |")
    print("|---|---|---:|---:|---:|---|")
    for (name, shapes, _, _), ours, obvious in results:
        ratios = [o / u for o, u in zip(obvious, ours, strict=True)]
        print(
            f"| {name} | {shapes} | {statistics.median(ours):.1f} | "
            f"{statistics.median(obvious):.1f} | {statistics.median(ratios):.2f} | "
            f"{min(ratios):.2f}..{max(ratios):.2f} |"
        )
    print("\n| allocator | page faults per reuse of 40 MB | us per reuse |")
    print("|---|---:|---:|")
    print(f"| glibc's default | {default[0]:.0f} | {default[1]:.0f} |")
    print(
        f"| keep_freed_memory() {'(applied)' if kept else '(not available)'} "
        f"| {after[0]:.0f} | {after[1]:.0f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
