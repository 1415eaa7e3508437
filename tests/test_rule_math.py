"""rule_math: each function gives numpy's values on arrays and, on Tensors, a Tensor with the
same values whose graph differentiates correctly."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, rule_math
from tinygrad_edu.gradcheck import gradcheck

#: name -> (numpy's function, the strategy of valid inputs)
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable]] = {
    "exp": (np.exp, S.arrays),
    "log": (np.log, S.positive),
    "sqrt": (np.sqrt, S.positive),
    "tanh": (np.tanh, S.arrays),
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), S.arrays),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
@given(data=st.data())
def test_arrays_give_numpys_values_and_tensors_a_differentiable_tensor(
    name: str, data: st.DataObject
) -> None:
    reference, strategy = FUNCTIONS[name]
    x = data.draw(strategy(S.shapes(max_dims=2)))
    f = getattr(rule_math, name)
    on_array = f(x)
    assert isinstance(on_array, np.ndarray | np.generic)  # numpy: a scalar for a 0-d array
    np.testing.assert_allclose(on_array, reference(x), rtol=1e-12)
    on_tensor = f(Tensor(x))
    assert isinstance(on_tensor, Tensor)
    np.testing.assert_allclose(on_tensor.data, reference(x), rtol=1e-12)
    assert gradcheck(f, [x])


def test_numbers_and_numpy_scalars_take_the_array_path() -> None:
    assert not rule_math.is_tensor(2.0) and not rule_math.is_tensor(np.float32(2.0))
    assert rule_math.is_tensor(Tensor(2.0))
    assert rule_math.sigmoid(0) == 0.5 and rule_math.exp(np.float64(0.0)) == 1.0


def test_sign_and_values_are_constants() -> None:
    x = Tensor(np.array([-2.0, 0.0, 3.0]), requires_grad=True)
    sign = rule_math.sign(x)
    assert isinstance(sign, np.ndarray) and sign.tolist() == [-1.0, 0.0, 1.0]
    assert rule_math.values(x) is x.data and rule_math.values(x.data) is x.data
