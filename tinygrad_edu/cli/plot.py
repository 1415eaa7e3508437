"""``tinygrad-edu plot RUN_DIR``: a run's figures from its folder: the curves from
``metrics.jsonl`` (also while the run trains, or after it was killed), and once it has saved
``model.npz`` the model's figures (this loads the run's data)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import nn
from ..data import Dataset, DatasetError, DownloadError
from ..training import METRICS_FILE, MODEL_FILE, History, MetricsLogError, read_metrics
from .errors import CLIError, one_line
from .figures import FIGURES, add_x_axis_argument, save_figures
from .options import PROG, add_data_arguments
from .rundata import check_fits, check_model_fits, dataset_to_load, load_model, load_run_data
from .settings import check_settings, with_old_run_defaults

__all__ = ["add_plot_command", "run_plot"]


def add_plot_command(subparsers: Any) -> None:
    """Add ``plot``."""
    p = subparsers.add_parser(
        "plot",
        help="draw a run's curves (also while it trains) and, once saved, its model's figures",
        description="Read RUN_DIR/metrics.jsonl (of a finished, running or killed run) and save "
        f"the loss and accuracy curves as {FIGURES['curves']}; if RUN_DIR holds model.npz, also "
        "the confusion matrix, misclassified test digits, first-layer weights and sample "
        "digits (this loads the run's data).",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a folder written by `train`")
    p.add_argument("--out", type=Path, help="folder for the PNG files (default RUN_DIR/plots)")
    p.add_argument(
        "--curves-only", action="store_true", help="only the curves (no model, no data needed)"
    )
    p.add_argument("--log-loss", action="store_true", help="draw the loss on a log scale")
    add_x_axis_argument(p)
    add_data_arguments(p)
    p.set_defaults(func=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    """Handler of ``plot``: the history from the log, then the model and its data if saved."""
    log_path = _metrics_log(args.run_dir)
    records = read_metrics(log_path)
    try:
        history = History.from_metrics(records)
    except MetricsLogError as e:
        raise CLIError(f"{log_path}: {one_line(e)}") from None
    if not history.test_iterations and not history.iterations:
        raise CLIError(f"{log_path} has no evaluations or epochs yet: nothing to plot")
    settings = _train_settings(records)
    if settings:
        settings = with_old_run_defaults(settings)  # an older run lacks the newer settings
        check_settings(settings, f"{log_path}: the run's settings")
    model = train = test = None
    model_path = log_path.parent / MODEL_FILE
    if model_path.exists() and not args.curves_only:
        model, train, test = _model_and_data(args, model_path, settings)
    folder = args.out or log_path.parent / "plots"
    save_figures(folder, history, settings, model, train, test, args.log_loss, args.x_axis)
    return 0


def _metrics_log(run_dir: Path) -> Path:
    """The run's metrics log (``run_dir`` may also name the log itself)."""
    if not run_dir.exists():
        raise CLIError(f"{run_dir}: no such run folder")
    log_path = run_dir / METRICS_FILE if run_dir.is_dir() else run_dir
    if not log_path.exists():
        raise CLIError(
            f"{run_dir} has no {METRICS_FILE} (a folder written by `{PROG} train --out`?)"
        )
    return log_path


def _train_settings(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``train`` command's settings, as the run was last (re)started ({} for a run that
    ``fit`` wrote)."""
    settings: dict[str, Any] = {}
    for r in records:
        info = r.get("info") if r.get("event") in ("config", "resume") else None
        if isinstance(info, dict) and isinstance(info.get("settings"), dict):
            settings = dict(info["settings"])
    return settings


def _model_and_data(
    args: argparse.Namespace, model_path: Path, settings: dict[str, Any]
) -> tuple[nn.Module, Dataset, Dataset]:
    """The saved model and the data it was trained on (``--dataset``/``--data-dir`` override
    where from)."""
    model, meta = load_model(model_path)
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    data_dir = settings.get("data_dir", config.get("data_dir"))
    where = {
        "dataset": dataset_to_load(args.dataset, settings.get("dataset"), meta.get("dataset")),
        "data_dir": str(args.data_dir.resolve()) if args.data_dir else data_dir,
        "train_size": settings.get("train_size", config.get("train_size")),
        "test_size": settings.get("test_size", config.get("test_size")),
        "digit": settings.get("digit", config.get("digit")),
    }
    check_settings(
        where,
        f"{model_path}: the run's settings",
        ("data_dir", "train_size", "test_size", "digit"),
    )
    try:
        train, test, _ = load_run_data(where, args.offline)
    except (CLIError, DatasetError, DownloadError) as e:
        raise CLIError(f"{one_line(e)} (to draw only the curves, pass --curves-only)") from None
    check_fits(meta.get("sizes"), test)
    check_model_fits(model, test)
    return model, train, test
