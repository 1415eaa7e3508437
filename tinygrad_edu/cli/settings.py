"""The settings of ``train``, in one table: :data:`SETTINGS`, a row per option.

Each row says what the option takes (its argparse type and the check of a kept value), its
default for a fresh run and what runs from before it existed did, the models it applies to,
whether a resumed run must keep it, whether ``sweep`` takes it for its base, and how a summary
writes it. Everything else is derived from the table: ``train``'s and ``sweep``'s arguments
(:func:`add_arguments`), a fresh run's settings (:func:`fresh_settings`), the resume check
(:func:`check_resumed`), the check of settings read back from a file (:func:`check_settings`,
:func:`with_old_run_defaults`), the settings a run folder and a model file keep
(:func:`config_entries`, :func:`settings_from_config`), and the text of ``summary``, the
curves' titles and ``train``'s first line (:func:`training_text`, :func:`data_text`,
:func:`command_line`).

Adding a flag is one row, plus its use where the run is built (``network.py``)::

    Setting("label_smoothing", "mix each one-hot target with the uniform one", 0.0,
            number(0, 1, high_open=True, metavar="E"), old_runs=0.0, sweep=True,
            shown=lambda v: f", label smoothing {v:g}" if v else "")
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import nn, optim
from ..data import DATASETS
from ..engine.errors import in_interval, integer_text, is_integer, is_real, number_text
from ..nn.init import INITS
from ..training.files import brief
from ..training.history import plural
from .errors import CLIError
from .network import DEFAULT_ARCH, MODEL_LR, MODELS, parse_arch
from .options import PROG, add_data_arguments, int_between, number_between

__all__ = [
    "ALWAYS",
    "KEEP",
    "MAY_MOVE",
    "MAY_RAISE",
    "SETTINGS",
    "USES_MOMENTUM",
    "Kind",
    "Setting",
    "add_arguments",
    "add_setting_arguments",
    "check_resumed",
    "check_settings",
    "choice",
    "command_line",
    "config_entries",
    "data_text",
    "fresh_settings",
    "given_settings",
    "integer",
    "number",
    "refuse_unneeded",
    "settings_from_config",
    "training_text",
    "with_old_run_defaults",
]

#: What a resumed run may do with a setting: keep it (a different value is refused), raise it
#: (``--epochs``), or move it (``--data-dir``: the data's new place).
KEEP, MAY_RAISE, MAY_MOVE = "keep", "may be raised", "may move"
#: ``old_runs`` of a setting every run has had.
ALWAYS = "always"


@dataclass(frozen=True)
class Kind:
    """What a setting's values are: argparse's keywords (``type``, ``choices``, ``action``,
    ``metavar``), the check of a value kept in a file, and what it expects, in words."""

    argument: Mapping[str, Any]
    check: Callable[[Any], bool]
    expected: str


def integer(lowest: int, highest: int | None = None, metavar: str | None = None) -> Kind:
    """Whole numbers from ``lowest`` (to ``highest``)."""
    return Kind(
        {"type": int_between(lowest, highest), "metavar": metavar},
        lambda v: is_integer(v) and v >= lowest and (highest is None or v <= highest),
        integer_text(lowest, highest),
    )


def number(
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    metavar: str | None = None,
) -> Kind:
    """Finite numbers in the interval from ``low`` to ``high`` (``*_open``: the end excluded)."""
    return Kind(
        {"type": number_between(low, high, low_open, high_open), "metavar": metavar},
        lambda v: is_real(v) and in_interval(float(v), low, high, low_open, high_open),
        number_text(low, high, low_open, high_open),
    )


def choice(names: Iterable[str], kept: Iterable[str] | None = None) -> Kind:
    """One of ``names`` on the command line; one of ``kept`` (default the same) in a file."""
    names, kept = list(names), sorted(set(kept)) if kept is not None else list(names)
    return Kind({"choices": names}, lambda v: v in kept, f"one of {', '.join(kept)}")


FLAG = Kind({"action": "store_true"}, lambda v: isinstance(v, bool), "true or false")
FOLDER = Kind({}, lambda v: isinstance(v, str), "a folder's path")
WIDTHS = Kind(
    {},
    lambda v: isinstance(v, list) and len(v) >= 2 and all(is_integer(n) and n > 0 for n in v),
    "a list of at least two positive widths",
)


@dataclass(frozen=True)
class Setting:
    """One setting of ``train``: the option ``--<key with dashes>``.

    ``default``: a fresh run's value, or a function of the settings before it in the table;
    ``old_runs``: the value of a run from before the setting existed (:data:`ALWAYS`: every run
    has it); ``models``: the models it applies to (for the others it holds
    ``for_other_models`` and may not be given); ``needs``: (setting, values) it goes with (else
    it holds None); ``resume``: :data:`KEEP`, :data:`MAY_RAISE` or :data:`MAY_MOVE`; ``sweep``:
    ``sweep`` takes it for its base; ``shown``: its words in a summary (a function of the value,
    "" to leave it out); ``parse``: the value given -> the setting (with the settings before
    it); ``data_option``: argparse gets it with ``--dataset``/``--data-dir``/``--offline``."""

    key: str
    help: str
    default: Any
    kind: Kind
    old_runs: Any = ALWAYS
    models: tuple[str, ...] = MODELS
    for_other_models: Any = None
    needs: tuple[str, tuple[str, ...]] | None = None
    resume: str = KEEP
    sweep: bool = False
    shown: Callable[[Any], str] | None = None
    parse: Callable[[Any, Mapping[str, Any]], Any] | None = None
    default_text: str = ""
    data_option: bool = False

    @property
    def option(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def nullable(self) -> bool:
        """Whether a run may hold None for it (a model or setting it does not go with)."""
        optional = self.models != MODELS or self.needs is not None or self.default is None
        return optional or self.old_runs is None

    def default_for(self, settings: Mapping[str, Any]) -> Any:
        return self.default(settings) if callable(self.default) else self.default

    def value(self, given: Any, settings: Mapping[str, Any]) -> Any:
        """The setting for what was given on the command line."""
        return given if self.parse is None else self.parse(given, settings)


def _outputs(settings: Mapping[str, Any]) -> int:
    return 1 if settings.get("digit") is not None else 10


def _lr_text() -> str:
    mlp = ", ".join(f"{name} {lr:g}" for name, lr in MODEL_LR["mlp"].items())
    cnn = ", ".join(f"{name} {lr:g}" for name, lr in MODEL_LR["cnn"].items())
    return f"per optimiser: {mlp}; for the cnn: {cnn}"


USES_MOMENTUM = ("momentum", "nesterov")

#: ``train``'s settings, in the order a fresh run fills them in (a default may use the ones
#: above it) and its summary writes them.
SETTINGS: tuple[Setting, ...] = (
    Setting("dataset", "the dataset", "mnist", choice(DATASETS), sweep=True, data_option=True),
    Setting(
        "data_dir",
        "the dataset's folder",
        None,
        FOLDER,
        resume=MAY_MOVE,
        sweep=True,
        parse=lambda v, s: str(Path(v).resolve()),
        data_option=True,
    ),
    *(
        Setting(
            f"{split}_size",
            f"{split} on the first N {images} images only",
            None,
            integer(1, metavar="N"),
            sweep=True,
            shown=lambda v, images=images: f", first {v} {images} images" if v else "",
            default_text="all",
        )
        for split, images in (("train", "training"), ("test", "test"))
    ),
    Setting(
        "model",
        "mlp (its layers from --arch) or cnn (the course's small CNN: conv 5x5 32, pool, conv "
        "5x5 64, pool, linear 128, linear 10; ReLU)",
        "mlp",
        choice(MODELS),
        old_runs="mlp",
    ),
    Setting(
        "digit",
        "one-vs-rest: tell digit K from all others, with one sigmoid output and binary "
        "cross-entropy (--arch 784,1 is handout 004's single neuron)",
        None,
        integer(0, 9, metavar="K"),
        old_runs=None,
    ),
    Setting(
        "arch",
        "MLP layer widths (with --digit ...,1)",
        lambda s: parse_arch(DEFAULT_ARCH, n_out=_outputs(s)),
        WIDTHS,
        models=("mlp",),
        parse=lambda v, s: parse_arch(v, n_out=_outputs(s)),
        default_text=DEFAULT_ARCH,
    ),
    Setting(
        "activation",
        "MLP hidden-layer activation",
        "sigmoid",
        choice(nn.ACTIVATIONS),
        models=("mlp",),
        for_other_models="relu",
        sweep=True,
    ),
    Setting(
        "dropout",
        "drop each hidden unit with probability P while training",
        0.0,
        number(0, 1, high_open=True, metavar="P"),
        old_runs=0.0,
        sweep=True,
        default_text="0: no dropout",
    ),
    Setting(
        "optimizer",
        "sgd, momentum (SGD with momentum, --momentum), nesterov (Nesterov momentum) or adam",
        "momentum",
        choice(optim.OPTIMIZERS),
        sweep=True,
        shown=str,
    ),
    Setting(
        "lr",
        "learning rate",
        lambda s: MODEL_LR[s["model"]][s["optimizer"]],
        number(0, low_open=True),
        sweep=True,
        shown=lambda v: f" lr {v:g}",
        default_text=_lr_text(),
    ),
    Setting(
        "momentum",
        "momentum of --optimizer momentum or nesterov",
        optim.MOMENTUM,
        number(0, 1, high_open=True, metavar="M"),
        old_runs=None,
        needs=("optimizer", USES_MOMENTUM),
        sweep=True,
        shown=lambda v: f" (momentum {v:g})" if v is not None else "",
    ),
    Setting(
        "lr_decay",
        "multiply the learning rate by F after every epoch",
        1.0,
        number(0, 1, low_open=True, metavar="F"),
        old_runs=1.0,
        sweep=True,
        shown=lambda v: f" x{v:g}/epoch" if v != 1 else "",
        default_text="1: constant",
    ),
    Setting(
        "weight_decay",
        "L2 penalty: add W * w to every weight's gradient",
        0.0,
        number(0, metavar="W"),
        old_runs=0.0,
        sweep=True,
        shown=lambda v: f", weight decay {v:g}" if v else "",
    ),
    Setting(
        "batch_size",
        "minibatch size",
        256,
        integer(1),
        sweep=True,
        shown=lambda v: f", batch {v}",
    ),
    Setting(
        "epochs",
        "epochs to train",
        20,
        integer(1),
        resume=MAY_RAISE,
        sweep=True,
        shown=lambda v: f", {plural(v, 'epoch')}",
        default_text="20; with --resume: the run's, and it may be raised",
    ),
    Setting(
        "seed",
        "weights, batch order, dropout and augmentation",
        0,
        integer(0),
        sweep=True,
        shown=lambda v: f", seed {v}",
    ),
    Setting(
        "augment",
        "shift each training image by up to 2 pixels and turn it by up to 10 degrees, at "
        "random, anew every epoch",
        False,
        FLAG,
        old_runs=False,
        sweep=True,
        shown=lambda v: ", augmented" if v else "",
    ),
    Setting(
        "init",
        "MLP weight init (normal: N(0, S^2), S from --init-std)",
        "normal",
        choice(INITS, kept=INITS.values()),
        models=("mlp",),
        sweep=True,
        shown=lambda v: f", init {v}" if v else "",
        parse=lambda v, s: INITS[v],
    ),
    Setting(
        "init_std",
        "standard deviation of --init normal's weights (handout 001 uses 0.01)",
        0.1,
        number(0, low_open=True, metavar="S"),
        old_runs=0.1,
        models=("mlp",),
        needs=("init", ("normal",)),
        sweep=True,
        shown=lambda v: f" (std {v:g})" if v is not None else "",
    ),
    Setting(
        "eval_every",
        "also evaluate on the test set every k updates",
        0,
        integer(0, metavar="K"),
        default_text="0: at epoch ends only",
    ),
    Setting(
        "threads",
        "threads per training step: BLAS on one and the engine's pool of N (every N trains "
        "to the same numbers)",
        None,
        integer(1, metavar="N"),
        old_runs=None,
        resume=MAY_MOVE,
        sweep=True,
        shown=lambda v: f", {plural(v, 'thread')}" if v else ", threads chosen by timing",
        default_text="chosen by timing the steps, and again as the machine gets busier",
    ),
)
BY_KEY = {row.key: row for row in SETTINGS}


# ----------------------------------------------------------------------------- arguments
def add_arguments(
    parser: argparse.ArgumentParser,
    command: str = "train",
    defaults: Mapping[str, str] | None = None,
    data_default: str = "mnist",
) -> None:
    """Add the table's options to ``parser``: every row for ``train``, the rows ``sweep`` takes
    for ``sweep``. Each defaults to None (not given); ``defaults`` overrides the default a help
    names; ``data_default`` is what the help says a missing ``--dataset`` means."""
    add_data_arguments(parser, default_text=data_default)
    for row in SETTINGS:
        if row.data_option or (command == "sweep" and not row.sweep):
            continue
        _add_row(parser, row, (defaults or {}).get(row.key))


def add_setting_arguments(
    parser: argparse.ArgumentParser, keys: Iterable[str], defaults: Mapping[str, str]
) -> None:
    """Add the options of the rows ``keys`` (not the data options) to the parser of a command
    with settings of its own (``overfit``): each defaults to None (not given), and its help
    names ``defaults[key]``, the command's own default."""
    for key in keys:
        row = BY_KEY[key]
        if row.data_option:
            raise ValueError(f"add_setting_arguments: {key} comes with add_data_arguments")
        _add_row(parser, row, defaults.get(key))


def _add_row(parser: argparse.ArgumentParser, row: Setting, said: str | None) -> None:
    """The row's option, default None; its help names ``said`` (None: the row's default)."""
    if said is None:
        said = row.default_text or _default_words(row)
    extra = {k: v for k, v in row.kind.argument.items() if v is not None}
    help_text = f"{row.help} (default {said})" if said else row.help
    parser.add_argument(row.option, default=None, help=help_text, **extra)


def _default_words(row: Setting) -> str:
    """A constant default as the help says it ('' for one computed from other settings)."""
    if callable(row.default) or row.kind is FLAG:
        return ""
    if row.default is None:
        return "none"
    return f"{row.default:g}" if is_real(row.default) else str(row.default)


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What the command line gave, by the table's keys (None where not given)."""
    return {row.key: getattr(args, row.key, None) for row in SETTINGS}


# ----------------------------------------------------------------------------- a fresh run
def fresh_settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """A fresh run's settings: each row's given value or its default, in the table's order;
    an option for another model, or without what it ``needs``, is refused."""
    model = given.get("model") or BY_KEY["model"].default
    settings: dict[str, Any] = {}
    elsewhere = []
    for row in SETTINGS:
        value = given.get(row.key)
        if model not in row.models:
            elsewhere += [row.option] if value is not None else []
            settings[row.key] = row.for_other_models
        elif row.needs is not None and settings[row.needs[0]] not in row.needs[1]:
            if value is not None:
                _refuse_unneeded(row, settings[row.needs[0]])
            settings[row.key] = None
        elif value is None:
            settings[row.key] = row.default_for(settings)
        else:
            settings[row.key] = row.value(value, settings)
    if elsewhere:
        others = " or ".join(m for m in MODELS if m != model)
        raise CLIError(
            f"--model {model} has its own layers and initialisation: {', '.join(elsewhere)} "
            f"{'is' if len(elsewhere) == 1 else 'are'} for --model {others}"
        )
    return settings


def _refuse_unneeded(row: Setting, has: Any) -> None:
    key, values = row.needs  # type: ignore[misc]
    raise CLIError(f"{row.option} goes with {BY_KEY[key].option} {' or '.join(values)}, not {has}")


def refuse_unneeded(row_key: str, given: Any, has: Any) -> None:
    """Refuse ``given`` for the setting ``row_key`` when the setting it needs holds ``has``
    (``sweep``'s base: ``--momentum`` with ``--optimizer sgd``)."""
    row = BY_KEY[row_key]
    if given is not None and row.needs is not None and has not in row.needs[1]:
        _refuse_unneeded(row, has)


# ----------------------------------------------------------------------------- resuming
def with_old_run_defaults(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` read from a run, with what runs from before a setting did for the settings
    it lacks."""
    old = {row.key: row.old_runs for row in SETTINGS if row.old_runs is not ALWAYS}
    return {**old, **settings}


def check_settings(settings: Mapping[str, Any], where: str, keys: Iterable[str] = ()) -> None:
    """Each of the settings ``keys`` (default all) is one ``train`` accepts: a checkpoint or a
    log may have been edited. ``where`` starts the message."""
    for key in keys or BY_KEY:
        row, value = BY_KEY[key], settings.get(key)
        if _fits(row, value):
            continue
        expected = row.kind.expected + (" or null" if row.nullable else "")
        shown = brief(value, as_json=True) if key in settings else "nothing"
        raise CLIError(f"{where} has {key} {shown}, expected {expected} (was it edited?)")


def check_resumed(settings: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Every setting a resumed run must keep, if given, is the run's (a CLIError naming the
    option otherwise)."""
    for row in SETTINGS:
        if given.get(row.key) is None or row.resume != KEEP:
            continue
        value = row.value(given[row.key], settings)
        if value != settings.get(row.key):
            raise CLIError(
                f"{row.option} {_typed(row, value)} conflicts with the run's "
                f"{_typed(row, settings.get(row.key))} (a resumed run keeps its settings; only "
                "--epochs may change)"
            )


def _typed(row: Setting, value: Any) -> str:
    """A setting as the user would type it."""
    if value is None:
        return "all images" if row.key.endswith("_size") else "none"
    if row.key == "arch":
        return "-".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


# ----------------------------------------------------------------------------- files
def config_entries(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as a run's ``History.config`` keeps them (in ``history.json`` and the
    model file): the table's keys, the optimiser's name as ``optimizer_name`` (``optimizer`` is
    fit's description of it)."""
    entries = {row.key: settings.get(row.key) for row in SETTINGS}
    entries["optimizer_name"] = entries.pop("optimizer")
    return entries


def settings_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a ``History.config`` of ``train`` holds ({} for a run ``train`` did not
    make), with what older runs did for the ones they lack."""
    if "optimizer_name" not in config:
        return {}
    config = {**config, "optimizer": config["optimizer_name"]}
    kept = {
        row.key: config[row.key]
        for row in SETTINGS
        if row.key in config and (_fits(row, config[row.key]))
    }
    return with_old_run_defaults(kept)


def _fits(row: Setting, value: Any) -> bool:
    """Whether ``value`` is one the setting may hold (what :func:`check_settings` accepts)."""
    return (value is None and row.nullable) or row.kind.check(value)


# ----------------------------------------------------------------------------- text
def training_text(settings: Mapping[str, Any], leave_out: Iterable[str] = ()) -> str:
    """How it was trained, from the rows' words: ``momentum lr 0.05 (momentum 0.9) x0.7/epoch,
    weight decay 0.0001, batch 64, 15 epochs, seed 0, augmented, init normal (std 0.1)``."""
    skip = {"train_size", "test_size", *leave_out}
    words = [
        _shown(row, settings[row.key])
        for row in SETTINGS
        if row.key in settings and row.key not in skip
    ]
    return "".join(words).lstrip(", ")


def data_text(settings: Mapping[str, Any]) -> str:
    """The data trained on: ``mnist``, ``mnist-sample, first 200 training images``."""
    sizes = "".join(_shown(BY_KEY[key], settings.get(key)) for key in ("train_size", "test_size"))
    return f"{settings.get('dataset', '?')}{sizes}"


def _shown(row: Setting, value: Any) -> str:
    return row.shown(value) if row.shown is not None else ""


def command_line(settings: Mapping[str, Any]) -> str:
    """The ``train`` command that trains the same run again: every setting that is not the
    default a fresh run would give it (the data folder left out)."""
    words = [PROG, "train"]
    for row in SETTINGS:
        value = settings.get(row.key)
        if (
            row.resume == MAY_MOVE
            or value is None
            or settings.get("model", "mlp") not in row.models
            or value == row.default_for(settings)
        ):
            continue
        if row.kind is FLAG:
            words.append(row.option)
        else:
            text = ",".join(map(str, value)) if row.key == "arch" else _typed(row, value)
            words += [row.option, text]
    return " ".join(words)
