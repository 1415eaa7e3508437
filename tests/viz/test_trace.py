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
    assert t.steps[3].describe() == "b is a leaf: dL/db is added to b.grad"
    assert a_step.describe() == "a is a leaf: dL/da, the sum of its 2 paths, is added to a.grad"
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
    with trace() as t:
        scalar_expression().loss.backward()
    assert re.search(r"^\s+5  a \(\)\s+leaf\s+4 \+ \(-6\) = -2\s+-> a\.grad$", t.table(), re.M)


def test_step_details_say_what_arrives_and_what_is_sent_where():
    ex = scalar_expression()  # L = (a*b + c) * a, a=2, b=-3, c=10
    with trace() as t:
        ex.loss.backward()
    assert step_details(t.steps[-1]) == (
        "arrives   dL/da = (via L) + (via e) = 4 + (-6) = -2\nleaf      a.grad += dL/da"
    )
    mlp = tiny_mlp()
    with trace() as t:
        mlp.loss.backward()
    matmul = t.steps[5]  # t3 = MatMul(x, W1^T) sends a (2, 3) gradient to W1^T
    *_, first, second = step_details(matmul).splitlines()
    assert first.endswith("= [[-0.04846, 0.07118, -0.02081],")
    assert second.endswith("[-0.02052, 0.03015, -0.008815]]")
    assert second.index("[") == first.index("[[") + 1  # the matrix's rows are aligned
    assert "mean=" in step_details(matmul, max_values=2)


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


def test_each_step_is_the_chain_rule_with_the_tensors_names_and_numbers():
    ex = scalar_expression()  # L = (a*b + c) * a, a=2, b=-3, c=10
    with trace() as t:
        ex.loss.backward()
    assert step_details(t.steps[0]).splitlines() == [
        "arrives   dL/dL = 1",
        "forward   L = d · a = 4 · 2 = 8",
        "sends     dL/dd = dL/dL · a = 1 · 2 = 2",
        "          dL/da = dL/dL · d = 1 · 4 = 4   (path 1 of 2 into a)",
    ]
    assert step_details(t.steps[1]).splitlines()[1:] == [
        "forward   d = e + c = -6 + 10 = 4",
        "sends     dL/de = dL/dd = 2",
        "          dL/dc = dL/dd = 2",
    ]
    assert step_details(t.steps[2]).splitlines()[2:] == [
        "sends     dL/da = dL/de · b = 2 · (-3) = -6   (path 2 of 2 into a)",
        "          dL/db = dL/de · a = 2 · 2 = 4",
    ]
    # where the two paths meet, their sum, each path named by the tensor it came back from
    assert step_details(t.steps[5]).splitlines()[0] == (
        "arrives   dL/da = (via L) + (via e) = 4 + (-6) = -2"
    )
    assert "tangent" not in "\n".join(map(step_details, t.steps))


def test_trace_steps_record_the_paths_that_meet():
    ex = scalar_expression()
    with trace() as t:
        ex.loss.backward()
    a_step = t.steps[5]
    assert [(p.step, p.via, p.arg, float(p.grad)) for p in a_step.arrivals] == [
        (0, "L", 1, 4.0),
        (2, "e", 0, -6.0),
    ]
    assert sum(p.grad for p in a_step.arrivals) == a_step.upstream
    assert [(s.name, s.path, s.paths) for s in t.steps[0].sent] == [("d", 1, 1), ("a", 1, 2)]
    assert [(s.name, s.path, s.paths) for s in t.steps[2].sent] == [("a", 2, 2), ("b", 1, 1)]
    assert t.steps[0].arrivals == () and len(t.steps[1].arrivals) == 1
    frame = t.frames()[5].source  # both edges out of a, in orange: the two paths summed
    assert re.search(r't0 -> op2 \[label=0 color="#ff7f0e".*style=dashed', frame)
    assert re.search(r't0 -> op5 \[label=1 color="#ff7f0e".*style=dashed', frame)
    assert "#ff7f0e" not in re.sub(r".*\[label=.*\\l.*\n", "", t.frames()[0].source)


def test_matrices_are_written_with_their_shapes():
    ex = tiny_mlp()
    with trace() as t:
        ex.loss.backward()
    matmul = step_details(t.steps[2]).splitlines()  # t9 = MatMul(h, W2^T)
    assert matmul[1] == "forward   t9 (1, 2) = h @ W2^T   [(1, 3) @ (3, 2)]"
    assert matmul[2] == "sends     dL/dh (1, 3) = dL/dt9 @ (W2^T)^T   [(1, 2) @ (3, 2)^T]"
    assert matmul[3].strip() == "= [[-0.319, 0.4537, -0.1732]]"
    assert matmul[3].index("=") == matmul[2].index("=")  # the value under the formula
    add = step_details(t.steps[4]).splitlines()  # z1 = Add(t3, b1), b1 broadcast over rows
    assert add[1] == "forward   z1 (1, 3) = t3 + b1, elementwise"
    assert add[4] == "          dL/db1 (3,) = dL/dz1 (1, 3), summed to (3,): b1 was broadcast"
    sigmoid = step_details(t.steps[3]).splitlines()
    assert sigmoid[2] == "sends     dL/dz1 (1, 3) = dL/dh · h · (1 - h), elementwise"


def test_a_sum_of_arrays_is_written_term_by_term():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    h = x * 3.0
    h.name = "h"
    with trace() as t:
        (h * h + h).sum().backward()
    h_step = next(s for s in t.steps if s.name == "h")
    assert step_details(h_step).splitlines()[:3] == [
        "arrives   dL/dh (2,) = (via t4, argument 1) + (via t3, argument 0) + (via t3, argument 1)",
        "                     = [1, 1] + [3, 6] + [3, 6]",
        "                     = [7, 13]",
    ]


def test_an_op_without_a_rule_shows_its_docstring_as_plain_text():
    p = Tensor(np.array([0.2, 0.9]), requires_grad=True, name="p")
    loss = nn.functional.binary_cross_entropy(p, np.array([0.0, 1.0]))
    loss.name = "loss"
    with trace() as t:
        loss.backward()
    lines = step_details(t.steps[0]).splitlines()
    assert lines[1].startswith("rule      l = -(t log p + (1 - t) log(1 - p))")
    assert lines[2] == "          (p = p, g = dL/dloss)"  # the docstring's letters
    assert lines[-1].startswith("sends     dL/dp (2,) = [") and "(argument 0)" in lines[-1]
    assert "tangent" not in "\n".join(lines) and "``" not in "\n".join(lines)
