"""The training loop's events and the ready-made callbacks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from toy_digits import blobs

from tinygrad_edu import InputError, nn, optim
from tinygrad_edu.training import (
    Callback,
    EarlyStopping,
    EpochLog,
    EvalEvery,
    LambdaCallback,
    LRDecay,
    ProgressBar,
    StopOnNonFinite,
    TrainingState,
    fit,
)
from tinygrad_edu.training.callbacks import EVENTS

TRAIN, TEST = blobs(100), blobs(40, seed=1)


class Recorder(Callback):
    """Writes down every event with the state's epoch and iteration."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int]] = []

    def __getattribute__(self, name: str) -> Any:
        if name in EVENTS:
            return lambda state: self.events.append((name, state.epoch, state.iteration))
        return super().__getattribute__(name)


def run(callbacks: list[Callback], epochs: int = 2, lr: float = 0.5, test: Any = TEST) -> Any:
    model = nn.MLP([784, 10], seed=0)
    opt = optim.SGD(model.parameters(), lr=lr)
    return fit(model, TRAIN, test, nn.cross_entropy, opt, epochs, 50, seed=0, callbacks=callbacks)


def test_events_come_in_order() -> None:
    rec = Recorder()
    run([rec], epochs=2)  # 2 updates per epoch
    assert rec.events == [
        ("on_train_begin", 0, 0),
        ("on_test_end", 0, 0),
        ("on_epoch_begin", 1, 0),
        ("on_batch_end", 1, 1),
        ("on_batch_end", 1, 2),
        ("on_test_end", 1, 2),
        ("on_epoch_end", 1, 2),
        ("on_epoch_begin", 2, 2),
        ("on_batch_end", 2, 3),
        ("on_batch_end", 2, 4),
        ("on_test_end", 2, 4),
        ("on_epoch_end", 2, 4),
        ("on_train_end", 2, 4),
    ]


def test_callbacks_run_in_the_order_given() -> None:
    order: list[str] = []
    a = LambdaCallback(on_epoch_end=lambda s: order.append("a"))
    b = LambdaCallback(on_epoch_end=lambda s: order.append("b"))
    run([b, a], epochs=1)
    assert order == ["b", "a"]


def test_on_train_end_runs_when_training_fails() -> None:
    class Boom(Callback):
        def on_batch_end(self, state: TrainingState) -> None:
            raise RuntimeError("boom")

    rec = Recorder()
    with pytest.raises(RuntimeError, match="boom"):
        run([Boom(), rec])
    assert rec.events[-1] == ("on_train_end", 1, 1)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_stop_on_non_finite_loss() -> None:
    lines: list[str] = []
    stop = StopOnNonFinite()
    rec = Recorder()

    class Explode(Callback):
        """Make the weights non-finite after the second update."""

        def on_batch_end(self, state: TrainingState) -> None:
            if state.iteration == 2:
                for p in state.model.parameters():
                    p.data[...] = np.inf

    state_seen: list[TrainingState] = []
    keep = LambdaCallback(on_train_end=state_seen.append)
    h = run([Explode(), stop, EpochLog(lines.append), rec, keep], epochs=5, test=None)
    # update 3 (the first with inf weights) gives a NaN loss: stop there, finishing that epoch
    assert h.iterations == [0, 1, 2] and math.isnan(h.train_loss[-1])
    assert h.epoch_end_iterations == [2, 3] and len(lines) == 2
    assert state_seen[0].stop and "loss is nan at update 3 (epoch 2)" in state_seen[0].stop_reason
    assert [e for e in rec.events if e[0] == "on_batch_end"][-1] == ("on_batch_end", 2, 3)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_stop_on_a_non_finite_test_loss() -> None:
    """Before: only minibatch losses were watched, so an epoch whose weights had overflowed to
    inf by its last update, with a NaN test loss, still ended well (and was checkpointed)."""

    class Explode(Callback):
        def on_batch_end(self, state: TrainingState) -> None:
            if state.iteration == 2:  # the last update of epoch 1
                for p in state.model.parameters():
                    p.data[...] = np.inf

    state_seen: list[TrainingState] = []
    h = run([Explode(), StopOnNonFinite(), LambdaCallback(on_train_end=state_seen.append)], 5)
    assert math.isnan(h.test_loss[-1]) and h.epoch_end_iterations == [2]
    assert state_seen[0].failed
    assert "the test loss is nan after update 2 (epoch 1)" in state_seen[0].stop_reason


def test_a_finite_run_does_not_stop() -> None:
    h = run([StopOnNonFinite()], epochs=2)
    assert h.epochs == 2


def test_eval_every_is_recorded_and_validated() -> None:
    h = run([EvalEvery(3)], epochs=2)
    assert h.test_iterations == [0, 2, 3, 4] and h.config["eval_every"] == 3
    assert run([], epochs=1).config["eval_every"] is None
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            EvalEvery(bad)  # type: ignore[arg-type]


def test_evaluate_test_measures_once_per_iteration_and_never_without_test_data() -> None:
    calls: list[int] = []

    class Twice(Callback):
        def on_batch_end(self, state: TrainingState) -> None:
            state.evaluate_test()
            state.evaluate_test()
            calls.append(len(state.history.test_iterations))

    h = run([Twice()], epochs=1)
    assert h.test_iterations == [0, 1, 2] and calls == [2, 3]
    h = run([Twice()], epochs=1, test=None)
    assert h.test_iterations == [] and h.test_loss == []


def test_a_callback_can_stop_training_mid_epoch() -> None:
    def stop_at_3(state: TrainingState) -> None:
        if state.iteration == 3:
            state.stop = True

    h = run([LambdaCallback(on_batch_end=stop_at_3)], epochs=4)
    assert h.iterations == [0, 1, 2] and h.epoch_end_iterations == [2, 3]
    assert h.test_iterations == [0, 2, 3]


def test_progress_bar_and_epoch_log(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    bar = ProgressBar()
    h = run([bar, EpochLog()], epochs=2)
    out, err = capsys.readouterr()
    assert out.count("\n") == 2 and out.startswith("epoch 1/2  train loss")
    assert "epoch 2/2" in err and bar.bar is None  # tqdm writes to stderr; closed at the end
    assert h.epochs == 2


def test_lambda_callback_and_fit_reject_bad_callbacks() -> None:
    with pytest.raises(TypeError, match="unknown events"):
        LambdaCallback(on_epoch_finish=print)
    with pytest.raises(TypeError, match="must be callable"):
        LambdaCallback(on_epoch_end=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callbacks must be Callback objects"):
        run([print])  # type: ignore[list-item]


def test_callback_config_goes_into_the_history() -> None:
    class Tagged(Callback):
        def config(self) -> dict[str, Any]:
            return {"schedule": "step"}

    assert run([Tagged()], epochs=1).config["schedule"] == "step"


def test_lr_decay_multiplies_the_rate_after_every_epoch() -> None:
    rates: list[float] = []
    seen = LambdaCallback(on_epoch_begin=lambda s: rates.append(s.optimizer.lr))
    history = run([seen, LRDecay(0.5)], epochs=3, lr=0.8)
    assert rates == [0.8, 0.4, 0.2] and history.config["lr_decay"] == 0.5
    for bad in (0, 1.5, True):
        with pytest.raises(InputError, match=r"LRDecay: factor must be a number in \(0, 1\]"):
            LRDecay(bad)


# --------------------------------------------------------------------------- why fit stopped
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_fit_returns_why_it_stopped() -> None:
    """Before: the reason lived on the TrainingState only, and the CLI smuggled it out through a
    LambdaCallback; now the returned History says it."""

    class Explode(Callback):
        def on_batch_end(self, state: TrainingState) -> None:
            if state.iteration == 2:
                for p in state.model.parameters():
                    p.data[...] = np.inf

    whole = run([StopOnNonFinite()], epochs=2)
    assert whole.stop_reason == "" and not whole.failed
    diverged = run([Explode(), StopOnNonFinite()], epochs=5, test=None)
    assert diverged.failed and "loss is nan at update 3 (epoch 2)" in diverged.stop_reason
    assert diverged.to_dict()["stop_reason"] == diverged.stop_reason
    again = type(diverged).from_dict(diverged.to_dict())
    assert again == diverged


def test_early_stopping_stops_when_the_test_loss_stops_falling() -> None:
    """A learning rate far too small for 40 epochs never stops; one so large that the test loss
    rises at once stops after ``patience`` evaluations, naming the best loss."""
    calm = run([EarlyStopping(patience=2)], epochs=4, lr=0.5)
    assert calm.epochs == 4 and calm.stop_reason == ""
    stop = EarlyStopping(patience=2)
    wild = run([stop], epochs=40, lr=50.0)
    assert wild.epochs < 40 and not wild.failed
    assert wild.stop_reason.startswith("early stop: the test loss has not improved on")
    assert stop.waited == 2 and stop.best == min(wild.test_loss)
    assert stop.state_dict() == {"best": stop.best, "best_iteration": stop.best_iteration,
                                 "waited": 2}  # fmt: skip
    assert wild.config["early_stopping"] == {"patience": 2, "min_delta": 0.0}
    with pytest.raises(ValueError, match="EarlyStopping: it watches the test loss"):
        run([EarlyStopping()], test=None)
    with pytest.raises(InputError, match="EarlyStopping: patience must be a positive integer"):
        EarlyStopping(patience=0)


def test_lr_decay_keeps_count_of_its_decays() -> None:
    decay = LRDecay(0.5)
    run([decay], epochs=3, lr=0.8)
    assert decay.state_dict() == {"decays": 3}
    later = LRDecay(0.5)
    later.load_state_dict({"decays": 1})
    assert later.decays == 1
    with pytest.raises(InputError, match="LRDecay: decays must be an integer >= 0"):
        later.load_state_dict({"decays": -2})
