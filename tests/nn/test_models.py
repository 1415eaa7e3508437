"""The ready-made networks of nn/models.py: the course's small CNN."""

from __future__ import annotations

import numpy as np

from tinygrad_edu import nn
from tinygrad_edu.engine.tensor import Tensor


def test_the_course_cnn_has_its_documented_size_and_shapes() -> None:
    model = nn.build_cnn(seed=0)
    assert sum(p.data.size for p in model.parameters()) == 184_586
    x = Tensor(np.zeros((2, 1, 28, 28), np.float32))
    assert model(x).shape == (2, 10)
    one = nn.build_cnn(channels=(4, 8), hidden=16, outputs=1, dropout=0.5, seed=1)
    assert one(x).shape == (2, 1)
    assert any(isinstance(m, nn.Dropout) for m in one.modules())
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())


def test_one_seed_fixes_every_weight() -> None:
    a, b, c = nn.build_cnn(seed=3), nn.build_cnn(seed=3), nn.build_cnn(seed=4)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert np.array_equal(p.data, q.data)
    assert not np.array_equal(a.parameters()[0].data, c.parameters()[0].data)
