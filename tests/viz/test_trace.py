"""trace(): one record per backward step, the hook restored, frames, the printed table."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn
from tinygrad_edu.engine import backprop as engine
from tinygrad_edu.viz import Trace, trace
from tinygrad_edu.viz.examples import neuron, scalar_expression, tiny_mlp
from tinygrad_edu.viz.trace import step_details


def test_steps_record_node_op_upstream_and_sent_grads():
    ex = scalar_expression()  # L = (a*b + c) * a, a=2, b=-3, c=10
    with trace() as t:
        ex.loss.backward()
    assert [(s.name, s.op) for s in t.steps] == [
        ("L", "Mul"),
        ("d", "Add"),
        ("e", "Mul"),
        ("b", None),
        ("c", None),
        ("a", None),
    ]
    L, _, e = t.steps[:3]
    assert L.upstream == 1.0 and L.inputs == ("d", "a")
    assert [(g.arg, g.name, float(g.grad)) for g in L.sent] == [(0, "d", 2.0), (1, "a", 4.0)]
    assert [(g.name, float(g.grad)) for g in e.sent] == [("a", -6.0), ("b", 4.0)]
    a_step = t.steps[-1]
    assert a_step.is_leaf and a_step.sent == () and float(a_step.upstream) == -2.0
    assert a_step.upstream == ex.tensors["a"].grad
    assert e.describe() == "e = Mul(a, b): dL/de arrives, sends dL/da, dL/db"
    assert a_step.describe() == "a is a leaf: dL/da is added to a.grad"
    assert "d out/da = b" in e.local_derivative()


def test_recorded_gradients_are_copies_and_match_autograd():
    ex = tiny_mlp(sizes=(3, 4, 2), seed=1)
    with trace() as t:
        ex.loss.backward()
    for s in t.steps:
        if s.is_leaf:
            np.testing.assert_array_equal(s.upstream, s.node.grad)
            assert s.upstream is not s.node.grad
        assert s.upstream.shape == s.node.shape
        for g in s.sent:
            assert g.grad.shape == g.tensor.shape
    # every gradient sent to a tensor sums to the upstream of that tensor's own step
    by_node = {id(s.node): s for s in t.steps}
    received: dict[int, np.ndarray] = {}
    for s in t.steps:
        for g in s.sent:
            received[id(g.tensor)] = received.get(id(g.tensor), 0) + g.grad
    for key, total in received.items():
        np.testing.assert_allclose(total, by_node[key].upstream)


def test_a_plus_a_sends_two_gradients_to_the_same_tensor():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    with trace() as t:
        (a + a).sum().backward()
    add = t.steps[1]
    assert [(g.arg, g.name) for g in add.sent] == [(0, "a"), (1, "a")]
    np.testing.assert_array_equal(t.steps[-1].upstream, [2.0, 2.0])


def test_inputs_that_need_no_gradient_are_skipped_with_their_argument_index():
    ex = neuron()  # x does not require grad: the MatMul sends only to W^T (argument 1)
    with trace() as t:
        ex.loss.backward()
    matmul = next(s for s in t.steps if s.op == "MatMul")
    assert [(g.arg, g.name) for g in matmul.sent] == [(1, "W^T")]
    assert matmul.inputs == ("x", "W^T")


def test_hook_is_restored_also_after_an_exception():
    assert engine._backward_hook is None
    ex = scalar_expression()
    with pytest.raises(ZeroDivisionError), trace() as t:
        assert engine._backward_hook is not None
        ex.loss.backward()
        1 / 0  # noqa: B018
    assert engine._backward_hook is None
    assert len(t.steps) == 6
    # without a trace, backward records nothing anywhere
    ex2 = scalar_expression()
    ex2.loss.backward()
    assert len(t.steps) == 6


def test_nested_traces_both_record_and_unwind():
    with trace() as outer:
        scalar_expression().loss.backward()
        outer_hook = engine._backward_hook
        with trace() as inner:
            neuron().loss.backward()
        assert engine._backward_hook is outer_hook
        scalar_expression().loss.backward()
    assert engine._backward_hook is None
    assert len(inner.steps) == 9
    assert len(outer.steps) == 6 + 9 + 6
    assert [s.backward_pass for s in outer.steps[::6]][:2] == [0, 1]
    assert outer.steps[-1].backward_pass == 2


def test_out_of_order_exit_leaves_no_hook_behind():
    outer, inner = trace(), trace()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # wrong order: inner still installed
    scalar_expression().loss.backward()
    assert len(inner.steps) == 6 and len(outer.steps) == 0
    inner.__exit__(None, None, None)
    assert engine._backward_hook is outer._installed  # only forwards, records nothing
    scalar_expression().loss.backward()
    assert len(outer.steps) == 0
    engine._backward_hook = None


def test_a_trace_cannot_be_entered_twice():
    t = trace()
    with t:
        pass
    with pytest.raises(RuntimeError, match="already entered"), t:
        pass
    assert engine._backward_hook is None


def test_table_lists_every_step():
    ex = tiny_mlp()
    with trace() as t:
        ex.loss.backward()
    text = str(t)
    lines = text.splitlines()
    assert lines[0] == "backward trace: 12 steps"
    assert lines[1].split() == [
        "step",
        "tensor",
        "op",
        "upstream",
        "dL/d(tensor)",
        "sends",
        "dL/d(input)",
    ]
    assert re.search(r"^\s+0  loss \(\)\s+CrossEntropy\s+1\s+0: z2 \(1, 2\) \[\[", text, re.M)
    assert re.search(r"^\s+\d+  W1 \(3, 2\)\s+leaf .* -> W1\.grad$", text, re.M)
    assert repr(t) == "<Trace: 12 steps in 1 backward pass(es)>"
    assert t.name_of(ex.tensors["h"]) == "h"
    big = Trace()
    with big:
        (Tensor(np.arange(10.0), requires_grad=True, name="v") * 2.0).sum().backward()
    assert "mean=2 std=0 min=2 max=2" in big.table()


def test_step_details_say_what_arrives_and_what_is_sent_where():
    ex = scalar_expression()  # L = (a*b + c) * a, a=2, b=-3, c=10
    with trace() as t:
        ex.loss.backward()
    lines = step_details(t.steps[0]).splitlines()
    assert lines[0] == "arrives   dL/dL () = 1"
    assert lines[1].startswith("rule      ") and "d out/da = b" in lines[1]  # Mul's rule
    assert lines[-2:] == [
        "sends     dL/dd () = 2   (argument 0)",
        "          dL/da () = 4   (argument 1)",
    ]
    assert step_details(t.steps[-1]) == "arrives   dL/da () = -2\nleaf      a.grad += dL/da"
    mlp = tiny_mlp()
    with trace() as t:
        mlp.loss.backward()
    matmul = t.steps[5]  # t3 = MatMul(x, W1^T) sends a (2, 3) gradient to W1^T
    *_, first, second = step_details(matmul).splitlines()
    assert first.startswith("sends     dL/dW1^T (2, 3) = [[")
    assert second.endswith("]]   (argument 1)")
    assert second.index("[") == first.index("[[") + 1  # the matrix's rows are aligned
    assert "dL/dW1^T (2, 3) = mean=" in step_details(matmul, max_values=2)


def test_frames_highlight_the_current_node_and_show_known_gradients():
    ex = scalar_expression()
    with trace() as t:
        ex.loss.backward()
    frames = t.frames()
    assert len(frames) == len(t.steps) == 6
    # frame 0: at L (t5), its op highlighted; d received its gradient, a only partly so far
    src = frames[0].source
    assert re.search(r'\bt5 \[label="L  \(\)\\lgrad 1\\l".*color="#d62728"', src)
    assert re.search(r'\bop5 \[.*color="#d62728"', src)
    assert re.search(r'\bt0 \[label="a  \(\)\\lgrad so far 4\\l".*color="#ff7f0e"', src)
    assert "step 0 of 5: L = Mul(d, a)" in src
    # after the Mul a*b, a's two contributions are in: 4 + (-6) = -2, no longer partial
    assert re.search(r't0 \[label="a  \(\)\\lgrad -2\\l"', frames[2].source)
    assert "grad so far" not in frames[-1].source
    assert "step " not in t.frames(titles=False)[0].source


def test_model_parameters_are_named_in_the_trace():
    model = nn.MLP([3, 2, 2], seed=0)
    loss = nn.cross_entropy(model(Tensor(np.ones((1, 3), np.float32))), np.array([1]))
    with trace(model=model) as t:
        loss.backward()
    names = [s.name for s in t.steps if s.is_leaf]
    assert set(names) == {"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"}
    assert "cluster" in t.frames()[0].source


def test_repeated_backward_on_one_graph_gives_separate_passes():
    ex = scalar_expression()
    with trace() as t:
        ex.loss.backward(retain_graph=True)
        ex.loss.backward()
    assert len(t.steps) == 12
    assert [s.backward_pass for s in t.steps] == [0] * 6 + [1] * 6
    assert t.steps[6].name == "L" and float(ex.tensors["a"].grad) == -4.0
    frames = t.frames()
    assert len(frames) == 12 and "grad so far" in frames[6].source  # grads restart per pass
