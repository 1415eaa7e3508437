"""Convolution and pooling ops on (N, C, H, W) images: ``Conv2d`` and ``MaxPool2d``.

A (kh, kw) window at stride (sh, sw) sees, for output pixel (i, j), x[n, c, i sh + p, j sw + q]
at kernel offsets 0 <= p < kh, 0 <= q < kw; the output is Ho x Wo with Ho = (H - kh) // sh + 1
(after padding). :func:`im2col` copies the windows into the columns of one matrix X, so the
forward pass of a convolution is one BLAS matmul W X. Its backward needs the adjoint of im2col,
col2im: scatter each column of W^T G back to its window, *adding* where windows overlap (stride
< kernel). :func:`conv_input_grad` computes col2im(W^T G) one kernel row at a time.

Memory layout: the ops keep images as (C, H, W, N) in memory (N fastest) behind an (N, C, H, W)
view, so each kernel offset of every window is a long contiguous run (ho, wo, n): im2col,
col2im and pooling then stream memory instead of hopping along 5-element rows (faster for the
course's CNN: ``benchmarks/speed_helpers.py``).

The speed tricks, each in a helper whose docstring gives its reason (the figures:
``benchmarks/speed_helpers.py``; the whole CNN against PyTorch: ``benchmarks/cnn_vs_torch.py``):
the products and the big elementwise passes split over the cores (``engine/parallel.py``);
the bias as a row of ones in the same matmul (:func:`_im2col_into`); im2col's matrix saved in a
reused buffer and temporaries in per-thread scratch (``engine/memory.py``), so a training step
touches no fresh memory; col2im fused with its matmul (:func:`conv_input_grad`); the weight
gradient as the transposed product (:func:`weight_grad`); a max-pool with disjoint windows
differentiated through one broadcast view (:func:`max_pool_grad_blocks`).

Kernel sizes, strides and paddings are checked by :func:`as_pair`, which ``nn.Conv2d`` and
``nn.MaxPool2d`` use too: a value outside its domain (stride 0, padding -1) is an InputError.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .engine import parallel
from .engine.errors import check_bias, is_integer
from .engine.function import Function, InputError, ShapeError
from .engine.grad_mode import is_grad_enabled
from .engine.memory import reused_array, scratch
from .engine.ops import Scatter
from .engine.tensor import Tensor

Array = np.ndarray


def as_pair(who: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    """``value`` as a pair of ints ``>= minimum`` (an int v means (v, v)); else an InputError."""
    pair = (value, value) if isinstance(value, int | np.integer) else value
    if not (
        isinstance(pair, tuple | list)
        and len(pair) == 2
        and all(map(is_integer, pair))
        and min(pair) >= minimum
    ):
        raise InputError(
            f"{who}: {name} must be an int >= {minimum} or a pair of them, got {value!r}"
        )
    return int(pair[0]), int(pair[1])


def _out_size(
    op: str,
    shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
) -> tuple[int, int]:
    """(Ho, Wo) = ((H + 2 ph - kh) // sh + 1, (W + 2 pw - kw) // sw + 1), shape (N, C, H, W)."""
    hp, wp = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    if kernel[0] > hp or kernel[1] > wp:
        where = f"padded input {hp}x{wp} (padding {padding})" if any(padding) else "input"
        raise ShapeError(
            f"{op}: kernel {kernel[0]}x{kernel[1]} is larger than the {where}: input shape {shape}"
        )
    return (hp - kernel[0]) // stride[0] + 1, (wp - kernel[1]) // stride[1] + 1


def _window(x: Array, p: int, q: int, out_hw: tuple[int, int], stride: tuple[int, int]) -> Array:
    """The view x[:, :, p + i sh, q + j sw] for i < Ho, j < Wo: offset (p, q) of every window."""
    (ho, wo), (sh, sw) = out_hw, stride
    return x[:, :, p : p + sh * (ho - 1) + 1 : sh, q : q + sw * (wo - 1) + 1 : sw]


def _chwn(x: Array) -> Array:
    """x (N, C, H, W) as a C-contiguous (C, H, W, N) array (a view if already laid out so)."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0))


def im2col(
    x: Array, kernel: tuple[int, int], stride: tuple[int, int], out: Array | None = None
) -> Array:
    """The windows of x (N, C, H, W) as columns: X (C kh kw, Ho Wo N) with
    X[(c, p, q), (i, j, n)] = x[n, c, i sh + p, j sw + q]; one copy out of a strided view,
    into ``out`` if given (a C-contiguous array of X's shape)."""
    windows = _windows_view(x, kernel, stride)  # (C, kh, kw, Ho, Wo, N)
    c, kh, kw, ho, wo, n = windows.shape
    if out is None:
        return windows.reshape(c * kh * kw, ho * wo * n)
    parallel.copy(out.reshape(windows.shape), windows)  # split over the cores
    return out


def _windows_view(x: Array, kernel: tuple[int, int], stride: tuple[int, int]) -> Array:
    """x[n, c, i sh + p, j sw + q] at [c, p, q, i, j, n]: a view of x's (C, H, W, N) copy."""
    windows = np.lib.stride_tricks.sliding_window_view(_chwn(x), kernel, axis=(1, 2))
    windows = windows[:, :: stride[0], :: stride[1]]  # (C, Ho, Wo, N, kh, kw), a view
    return windows.transpose(0, 4, 5, 1, 2, 3)


def conv_input_grad(w: Array, gm: Array, shape: tuple[int, ...], stride: tuple[int, int]) -> Array:
    """col2im(W^T G): dx (N, C, H, W) of a convolution with weight w (O, C, kh, kw), from
    G (O, Ho Wo N) = dL/dout in (O, Ho, Wo, N) order; an (N, C, H, W) view of (C, H, W, N) memory.
    dx[n, c, i sh + p, j sw + q] += (W^T G)[(c, p, q), (i, j, n)]: each column goes back to its
    window, overlapping windows adding up.

    Why one kernel row at a time: W^T G is a (C kh kw, Ho Wo N) matrix with a short inner
    dimension O, too big for the caches, written once and read once. Here each kernel row p gets
    one matmul W_p^T G -> (kw, C, Ho, Wo, N) into a reused scratch array, added at once into its
    kw window offsets. Why by pieces of the channels: each piece (its rows of W^T G and its
    channels of dx) is independent of the others, so the pieces run on the cores at once with
    one hand-over for the whole gradient (``parallel.run_pieces``); on one thread, one piece."""
    n, c, h, width = shape
    dtype = np.result_type(w, gm)
    xt = np.zeros((c, h, width, n), dtype=dtype)
    work = w[0].size * gm.shape[1]  # the entries of W^T G, each added into xt once
    threads = parallel.threads_for(work) if parallel.blas_threads() == 1 else 1
    body = functools.partial(_input_grad_channels, w, gm, stride, xt)
    parallel.run_pieces(c, body, threads)
    return xt.transpose(3, 0, 1, 2)


def _input_grad_channels(
    w: Array, gm: Array, stride: tuple[int, int], xt: Array, lo: int, hi: int
) -> None:
    """:func:`conv_input_grad` for the channels lo <= c < hi, into xt (C, H, W, N): for each
    kernel row p, the rows (q, c) of W_p^T G, then xt[c, p + i sh, q + j sw] += them."""
    _, _, kh, kw = w.shape
    (sh, sw), (h, width, n) = stride, xt.shape[1:]
    ho, wo = (h - kh) // sh + 1, (width - kw) // sw + 1
    rows = np.ascontiguousarray(w[:, lo:hi].transpose(2, 3, 1, 0))  # (kh, kw, C', O)
    part = scratch("conv2d_input_grad", (kw, hi - lo, ho, wo, n), xt.dtype)  # per thread
    for p in range(kh):
        np.dot(rows[p].reshape(kw * (hi - lo), -1), gm, out=part.reshape(kw * (hi - lo), -1))
        window_rows = slice(p, p + sh * (ho - 1) + 1, sh)
        for q in range(kw):
            xt[lo:hi, window_rows, q : q + sw * (wo - 1) + 1 : sw] += part[q]


def weight_grad(gm: Array, cols: Array) -> Array:
    """G X^T (O, C kh kw), or G [X; 1]^T = [dL/dw  dL/db] when ``cols`` has the row of ones:
    computed as its transpose X G^T (C kh kw, O), then copied back (a C-contiguous array).

    Why the transpose: OpenBLAS computes the tall product with the long rows of X as its left
    factor faster than the wide one, and with the pool's threads (``parallel.matmul``) it
    splits it along X's rows, each thread reading rows of its own (faster for the course's CNN:
    ``benchmarks/speed_helpers.py``). Each entry is the same dot product over Ho Wo N either
    way, summed in OpenBLAS's blocks along K, whatever the thread count."""
    return np.ascontiguousarray(parallel.matmul(cols, gm.T).T)


def _im2col_into(
    x: Array, kernel: tuple[int, int], stride: tuple[int, int], ones: bool, owner: Function | None
) -> Array:
    """im2col(x), with a last row of ones if ``ones``: [X; 1], so that one matmul
    [W b] [X; 1] = W X + b adds the bias and G [X; 1]^T = [G X^T, sum of G] gives its gradient;
    in an array that the op ``owner`` saves for backward (``memory.reused_array``), or in
    scratch if none.

    Why the row of ones: it replaces a pass over the output and a sum over G."""
    c, (kh, kw) = x.shape[1], kernel
    ho, wo = _out_size("conv2d", x.shape, kernel, stride)
    shape = (c * kh * kw + ones, ho * wo * x.shape[0])
    if owner is None:
        cols = scratch("conv2d_cols", shape, x.dtype)
    else:
        cols = reused_array(shape, x.dtype, owner)
    im2col(x, kernel, stride, out=cols[: c * kh * kw])
    if ones:
        cols[-1] = 1
    return cols


def _with_bias(w: Array, b: Array | None, dtype: Any) -> Array:
    """w as (O, C kh kw), or [W b] (O, C kh kw + 1) with the bias as a last column."""
    o = w.shape[0]
    if b is None:
        return w.reshape(o, -1)
    wb = np.empty((o, w[0].size + 1), dtype=np.result_type(w, dtype))
    wb[:, :-1], wb[:, -1] = w.reshape(o, -1), b
    return wb


class Conv2d(Function):
    """out[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] xpad[n, c, i sh + p, j sw + q]
    (cross-correlation, as in PyTorch): x (N, C, H, W), w (O, C, kh, kw), optional b (O,),
    xpad = x zero-padded by (ph, pw) on each side; out (N, O, Ho, Wo), Ho = (H + 2ph - kh)//sh + 1.

    With X = im2col(xpad) (C kh kw, Ho Wo N), W = w as (O, C kh kw), G = g as (O, Ho Wo N),
    out = W X + b, so like a matmul:  dL/dw = G X^T  (the sum over n and positions of g ⊗ patch),
    dL/db = sum of g over n, i, j,  dL/dx = col2im(W^T G) cropped by the padding (each input
    pixel collects w g from every window it is in). dL/dx is skipped when x needs none (data).
    """

    def forward(
        ctx, x: Array, w: Array, b: Array | None = None, stride: Any = 1, padding: Any = 0
    ) -> Array:
        _check_conv2d_shapes(x, w, b)
        stride = as_pair("conv2d", "stride", stride, 1)
        ph, pw = padding = as_pair("conv2d", "padding", padding, 0)
        kernel = w.shape[2], w.shape[3]
        ho, wo = _out_size("conv2d", x.shape, kernel, stride, padding)
        if ph or pw:  # pad the (C, H, W, N) copy, keeping the layout
            x = np.pad(_chwn(x), ((0, 0), (ph, ph), (pw, pw), (0, 0))).transpose(3, 0, 1, 2)
        n, o = x.shape[0], w.shape[0]
        need_x, need_w = ctx.needs_input_grad[:2]
        keep = need_w and is_grad_enabled()  # X is saved for dL/dw
        cols = _im2col_into(x, kernel, stride, b is not None, ctx if keep else None)  # [X; 1]
        out = parallel.matmul(_with_bias(w, b, x.dtype), cols)  # W X, or [W b] [X; 1] = W X + b
        ctx.save_for_backward(cols if keep else None, w if need_x else None)
        ctx.padded_shape, ctx.w_shape, ctx.stride, ctx.padding = x.shape, w.shape, stride, padding
        return out.reshape(o, ho, wo, n).transpose(3, 0, 1, 2)  # (N, O, Ho, Wo) view

    def backward(ctx, g: Array) -> tuple[Array | None, ...]:
        cols, w = ctx.saved
        needs = ctx.needs_input_grad
        need_b = len(needs) == 3 and needs[2]
        gm = _chwn(g).reshape(g.shape[1], -1)  # G (O, Ho Wo N); no copy if g is laid out so
        dx = dw = db = None
        if needs[1]:  # G X^T, or G [X; 1]^T = [dL/dw  dL/db]
            dwb = weight_grad(gm, cols)
            rows = math.prod(ctx.w_shape[1:])
            dw, db = dwb[:, :rows].reshape(ctx.w_shape), dwb[:, rows] if need_b else None
        elif need_b:
            db = gm.sum(axis=1)
        if needs[0]:  # col2im(W^T G), one kernel row at a time
            dx = conv_input_grad(w, gm, ctx.padded_shape, ctx.stride)
            ph, pw = ctx.padding
            if ph or pw:
                dx = dx[:, :, ph : dx.shape[2] - ph, pw : dx.shape[3] - pw]
        return (dx, dw) if len(needs) == 2 else (dx, dw, db)

    def composite(ctx) -> Tensor:
        """The same convolution from primitives (tangents and higher orders go through it):
        zero padding by Scatter, the windows gathered by Index, one MatMul."""
        x, w = ctx.parents[0], ctx.parents[1]
        (ph, pw), (o, c, kh, kw) = ctx.padding, w.shape
        n, _, h, width = x.shape
        if ph or pw:
            inside = (slice(None), slice(None), slice(ph, ph + h), slice(pw, pw + width))
            x = Scatter.apply(x, shape=ctx.padded_shape, index=inside)
        patches = _windows(x, (kh, kw), ctx.stride)  # (N, C, Ho, Wo, kh, kw)
        ho, wo = patches.shape[2:4]
        rows = patches.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
        out = (rows @ w.reshape(o, c * kh * kw).T).reshape(n, ho, wo, o).transpose(0, 3, 1, 2)
        return out + ctx.parents[2].reshape(1, o, 1, 1) if len(ctx.parents) == 3 else out


def _check_conv2d_shapes(x: Array, w: Array, b: Array | None) -> None:
    """ShapeError unless x is (N, C, H, W), w (O, C, kh, kw) and b None or (O,)."""
    if x.ndim != 4:
        raise ShapeError(f"conv2d: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        raise ShapeError(
            f"conv2d: weight must be 4-D (out_channels, in_channels, kh, kw), got {w.shape}"
        )
    if x.shape[1] != w.shape[1]:
        raise ShapeError(
            f"conv2d: input {x.shape} has {x.shape[1]} channels but weight {w.shape} "
            f"expects {w.shape[1]} (weight is (out_channels, in_channels, kh, kw))"
        )
    check_bias("conv2d", b, w)


class MaxPool2d(Function):
    """out[n, c, i, j] = max_{p < kh, q < kw} x[n, c, i sh + p, j sw + q]: x (N, C, H, W),
    out (N, C, Ho, Wo), Ho = (H - kh) // sh + 1; the stride defaults to the kernel size.

    d out[n, c, i, j] / d x[n, c, i sh + p, j sw + q] = 1/k if that element is one of the k
    maxima of its window, else 0 (ties share evenly, like :class:`Max`): dL/dx sends each
    g[n, c, i, j] to the maxima of its window, adding up where windows overlap (stride < kernel).
    Vectorised over pixels: one strided max (forward) and one strided add (backward) per offset.
    """

    def forward(ctx, x: Array, kernel_size: Any = 2, stride: Any = None) -> Array:
        if x.ndim != 4:
            raise ShapeError(f"max_pool2d: input must be 4-D (N, C, H, W), got shape {x.shape}")
        kernel = as_pair("max_pool2d", "kernel_size", kernel_size, 1)
        stride = kernel if stride is None else as_pair("max_pool2d", "stride", stride, 1)
        out_hw = _out_size("max_pool2d", x.shape, kernel, stride)
        out = max_pool(x, kernel, stride, out_hw)
        ctx.save_for_backward(x, out)
        ctx.kernel, ctx.stride, ctx.out_hw = kernel, stride, out_hw
        return out

    def backward(ctx, g: Array) -> Array:
        x, out = ctx.saved
        g = _in_layout_of(out, g)
        if ctx.stride == ctx.kernel:  # disjoint windows, the usual pooling
            return max_pool_grad_blocks(x, out, g, ctx.kernel, ctx.out_hw)
        return max_pool_grad(x, out, g, ctx.kernel, ctx.stride, ctx.out_hw)

    def composite(ctx) -> Tensor:
        """The same pooling from primitives (tangents and higher orders go through it): the
        windows gathered by Index, then Max over each (ties share evenly, as here)."""
        windows = _windows(ctx.parents[0], ctx.kernel, ctx.stride)  # (N, C, Ho, Wo, kh, kw)
        return windows.reshape(*windows.shape[:4], -1).max(axis=-1)


def max_pool(
    x: Array, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> Array:
    """out[n, c, i, j] = max_{p, q} x[n, c, i sh + p, j sw + q] in x's memory layout: one
    strided maximum per kernel offset, split over the cores along N or C, whichever is outer
    in x's memory (``parallel.split_outer``; a pass over a convolution's output, memory-bound)."""
    first = _window(x, 0, 0, out_hw, stride)
    out = np.empty_like(first)  # keeps x's memory layout

    def piece(at: tuple[slice, ...]) -> None:
        windows = [
            _window(x, p, q, out_hw, stride)[at] for p in range(kernel[0]) for q in range(kernel[1])
        ]
        np.copyto(out[at], windows[0])
        for window in windows[1:]:
            np.maximum(out[at], window, out=out[at])

    parallel.split_outer(x, piece, axes=(0, 1))  # pieces as large as the input read
    return out


def max_pool_grad(
    x: Array,
    out: Array,
    g: Array,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
) -> Array:
    """dL/dx of a max-pool of x (out its output, g = dL/dout in out's memory layout), ties
    sharing evenly: each g[n, c, i, j] goes to the maxima of its window, adding up where windows
    overlap. One strided comparison and one strided add per kernel offset (p, q)."""
    offsets = [(p, q) for p in range(kernel[0]) for q in range(kernel[1])]
    is_max = [_window(x, p, q, out_hw, stride) == out for p, q in offsets]
    count = is_max[0].astype(np.uint8 if len(offsets) < 256 else np.int64)
    for m in is_max[1:]:
        count += m  # k >= 1: the maximum is in its window
    share = g / count  # each window's g, split evenly among its k maxima
    dx = np.zeros_like(x, dtype=g.dtype)  # same memory layout as x
    disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    for (p, q), m in zip(offsets, is_max, strict=True):
        window = _window(dx, p, q, out_hw, stride)  # a view into dx
        if disjoint:  # windows do not overlap: each element of dx is written once
            np.multiply(m, share, out=window)
        else:
            window += m * share
    return dx


def _blocks(x: Array, kernel: tuple[int, int], out_hw: tuple[int, int]) -> Array:
    """x[n, c, i kh + p, j kw + q] as (N, C, Ho, kh, Wo, kw): the disjoint windows of a pooling
    with stride = kernel. A view, whatever x's memory layout (splitting an axis never copies)."""
    (ho, wo), (kh, kw) = out_hw, kernel
    return x[:, :, : ho * kh, : wo * kw].reshape(x.shape[0], x.shape[1], ho, kh, wo, kw)


_AT_WINDOW = (slice(None), slice(None), slice(None), None, slice(None), None)  # (.., 1, .., 1)


def max_pool_grad_blocks(
    x: Array, out: Array, g: Array, kernel: tuple[int, int], out_hw: tuple[int, int]
) -> Array:
    """dL/dx of a max-pool whose windows do not overlap (stride = kernel), ties sharing evenly:
    dx[n, c, i kh + p, j kw + q] = [x there == out[n, c, i, j]] g[n, c, i, j] / (number of maxima).

    Why: one broadcast comparison and one broadcast product over the (N, C, Ho, kh, Wo, kw) view
    of x instead of a comparison, a product and a strided write per kernel offset, as in
    :func:`max_pool_grad` (faster for the course's CNN: ``benchmarks/speed_helpers.py``); and
    the images or channels in pieces over the cores (``parallel.split_outer``)."""
    covered = out_hw[0] * kernel[0] == x.shape[2] and out_hw[1] * kernel[1] == x.shape[3]
    dx = (np.empty_like if covered else np.zeros_like)(x, dtype=g.dtype)  # x's memory layout
    parallel.split_outer(  # pieces along N or C, whichever is outer in x's memory
        x,
        lambda at: _max_pool_grad_piece(x[at], out[at], g[at], kernel, out_hw, dx[at]),
        axes=(0, 1),
    )
    return dx


def _max_pool_grad_piece(
    x: Array, out: Array, g: Array, kernel: tuple[int, int], out_hw: tuple[int, int], dx: Array
) -> None:
    """:func:`max_pool_grad_blocks` for some of the images or channels, into dx."""
    is_max = _blocks(x, kernel, out_hw) == out[_AT_WINDOW]  # bool, x's memory layout
    count = is_max[:, :, :, 0, :, 0].astype(g.dtype)
    for p in range(kernel[0]):
        for q in range(kernel[1]):
            if p or q:
                count += is_max[:, :, :, p, :, q]  # k >= 1: the maximum is in its window
    share = np.divide(g, count, out=count)  # each window's g, split evenly among its k maxima
    np.multiply(is_max, share[_AT_WINDOW], out=_blocks(dx, kernel, out_hw))


def _windows(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """x[n, c, i sh + p, j sw + q] as a (N, C, Ho, Wo, kh, kw) Tensor, by one Index op."""
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    rows = (np.arange(ho) * sh)[:, None, None, None] + np.arange(kh)[None, None, :, None]
    cols = (np.arange(wo) * sw)[None, :, None, None] + np.arange(kw)[None, None, None, :]
    return x[:, :, rows, cols]


def _in_layout_of(out: Array, g: Array) -> Array:
    """g copied into out's memory layout, unless it has it already (e.g. g from a flatten is
    (N, C, H, W)-contiguous while out is (C, H, W, N)): elementwise ops between arrays of
    different layouts run many times slower (``benchmarks/speed_helpers.py``)."""
    if g.strides == out.strides:
        return g
    laid_out = np.empty_like(out, dtype=g.dtype)
    np.copyto(laid_out, g)
    return laid_out
