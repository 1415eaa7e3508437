"""Exercise ``derivative-table``: the backward of Mul, Sigmoid, ReLU, Tanh, Sum, MatMul and
LogSoftmax written by the student, each checked with ``check_vjp``; then an MLP built from ops
whose backward is the student's (subclasses of the engine's ops, made for this run only: the
engine itself is never changed) is trained on the bundled sample."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from .. import fused
from ..check import Diagnosis, check_vjp
from ..check.student import call
from ..data import DatasetError, load_dataset
from ..engine import ops
from ..engine.function import Function
from ..engine.tensor import Tensor
from .exercise import Exercise, Grade, Part
from .grader import named, named_diagnosis, need

#: The test accuracy of the MLP trained briefly with the student's derivatives.
TARGET_ACCURACY = 0.80
#: The training images it is trained on (the first of the bundled sample): each backward step
#: sends its arrays to the student's sandboxed code and back.
TRAIN_IMAGES = 4000
#: The parts whose backward rules the training uses.
TRAINED_WITH = ("mul", "sigmoid", "sum", "matmul", "log_softmax")


def _vjp(name: str, forward: Callable[..., Tensor], inputs: dict) -> Callable[[ModuleType], Grade]:
    def grade(module: ModuleType) -> Grade:
        return named_diagnosis(check_vjp(need(module, name), forward, inputs)), ""

    return grade


def grade_sum(module: ModuleType) -> Grade:
    fn = need(module, "sum_backward")
    for axis in (1, 0, None):
        backward = named(lambda g, a, axis=axis: fn(g, a, axis), "sum_backward", lambda d: d)
        report = check_vjp(backward, lambda a, axis=axis: a.sum(axis=axis), {"a": (3, 4)})
        if not report.passed:
            d = report.diagnosis
            return Diagnosis(d.kind, f"axis={axis}: {d.message}", d.factor), ""
    return None, ""


def student_op(base: type[Function], backward: Callable[..., Any]) -> type[Function]:
    """A subclass of the engine's op ``base`` whose backward is ``backward(g, *inputs)``."""

    def student_backward(ctx: Function, g: np.ndarray) -> Any:
        return call(backward, g, *[p.data for p in ctx.parents], *getattr(ctx, "extra", ()))

    return type(f"Student{base.__name__}", (base,), {"backward": student_backward})


class SumAll(Function):
    """out = the sum of every element (the student's Sum, with axis None)."""

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        ctx.extra = (None,)
        return np.asarray(a.sum())


def student_mlp_step(module: ModuleType) -> Callable[..., Tensor]:
    """loss(x, onehot, W1, b1, W2, b2) built from ops with the student's backward."""
    mul = student_op(ops.Mul, need(module, "mul_backward"))
    sig = student_op(ops.Sigmoid, need(module, "sigmoid_backward"))
    matmul = student_op(ops.MatMul, need(module, "matmul_backward"))
    logsm = student_op(fused.LogSoftmax, need(module, "log_softmax_backward"))
    total = student_op(SumAll, need(module, "sum_backward"))

    def loss(x: Tensor, onehot: Tensor, *p: Tensor) -> Tensor:
        h = sig.apply(matmul.apply(x, p[0]) + p[1])
        logp = logsm.apply(matmul.apply(h, p[2]) + p[3])
        return mul.apply(total.apply(mul.apply(logp, onehot)), Tensor(-1.0 / len(x)))

    return loss


def grade_training(module: ModuleType) -> Grade:
    loss = student_mlp_step(module)
    try:
        train, test = load_dataset("mnist-sample")
    except DatasetError as e:
        return Diagnosis("not_run", f"the bundled MNIST sample cannot be read: {e}"), ""
    train = train.subset(TRAIN_IMAGES)
    rng = np.random.default_rng(0)
    shapes = ((784, 64), (64,), (64, 10), (10,))
    params = [Tensor(rng.normal(0, 0.1, s) if len(s) == 2 else np.zeros(s), True) for s in shapes]
    X, Y = train.images.reshape(len(train), -1) / 255.0, np.eye(10)[train.labels]
    for _ in range(2):
        for batch in np.array_split(rng.permutation(len(X)), len(X) // 32):
            loss(Tensor(X[batch]), Tensor(Y[batch]), *params).backward()
            for p in params:
                p.data -= 0.5 * p.grad
                p.grad = None
    Xt = test.images.reshape(len(test), -1) / 255.0
    h = 1 / (1 + np.exp(-(Xt @ params[0].data + params[1].data)))
    acc = float(np.mean((h @ params[2].data + params[3].data).argmax(axis=1) == test.labels))
    note = f"an MLP trained on your derivatives: test accuracy {acc:.1%}"
    if not acc >= TARGET_ACCURACY:
        return Diagnosis("not_trained", f"needs {TARGET_ACCURACY:.0%}"), note
    return None, note


#: Each part's hints, from a nudge to the result nearly spelled out.
HINT_LEVELS: dict[str, tuple[str, ...]] = {
    "mul": (
        "out[i] depends only on a[i] and b[i], at the same position: the backward works "
        "element by element, with no sum.",
        "Treat b as a constant and differentiate a * b with respect to a; then the other way "
        "round. Each local derivative is multiplied by the incoming g, elementwise.",
        "The two inputs trade places: the gradient for a is g times the other factor b, the "
        "gradient for b is g times a. Return both, in input order, as a tuple.",
    ),
    "sigmoid": (
        "Write s(z) = (1 + e^-z)^-1 and use the chain rule: the derivative can be written "
        "with s itself.",
        "d/dz (1 + e^-z)^-1 = e^-z / (1 + e^-z)^2. Split it into 1 / (1 + e^-z) times "
        "e^-z / (1 + e^-z) and write the second factor with s. It is taken at the input z.",
        "Compute s = 1 / (1 + np.exp(-z)) from z itself (not s of s), then return g times s "
        "times (1 minus s).",
    ),
    "relu": (
        "ReLU is piecewise linear: on each side of 0 its slope is a constant.",
        "The slope is 1 for positive z and 0 for negative z (the check draws z away from 0). "
        "Multiply g by the slope, element by element.",
        "Keep g where z is positive and put 0 elsewhere: g * (z > 0), or np.where.",
    ),
    "tanh": (
        "tanh = sinh / cosh: the quotient rule gives a derivative you can write with tanh itself.",
        "(cosh^2 - sinh^2) / cosh^2: divide both terms by cosh^2. Evaluate it at the input z "
        "and multiply by g.",
        "With t = np.tanh(z) computed from z, return g times (1 minus t squared).",
    ),
    "sum": (
        "If one element of a changes by a small e, which elements of out change, and by how much?",
        "Each a element is added, with weight 1, into exactly one out element: its gradient is "
        "that out element's g. g lacks the summed axis, so put it back (with size 1) and "
        "broadcast it to a's shape.",
        "np.expand_dims(g, axis) (not for axis None, where g is one number), then "
        "np.broadcast_to(..., a.shape).copy(); or np.ones_like(a) times it.",
    ),
    "matmul": (
        "Let the shapes lead: the gradient for a is (N, K) and the one for b is (K, M), each "
        "made from g (N, M) and the other input.",
        "With out_nm = sum_k a_nk b_km, a_nk enters only row n of out, with weight b_km: sum "
        "g_nm b_km over m. Likewise b_km enters only column m, with weight a_nk: sum over n.",
        "Both sums are matrix products: g times b transposed for a, a transposed times g for b "
        "(check each shape).",
    ),
    "log_softmax": (
        "Take one row: out_i = z_i - log sum_j e^z_j. Every out_i depends on every z_j "
        "through the second term.",
        "d out_i / d z_j is 1 when i == j (else 0), minus the softmax p_j of z. The backward "
        "sums g_i times it over i: split the sum into its two terms.",
        "The result is g minus p times the row sums of g, with p = softmax(z) along the last "
        "axis (computed stably) and the sums kept as a column (keepdims=True) to broadcast.",
    ),
    "train": (
        "Nothing new to write: an MLP whose ops use your mul, sigmoid, sum, matmul and "
        "log_softmax backward trains on real digits, once those parts pass.",
        "They pass but it does not learn? Look for what holds only for the checks' small "
        "(3, 4) arrays: a hard-coded shape, or axis 1 where the last axis is meant. It trains "
        "on batches of 32 images of 784 pixels.",
    ),
}


def _part(name: str, op: str, forward: Callable[..., Tensor], inputs: dict) -> Part:
    grade = _vjp(f"{name}_backward", forward, inputs)
    return Part(name, (f"{name}_backward",), op, grade, hint_levels=HINT_LEVELS[name])


def _task(op: str, inputs: str) -> str:
    """The part's task: "out = a * b: dL/da and dL/db from g = dL/dout, ..."."""
    names = inputs.split(", ")
    grads = " and ".join(f"dL/d{n}" for n in names)
    shapes = "each of its input's shape" if len(names) > 1 else f"of {names[0]}'s shape"
    return f"{op}: {grads} from g = dL/dout, {shapes}"


EXERCISE = Exercise(
    name="derivative-table",
    title="The derivative table: seven backward rules inside the engine",
    module="derivative_table",
    summary="Write the backward (vector-Jacobian product) of Mul, Sigmoid, ReLU, Tanh, Sum, "
    "MatMul and LogSoftmax. Each is checked against the engine with random upstream "
    "gradients; then an MLP whose ops use your backward rules is trained on real digits.",
    parts=(
        _part("mul", _task("out = a * b", "a, b"), lambda a, b: a * b, {"a": (3, 4), "b": (3, 4)}),
        _part("sigmoid", _task("out = s(z)", "z"), lambda z: z.sigmoid(), {"z": (3, 4)}),
        _part("relu", _task("out = max(z, 0)", "z"), lambda z: z.relu(), {"z": (3, 4)}),
        _part("tanh", _task("out = tanh(z)", "z"), lambda z: z.tanh(), {"z": (3, 4)}),
        Part(
            "sum",
            ("sum_backward",),
            _task("out = a.sum(axis)", "a"),
            grade_sum,
            hint_levels=HINT_LEVELS["sum"],
        ),
        _part(
            "matmul", _task("out = a @ b", "a, b"), lambda a, b: a @ b, {"a": (3, 4), "b": (4, 2)}
        ),
        _part(
            "log_softmax",
            _task("out = log softmax(z), along the last axis", "z"),
            lambda z: z.log_softmax(),
            {"z": (3, 4)},
        ),
        Part(
            "train",
            tuple(f"{name}_backward" for name in TRAINED_WITH),
            f"an MLP whose ops use your backward trains to {TARGET_ACCURACY:.0%}",
            grade_training,
            30.0,
            needs=TRAINED_WITH,
            hint_levels=HINT_LEVELS["train"],
        ),
    ),
)
