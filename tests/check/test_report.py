"""The reports' plots can be read: expected and got share one colour scale, the difference is on a
diverging map centred on 0, and the ticks are integer indices (CheckReport and BackpropReport
draw with the same comparison_figure)."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pytest
from backprop_mutants import INPUTS, by_hand, forward

from tinygrad_edu.check import check_backprop, check_vjp
from tinygrad_edu.check.report import DIFFERENCE_CMAP, comparison_figure

matplotlib.use("Agg")
DIVERGING = {"RdBu", "RdBu_r", "coolwarm", "bwr", "seismic", "PuOr", "PiYG", "BrBG", "RdGy"}


def panels(fig: Any) -> dict[str, Any]:
    """The image of each titled panel, by the end of its title (expected, got, got - expected)."""
    return {ax.get_title().split(": ", 1)[1]: ax for ax in fig.axes if ax.get_title()}


def assert_readable(fig: Any) -> None:
    axes = panels(fig)
    assert list(axes) == ["expected", "got", "got - expected"]
    (expected,), (got,), (diff,) = (axes[k].get_images() for k in axes)
    assert expected.get_clim() == got.get_clim(), "expected and got share one scale"
    values = np.concatenate([expected.get_array().ravel(), got.get_array().ravel()])
    assert got.get_clim() == (pytest.approx(values.min()), pytest.approx(values.max()))
    low, high = diff.get_clim()
    assert low == -high and high >= np.abs(diff.get_array()).max(), "centred on 0"
    assert diff.get_cmap().name in DIVERGING
    for ax in axes.values():
        for ticks, labels in ((ax.get_xticks(), ax.get_xticklabels()),
                              (ax.get_yticks(), ax.get_yticklabels())):  # fmt: skip
            assert len(ticks) > 0 and all(float(t).is_integer() and t >= 0 for t in ticks)
            assert [lab.get_text() for lab in labels] == [str(int(t)) for t in ticks]


def test_check_report_plot_is_readable() -> None:
    report = check_vjp(lambda g, z: -2 * g * z, lambda z: z * z, {"z": (3, 4)}, seed=0)
    assert report.diagnosis.kind == "sign_flipped"
    assert_readable(report.plot())


def test_check_report_plot_of_a_1d_gradient() -> None:
    report = check_vjp(lambda g, z: 3 * g, lambda z: z * 1.0, {"z": (5,)}, seed=0)
    fig = report.plot()
    assert_readable(fig)
    assert [t.get_text() for t in panels(fig)["got"].get_yticklabels()] == ["0"]


def test_backprop_report_plot_is_readable_and_ticks_stay_few_on_big_gradients() -> None:
    report = check_backprop(by_hand({"z2": lambda v: v["p"] - v["Y"]}), forward, INPUTS)
    assert_readable(report.plot())
    assert_readable(report.plot("X"))
    big = comparison_figure("W", np.arange(64.0).reshape(2, 32), np.zeros((2, 32)), "")
    assert_readable(big)
    assert len(panels(big)["got"].get_xticks()) <= 9


def test_a_constant_gradient_still_has_a_scale() -> None:
    fig = comparison_figure("b", np.ones(3), np.ones(3), "right")
    images = [panels(fig)[k].get_images()[0] for k in ("expected", "got - expected")]
    assert images[0].get_clim()[0] < 1 < images[0].get_clim()[1]
    assert images[1].get_clim() == (-1.0, 1.0) and DIFFERENCE_CMAP in DIVERGING
