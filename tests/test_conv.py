"""Conv2d and MaxPool2d: forward against naive loops and PyTorch, gradients against finite
differences (float64, full Jacobians), shape errors, the modules, and a CNN smoke test."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import InputError, ShapeError, Tensor
from tinygrad_edu import conv as conv_ops
from tinygrad_edu.engine import memory, parallel
from tinygrad_edu.gradcheck import gradcheck
from tinygrad_edu.nn.conv import Conv2d, MaxPool2d, conv2d, max_pool2d

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the comparisons with PyTorch skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
REPO = Path(__file__).resolve().parents[1]


def pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


# --------------------------------------------------------------------------- naive references
def conv2d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Any, padding: Any):
    """out[n, o, i, j] = b[o] + sum_{c,p,q} w[o, c, p, q] xpad[n, c, i sh + p, j sw + q]."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, hp, wp = xp.shape
    o, _, kh, kw = w.shape
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((n, o, ho, wo))
    for b_ in range(n):
        for oc in range(o):
            for i in range(ho):
                for j in range(wo):
                    patch = xp[b_, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    out[b_, oc, i, j] = (patch * w[oc]).sum() + (0.0 if b is None else b[oc])
    return out


def max_pool2d_naive(x: np.ndarray, kernel: Any, stride: Any) -> tuple[np.ndarray, np.ndarray]:
    """The pooled maxima, and dL/dx for L = sum(out * g) with g = 1, 2, 3, ...: each window
    sends its g to its maxima, split evenly among ties, summed where windows overlap."""
    (kh, kw), (sh, sw) = pair(kernel), pair(stride)
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    g = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    dx = np.zeros_like(x)
    for b in range(n):
        for ch in range(c):
            for i in range(ho):
                for j in range(wo):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    window = x[b, ch, rows, cols]
                    out[b, ch, i, j] = m = window.max()
                    is_max = window == m
                    dx[b, ch, rows, cols] += is_max * g[b, ch, i, j] / is_max.sum()
    return out, dx


# --------------------------------------------------------------------------- strategies
@st.composite
def conv_cases(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...], Any, Any]:
    """(x shape, w shape, stride, padding): channels 1-3, sides 3-7, kernel 1-3, stride 1-2,
    padding 0-2 (ints or (h, w) pairs)."""
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(3, 7)), draw(st.integers(3, 7))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ints = st.integers(1, 2)
    stride = draw(ints | st.tuples(ints, ints))
    pads = st.integers(0, 2)
    padding = draw(pads | st.tuples(pads, pads))
    return (n, c, h, w), (o, c, kh, kw), stride, padding


@st.composite
def pool_cases(draw: Any, overlap: bool) -> tuple[tuple[int, ...], tuple[int, int], tuple]:
    """(x shape, kernel, stride): stride == kernel, or (``overlap``) stride < kernel."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)))
    shape += (draw(st.integers(3, 7)), draw(st.integers(3, 7)))
    if overlap:
        kernel = (draw(st.integers(2, 3)), draw(st.integers(2, 3)))
        stride = (draw(st.integers(1, kernel[0] - 1)), draw(st.integers(1, kernel[1] - 1)))
    else:
        kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        stride = kernel
    return shape, kernel, stride


# --------------------------------------------------------------------------- conv2d
@given(case=conv_cases(), data=st.data())
def test_conv2d_forward_matches_naive_loops_and_torch(case: Any, data: st.DataObject) -> None:
    x_shape, w_shape, stride, padding = case
    x, w = data.draw(S.arrays(x_shape)), data.draw(S.arrays(w_shape))
    b = data.draw(S.arrays((w_shape[0],)))
    out = conv2d(Tensor(x), Tensor(w), Tensor(b), stride, padding)
    expected = conv2d_naive(x, w, b, stride, padding)
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    if torch is not None:
        ref = TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride, padding)
        np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-12, atol=1e-12)


@given(case=conv_cases(), data=st.data())
def test_conv2d_gradients_match_finite_differences(case: Any, data: st.DataObject) -> None:
    x_shape, w_shape, stride, padding = case
    x, w = data.draw(S.arrays(x_shape)), data.draw(S.arrays(w_shape))
    b = data.draw(S.arrays((w_shape[0],)))
    assert gradcheck(lambda x, w, b: conv2d(x, w, b, stride, padding), [x, w, b])
    assert gradcheck(lambda x, w: conv2d(x, w, None, stride, padding), [x, w])


def test_conv2d_skips_the_input_gradient_of_a_data_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 6, 6)))  # a data batch: no gradient wanted
    w = Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(4), requires_grad=True)

    def fail(*args: Any) -> None:
        raise AssertionError("the input gradient ran although the input needs no gradient")

    monkeypatch.setattr(conv_ops, "conv_input_grad", fail)
    out = conv2d(x, w, b, stride=2, padding=1)
    (out * out).sum().backward()
    assert x.grad is None and w.grad.shape == w.shape and b.grad.shape == b.shape
    np.testing.assert_allclose(b.grad, 2 * out.data.sum(axis=(0, 2, 3)))


def test_conv2d_keeps_float32_and_records_the_op() -> None:
    rng = np.random.default_rng(1)
    x = Tensor(rng.random((2, 1, 8, 8), dtype=np.float32), requires_grad=True)
    w = Tensor(rng.random((3, 1, 3, 3), dtype=np.float32), requires_grad=True)
    out = max_pool2d(conv2d(x, w).relu(), 2)
    assert out.dtype == np.float32 and out.shape == (2, 3, 3, 3)
    assert out.op == "MaxPool2d" and out._ctx.parents[0]._ctx.parents[0].op == "Conv2d"
    out.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape
    assert w.grad.dtype == np.float32 and w.grad.shape == w.shape


@needs_torch
def test_conv_pool_chain_gradients_match_torch() -> None:
    """A two-layer chain (padding, stride, overlapping pool) against PyTorch's autograd."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2, 11, 10))
    w1, b1 = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    w2 = rng.standard_normal((5, 4, 2, 3))
    arrays = [x, w1, b1, w2]

    def ours(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor) -> Tensor:
        h = max_pool2d(conv2d(x, w1, b1, stride=1, padding=1).relu(), 3, stride=2)
        return (conv2d(h, w2, stride=(1, 2), padding=(1, 0)) ** 2).sum()

    def theirs(x: Any, w1: Any, b1: Any, w2: Any) -> Any:
        h = TF.max_pool2d(TF.relu(TF.conv2d(x, w1, b1, 1, 1)), 3, 2)
        return (TF.conv2d(h, w2, None, (1, 2), (1, 0)) ** 2).sum()

    ts = [Tensor(a, requires_grad=True) for a in arrays]
    loss = ours(*ts)
    loss.backward()
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref = theirs(*tt)
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-12)
    for t, r in zip(ts, tt, strict=True):
        np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=1e-10, atol=1e-10)


def course_cnn_layers(
    x: Any, w1: Any, b1: Any, w2: Any, b2: Any, conv: Any, relu: Any, pool: Any
) -> Any:
    """The course's CNN's layers (conv, relu, 2x2 pool, twice; padding on the first), written
    once for tinygrad_edu and torch; odd sides make the pools drop a row and a column."""
    h = pool(relu(conv(x, w1, b1, 1, 1)), 2)
    return pool(relu(conv(h, w2, b2, 1, 0)), 2)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_course_cnn_layers_match_torch_in_float64(dtype: Any) -> None:
    """Forward and all gradients of conv-relu-pool twice (the fast paths: disjoint pooling,
    the bias row, the row-by-row input gradient) against PyTorch in float64: to float64
    rounding in float64, to float32 rounding in float32."""
    rng = np.random.default_rng(3)
    shapes = [(4, 3, 15, 13), (6, 3, 3, 3), (6,), (5, 6, 3, 2), (5,)]
    arrays = [rng.standard_normal(s) for s in shapes]
    g = rng.standard_normal((4, 5, 2, 2))
    ts = [Tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = course_cnn_layers(*ts, conv2d, Tensor.relu, max_pool2d)
    out.backward(g.astype(dtype))
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref = course_cnn_layers(*tt, TF.conv2d, TF.relu, TF.max_pool2d)
    ref.backward(torch.tensor(g))
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert out.dtype == dtype and all(t.grad.dtype == dtype for t in ts)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=tol, atol=tol)
    for t, r in zip(ts, tt, strict=True):
        scale = np.abs(r.grad.numpy()).max()
        np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=tol, atol=tol * scale)


def test_conv2d_saved_columns_survive_a_retained_graph() -> None:
    """The matrix a convolution saves lives in a reused buffer: a retained graph keeps its
    own, however many steps run meanwhile; freed graphs give theirs back (a few kept)."""
    rng = np.random.default_rng(4)
    w = Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(3), requires_grad=True)
    kept = (conv2d(rng.standard_normal((2, 2, 7, 7)), w, b) ** 2).sum()
    kept.backward(retain_graph=True)
    first = w.grad.copy(), b.grad.copy()
    for _ in range(6):  # other steps, each graph freed by its backward
        (conv2d(rng.standard_normal((2, 2, 7, 7)), w, b) ** 2).sum().backward()
    assert memory.kept_buffers() <= memory.KEEP_BUFFERS
    w.grad = b.grad = None
    kept.backward()  # the retained graph's saved columns are unchanged
    np.testing.assert_array_equal(w.grad, first[0])
    np.testing.assert_array_equal(b.grad, first[1])


# --------------------------------------------------------------------------- max_pool2d
@pytest.mark.parametrize("overlap", [False, True], ids=["stride=kernel", "stride<kernel"])
@given(data=st.data())
def test_max_pool2d_forward_matches_naive_loops_and_torch(
    overlap: bool, data: st.DataObject
) -> None:
    shape, kernel, stride = data.draw(pool_cases(overlap))
    x = data.draw(S.arrays(shape))
    out = max_pool2d(Tensor(x), kernel, stride)
    np.testing.assert_array_equal(out.data, max_pool2d_naive(x, kernel, stride)[0])
    if torch is not None:
        ref = TF.max_pool2d(torch.tensor(x), kernel, stride)
        np.testing.assert_array_equal(out.data, ref.numpy())


@pytest.mark.parametrize("overlap", [False, True], ids=["stride=kernel", "stride<kernel"])
@given(data=st.data())
def test_max_pool2d_gradients_match_finite_differences(overlap: bool, data: st.DataObject) -> None:
    shape, kernel, stride = data.draw(pool_cases(overlap))
    x = data.draw(S.distinct(shape))  # tie-free: max is differentiable there
    assert gradcheck(lambda x: max_pool2d(x, kernel, stride), [x])


@pytest.mark.parametrize("overlap", [False, True], ids=["stride=kernel", "stride<kernel"])
@given(data=st.data())
def test_max_pool2d_splits_ties_evenly_and_adds_overlaps(
    overlap: bool, data: st.DataObject
) -> None:
    shape, kernel, stride = data.draw(pool_cases(overlap))
    x = data.draw(S.with_ties(shape))
    expected_out, expected_dx = max_pool2d_naive(x, kernel, stride)
    xt = Tensor(x, requires_grad=True)
    out = max_pool2d(xt, kernel, stride)
    g = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    out.backward(g)
    np.testing.assert_array_equal(out.data, expected_out)
    np.testing.assert_allclose(xt.grad, expected_dx, rtol=1e-12)


@given(data=st.data())
def test_max_pool2d_gradient_equals_tensor_max_over_windows(data: st.DataObject) -> None:
    """Without overlap, pooling is Tensor.max over the window axes of a reshape: same gradient,
    ties included (both split evenly)."""
    n, c, ho, wo, k = (data.draw(st.integers(1, 3)) for _ in range(5))
    x = data.draw(S.with_ties((n, c, ho * k, wo * k)))
    a, b = Tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    (max_pool2d(a, k) ** 2).sum().backward()
    (b.reshape(n, c, ho, k, wo, k).max(axis=(3, 5)) ** 2).sum().backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12)


def test_max_pool2d_ignores_rows_and_columns_no_window_covers() -> None:
    x = Tensor(np.arange(25.0).reshape(1, 1, 5, 5), requires_grad=True)
    out = max_pool2d(x, 2)  # floor mode: row 4 and column 4 are never pooled
    np.testing.assert_array_equal(out.data[0, 0], [[6, 8], [16, 18]])
    out.sum().backward()
    assert x.grad[0, 0, 4].sum() == 0 and x.grad[0, 0, :, 4].sum() == 0
    assert x.grad.sum() == 4


# --------------------------------------------------------------------------- shape errors
CONV_ERRORS = [
    (
        (3, 5, 5),
        (2, 3, 3, 3),
        {},
        r"conv2d: input must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\)",
    ),
    ((1, 3, 5, 5), (2, 3, 3), {}, r"conv2d: weight must be 4-D .* got \(2, 3, 3\)"),
    (
        (1, 3, 5, 5),
        (4, 2, 3, 3),
        {},
        r"conv2d: input \(1, 3, 5, 5\) has 3 channels but weight \(4, 2, 3, 3\) expects 2",
    ),
    (
        (1, 1, 5, 5),
        (2, 1, 7, 7),
        {},
        r"conv2d: kernel 7x7 is larger than the input: input shape \(1, 1, 5, 5\)",
    ),
    (
        (1, 1, 4, 4),
        (2, 1, 7, 3),
        {"padding": 1},
        r"conv2d: kernel 7x3 is larger than the padded input 6x6 \(padding \(1, 1\)\)",
    ),
]


@pytest.mark.parametrize(("x_shape", "w_shape", "kw", "match"), CONV_ERRORS)
def test_conv2d_shape_errors_name_the_op_and_the_shapes(
    x_shape: tuple, w_shape: tuple, kw: dict, match: str
) -> None:
    with pytest.raises(ShapeError, match=match):
        conv2d(Tensor(np.zeros(x_shape)), Tensor(np.zeros(w_shape)), **kw)


def test_conv2d_bias_shape_error() -> None:
    with pytest.raises(ShapeError, match=r"conv2d: bias must have shape \(2,\) .* got \(3,\)"):
        conv2d(np.zeros((1, 1, 5, 5)), Tensor(np.zeros((2, 1, 3, 3))), Tensor(np.zeros(3)))


@pytest.mark.parametrize(
    ("shape", "kernel", "match"),
    [
        ((4, 4), 2, r"max_pool2d: input must be 4-D \(N, C, H, W\), got shape \(4, 4\)"),
        ((1, 1, 2, 5), 3, r"max_pool2d: kernel 3x3 is larger than the input: input shape"),
    ],
)
def test_max_pool2d_shape_errors(shape: tuple, kernel: int, match: str) -> None:
    with pytest.raises(ShapeError, match=match):
        max_pool2d(Tensor(np.zeros(shape)), kernel)


# --------------------------------------------------------------------------- invalid arguments
X5, W3 = np.zeros((1, 1, 5, 5)), np.zeros((2, 1, 3, 3))
BAD_ARGUMENTS = {
    # the op, through the functional form, and the module: one validator, one error type
    "conv2d stride 0": (lambda: conv2d(X5, Tensor(W3), stride=0), "conv2d: stride must be"),
    "conv2d padding": (lambda: conv2d(X5, Tensor(W3), padding=(1, -1)), "conv2d: padding must"),
    "conv2d stride 3-tuple": (lambda: conv2d(X5, Tensor(W3), stride=(1, 1, 1)), "conv2d: stride"),
    "max_pool2d kernel 0": (lambda: max_pool2d(X5, 0), "max_pool2d: kernel_size must be"),
    "max_pool2d stride 0": (lambda: max_pool2d(X5, 2, stride=0), "max_pool2d: stride must be"),
    "Conv2d stride 0": (lambda: Conv2d(1, 2, 3, stride=0), "Conv2d: stride must be"),
    "Conv2d padding -1": (lambda: Conv2d(1, 2, 3, padding=-1), "Conv2d: padding must be"),
    "Conv2d kernel 2.5": (lambda: Conv2d(1, 2, 2.5), "Conv2d: kernel_size must be"),
    "Conv2d out_channels 0": (lambda: Conv2d(1, 0, 3), "Conv2d: out_channels must be"),
    "MaxPool2d stride 0": (lambda: MaxPool2d(2, stride=0), "MaxPool2d: stride must be"),
    "MaxPool2d kernel (2, 0)": (lambda: MaxPool2d((2, 0)), "MaxPool2d: kernel_size must be"),
    "MaxPool2d kernel True": (lambda: MaxPool2d(True), "MaxPool2d: kernel_size must be"),
}


@pytest.mark.parametrize("name", list(BAD_ARGUMENTS))
def test_invalid_kernel_stride_or_padding_is_an_input_error(name: str) -> None:
    """A value outside its domain is an InputError (a ValueError), from the op and the module."""
    make, match = BAD_ARGUMENTS[name]
    with pytest.raises(InputError, match=match) as excinfo:
        make()
    assert not isinstance(excinfo.value, ShapeError)


def test_one_pair_validator() -> None:
    assert conv_ops.as_pair("f", "stride", 2, 1) == (2, 2)
    assert conv_ops.as_pair("f", "padding", [0, np.int64(3)], 0) == (0, 3)
    assert isinstance(conv_ops.as_pair("f", "stride", np.int64(2), 1)[0], int)


# --------------------------------------------------------------------------- modules
def test_conv2d_module_layout_init_and_seed() -> None:
    conv = Conv2d(3, 8, (3, 5), stride=2, padding=1, seed=0)
    assert conv.weight.shape == (8, 3, 3, 5) and conv.bias.shape == (8,)
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]
    assert conv.weight.dtype == np.float32 and conv.num_parameters() == 8 * 45 + 8
    bound = 1 / math.sqrt(3 * 3 * 5)  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert conv.weight.data.std() > bound / 3  # really drawn across the whole interval
    again = Conv2d(3, 8, (3, 5), stride=2, padding=1, seed=0)
    np.testing.assert_array_equal(conv.weight.data, again.weight.data)
    x = np.random.default_rng(0).random((2, 3, 9, 9), dtype=np.float32)
    out = conv(x)
    assert out.shape == (2, 8, 5, 4)
    expected = conv2d_naive(x, conv.weight.data, conv.bias.data, 2, 1)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    assert repr(conv) == "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1))"


def test_conv2d_module_without_bias_and_bad_arguments() -> None:
    conv = Conv2d(1, 2, 3, bias=False, seed=1)
    assert conv.bias is None and [n for n, _ in conv.named_parameters()] == ["weight"]
    assert conv(np.zeros((1, 1, 4, 4), dtype=np.float32)).shape == (1, 2, 2, 2)
    with pytest.raises(InputError, match="Conv2d: in_channels must be a positive integer"):
        Conv2d(0, 2, 3)
    with pytest.raises(InputError, match="Conv2d: kernel_size must be an int >= 1"):
        Conv2d(1, 2, (3, 0))


def test_max_pool2d_module() -> None:
    pool = MaxPool2d(2)
    assert pool.stride == (2, 2) and pool.parameters() == []
    assert repr(pool) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(Conv2d(1, 2, 3, seed=0)) == (
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0))"
    )
    assert pool(np.zeros((2, 3, 8, 7))).shape == (2, 3, 4, 3)
    assert MaxPool2d(3, stride=1)(np.zeros((1, 1, 5, 5))).shape == (1, 1, 3, 3)


# --------------------------------------------------------------------------- the example CNN
def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("cnn_mnist", REPO / "examples" / "cnn_mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cnn_loss_falls_in_one_epoch_on_a_few_hundred_images(mnist_dir: Path) -> None:
    example = load_example()
    from tinygrad_edu import nn
    from tinygrad_edu.data import DataLoader, load_dataset
    from tinygrad_edu.optim import Adam

    train, _ = load_dataset("mnist", data_dir=mnist_dir, download=False, fallback=False)
    train = train.subset(512)
    model = example.build_cnn(channels=(8, 16), hidden=32, seed=0)
    x, y = next(iter(DataLoader(train, 256, flatten=False)))

    def loss() -> float:
        return nn.cross_entropy(model(Tensor(x)), y).item()

    before = loss()
    opt = Adam(model.parameters(), lr=3e-3)
    example.train_epoch(model, opt, DataLoader(train, 32, shuffle=True, seed=0, flatten=False))
    after = loss()
    assert before > 2.0 and after < 0.8 * before  # measured: 2.34 -> 1.54


# --------------------------------------------------------------------------- split over cores
def split_from_4() -> Any:
    """Within the block, passes are split over the threads from 4 elements up."""
    return mock.patch.object(parallel, "MIN_SPLIT", 4)


@given(case=conv_cases(), pool=st.integers(1, 2), width=st.integers(2, 4), data=st.data())
def test_split_conv_relu_pool_is_the_one_thread_result_bit_for_bit(
    case: Any, pool: int, width: int, data: st.DataObject
) -> None:
    """conv2d -> relu -> max_pool2d (disjoint or overlapping windows), forward and every
    gradient, with the passes split over ``width`` threads: the same bits as on one thread,
    for images in (N, C, H, W) memory and in the ops' (C, H, W, N) memory."""
    x_shape, w_shape, stride, padding = case
    x, w = data.draw(S.arrays(x_shape)), data.draw(S.arrays(w_shape))
    b = data.draw(S.arrays(w_shape[:1]))
    kernel, pool_stride = (pool + 1, pool) if data.draw(st.booleans()) else (pool, pool)

    def run(x: np.ndarray) -> list[np.ndarray]:
        xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
        h = Tensor.relu(conv2d(xt, wt, bt, stride, padding))
        out = max_pool2d(h, kernel, pool_stride) if min(h.shape[2:]) >= kernel else h
        out.backward(np.cos(np.arange(out.size).reshape(out.shape)))
        return [out.data, xt.grad, wt.grad, bt.grad]

    for images in (x, np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)):
        with parallel.splitting(1):
            expected = run(images)
        with parallel.splitting(width), split_from_4():
            got = run(images)
        for a, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, e)


def test_the_course_cnn_trains_bit_for_bit_split_over_two_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three Adam steps of the course's CNN on 64 images, BLAS on one thread: the losses, the
    gradients and the weights are the same bits with the passes split over two threads (they
    are split: ReLU, pooling, im2col and col2im's adds) as on one."""
    from threadpoolctl import threadpool_limits

    from tinygrad_edu import nn
    from tinygrad_edu.nn import build_cnn
    from tinygrad_edu.optim import Adam

    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    split_calls = []
    run_pieces = parallel.run_pieces
    monkeypatch.setattr(
        parallel,
        "run_pieces",
        lambda n, body, threads=None: split_calls.append(threads) or run_pieces(n, body, threads),
    )

    def train(width: int) -> list[Any]:
        model = build_cnn(seed=0)
        opt = Adam(model.parameters(), lr=2e-3)
        losses = []
        with threadpool_limits(1, "blas"), parallel.splitting(width):
            for _ in range(3):
                loss = nn.cross_entropy(model(Tensor(x)), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.data)
        return losses + [p.data for p in model.parameters()] + [p.grad for p in model.parameters()]

    one = train(1)
    assert split_calls == [] or set(split_calls) == {1}
    two = train(2)
    assert split_calls.count(2) >= 3 * 5  # relu x2, pool, its gradient, im2col x2, col2im's adds
    for a, b in zip(two, one, strict=True):
        np.testing.assert_array_equal(a, b)
