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


def _part(name: str, op: str, forward: Callable[..., Tensor], inputs: dict) -> Part:
    return Part(name, (f"{name}_backward",), op, _vjp(f"{name}_backward", forward, inputs))


EXERCISE = Exercise(
    name="derivative-table",
    title="The derivative table: seven backward rules inside the engine",
    module="derivative_table",
    summary="Write the backward (vector-Jacobian product) of Mul, Sigmoid, ReLU, Tanh, Sum, "
    "MatMul and LogSoftmax. Each is checked against the engine with random upstream "
    "gradients; then an MLP whose ops use your backward rules is trained on real digits.",
    parts=(
        _part("mul", "out = a * b", lambda a, b: a * b, {"a": (3, 4), "b": (3, 4)}),
        _part("sigmoid", "out = s(z)", lambda z: z.sigmoid(), {"z": (3, 4)}),
        _part("relu", "out = max(z, 0)", lambda z: z.relu(), {"z": (3, 4)}),
        _part("tanh", "out = tanh(z)", lambda z: z.tanh(), {"z": (3, 4)}),
        Part("sum", ("sum_backward",), "out = a.sum(axis)", grade_sum),
        _part("matmul", "out = a @ b", lambda a, b: a @ b, {"a": (3, 4), "b": (4, 2)}),
        _part("log_softmax", "out = log softmax(z)", lambda z: z.log_softmax(), {"z": (3, 4)}),
        Part(
            "train",
            tuple(f"{name}_backward" for name in TRAINED_WITH),
            f"an MLP trains to {TARGET_ACCURACY:.0%}",
            grade_training,
            30.0,
            needs=TRAINED_WITH,
        ),
    ),
)
