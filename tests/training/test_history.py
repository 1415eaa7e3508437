"""training/history.py's text: a loss printed with enough significant digits."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from strategies import magnitudes

from tinygrad_edu.training.history import loss_text


@pytest.mark.parametrize(
    ("loss", "text"),
    [
        (2.302585, "2.3026"),
        (0.31214, "0.3121"),
        (0.0123456, "0.01235"),
        (0.00012346, "0.0001235"),  # handout 004's 500-epoch loss printed as 0.0001
        (1.2345e-5, "1.234e-05"),
        (12.5, "12.5000"),
        (0.0, "0.0000"),
        (math.inf, "inf"),
        (math.nan, "nan"),
    ],
)
def test_a_loss_keeps_four_significant_digits(loss: float, text: str) -> None:
    assert loss_text(loss) == text


@given(magnitudes())
def test_a_loss_is_never_printed_as_a_rounded_zero(loss: float) -> None:
    """At least 4 significant digits: the printed value is within 0.05 % of the loss."""
    printed = float(loss_text(loss))
    assert printed > 0
    assert abs(printed - loss) <= 5e-4 * loss


def test_the_epoch_line_and_the_summary_show_a_tiny_loss() -> None:
    """Handout 004's 64-unit network after 500 epochs: losses print 4 digits, not 0.0001."""
    from tinygrad_edu.training import History
    from tinygrad_edu.training.callbacks import epoch_line

    h = History(
        iterations=[0, 1],
        train_loss=[0.00011, 0.00013],
        train_acc=[1.0, 1.0],
        test_iterations=[2],
        test_loss=[0.01713],
        test_acc=[0.9964],
        epoch_times=[0.1],
        epoch_eval_times=[0.01],
        epoch_end_iterations=[2],
    )
    line = epoch_line(h, 500, 500)
    assert "train loss 0.0001200 acc 100.00%  test loss 0.01713 acc  99.64%" in line
    assert "test loss 0.01713 acc 99.64%" in h.summary()
