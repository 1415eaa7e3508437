"""Parameter and Module: parameter discovery, names, modes, state dicts."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import ShapeError, Tensor, nn
from tinygrad_edu.nn.init import aligned_empty, aligned_zeros, is_aligned


class Pair(nn.Module):
    def __init__(self) -> None:
        self.first = nn.Linear(3, 4, seed=0)
        self.blocks = [nn.Linear(4, 4, seed=1), (nn.ReLU(), nn.Linear(4, 2, seed=2))]
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.not_a_param = Tensor(np.zeros(3))  # a plain tensor is not a parameter
        self.table = {"extra": nn.Parameter(np.zeros((1,), dtype=np.float32))}

    def forward(self, x):
        x = self.first(x)
        x = self.blocks[0](x)
        act, last = self.blocks[1]
        return last(act(x)) * self.scale


def test_parameter_is_an_aligned_tensor_copy() -> None:
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    p = nn.Parameter(data)
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert p.dtype == np.float32 and is_aligned(p.data) and p.data.flags.c_contiguous
    data[0, 0] = 100  # the parameter does not alias the caller's array
    assert p.data[0, 0] == 0
    assert nn.Parameter(np.zeros(3)).dtype == np.float64  # numpy float64 is kept (gradchecks)
    assert nn.Parameter([1, 2]).dtype == np.float32
    assert repr(nn.Parameter([1.0])).startswith("Parameter(")
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.arange(3))


def test_aligned_allocation() -> None:
    for shape in [(7,), (64, 784), (3, 5, 2), ()]:
        for dtype in (np.float32, np.float64):
            a = aligned_empty(shape, dtype)
            assert a.shape == shape and a.dtype == dtype and is_aligned(a) and a.flags.c_contiguous
    assert not aligned_zeros((5, 3)).any()


def test_named_parameters_walk_attributes_lists_tuples_and_dicts_in_order() -> None:
    m = Pair()
    names = [n for n, _ in m.named_parameters()]
    assert names == [
        "first.weight",
        "first.bias",
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.1.weight",
        "blocks.1.1.bias",
        "scale",
        "table.extra",
    ]
    assert [id(p) for p in m.parameters()] == [id(p) for _, p in m.named_parameters()]
    assert m.num_parameters() == 3 * 4 + 4 + 16 + 4 + 8 + 2 + 2 + 1
    assert [n for n, _ in m.named_modules()] == [
        "",
        "first",
        "blocks.0",
        "blocks.1.0",
        "blocks.1.1",
    ]


def test_shared_parameters_and_modules_are_listed_once() -> None:
    lin = nn.Linear(2, 2, seed=0)
    seq = nn.Sequential(lin, nn.Sigmoid(), lin)
    assert [n for n, _ in seq.named_parameters()] == ["layers.0.weight", "layers.0.bias"]
    assert len(list(seq.modules())) == 3  # the Sequential, the Linear, the Sigmoid


def test_zero_grad_and_call_forward() -> None:
    m = Pair()
    out = m(np.ones((5, 3), dtype=np.float32))
    assert out.shape == (5, 2)
    out.sum().backward()
    assert all(p.grad is not None for n, p in m.named_parameters() if n != "table.extra")
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)


def test_train_eval_propagate_to_children() -> None:
    m = nn.MLP([4, 3, 2], dropout=0.5, seed=0)
    assert m.training and all(c.training for c in m.modules())
    assert m.eval() is m
    assert not any(c.training for c in m.modules())
    m.train()
    assert all(c.training for c in m.modules())


def test_state_dict_round_trip_keeps_arrays_in_place() -> None:
    a, b = nn.MLP([4, 3, 2], seed=0), nn.MLP([4, 3, 2], seed=1)
    state = a.state_dict()
    assert list(state) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    state["layers.0.bias"][:] = 7  # a copy: the model is not changed
    assert not a.layers[0].bias.data.any()
    arrays_before = [p.data for p in b.parameters()]
    b.load_state_dict(a.state_dict())
    for (name, pa), pb, before in zip(
        a.named_parameters(), b.parameters(), arrays_before, strict=True
    ):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=name)
        assert pb.data is before and is_aligned(pb.data)  # updated in place


def test_load_state_dict_errors_name_the_key() -> None:
    m = nn.MLP([4, 3, 2], seed=0)
    state = m.state_dict()
    missing = dict(state)
    del missing["layers.2.weight"]
    with pytest.raises(nn.StateDictError, match=r"missing key 'layers.2.weight'"):
        m.load_state_dict(missing)
    with pytest.raises(KeyError):  # also a KeyError (and a ValueError)
        m.load_state_dict(missing)
    extra = {**state, "layers.9.weight": np.zeros(1)}
    with pytest.raises(nn.StateDictError, match=r"unexpected key 'layers.9.weight'"):
        m.load_state_dict(extra)
    m.load_state_dict(extra, strict=False)
    wrong = {**state, "layers.0.weight": np.zeros((3, 5), np.float32)}
    before = m.layers[2].weight.data.copy()
    wrong["layers.2.weight"] = before + 1
    with pytest.raises(ShapeError, match=r"'layers.0.weight' has shape \(3, 5\) .* \(3, 4\)"):
        m.load_state_dict(wrong)
    np.testing.assert_array_equal(m.layers[2].weight.data, before)  # nothing was loaded
    with pytest.raises(nn.StateDictError, match="non-numeric"):
        m.load_state_dict({**state, "layers.0.bias": np.array(["a", "b", "c"])})
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([1, 2])  # type: ignore[arg-type]
    assert str(nn.StateDictError("plain message")) == "plain message"


def test_repr_shows_the_tree() -> None:
    text = repr(nn.MLP([784, 64, 10], seed=0))
    assert text.splitlines()[0] == "MLP(784-64-10, activation='sigmoid'"
    assert "(layers.0): Linear(in_features=784, out_features=64, bias=True)" in text
    assert "(layers.1): Sigmoid()" in text
