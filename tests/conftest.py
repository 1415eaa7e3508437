"""Shared fixtures: the real-MNIST folder beside the repo, hypothesis settings, and the figures a
test draws."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from figure_checks import Drawn, figure_text, overlapping_texts
from hypothesis import HealthCheck, settings
from loopback import closed_port

from tinygrad_edu.data import download

REPO = Path(__file__).resolve().parents[1]
MNIST_24K = Path(
    os.environ.get("TINYGRAD_EDU_MNIST_DIR", REPO.parent / "shared" / "data" / "mnist-24k")
)
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

settings.register_profile(
    "default", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST folder (24k train, official 10k test); skips where it is absent."""
    if not all((MNIST_24K / f).exists() for f in MNIST_FILES):
        pytest.skip(
            f"real MNIST not found at {MNIST_24K} (set TINYGRAD_EDU_MNIST_DIR to a folder "
            "holding the four IDX files to run this test)"
        )
    return MNIST_24K


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test: the download cache in a temp dir, every default mirror a closed loopback
    port (no test downloads anything or touches the user's cache), and any HTTP proxy kept
    away from 127.0.0.1."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TINYGRAD_EDU_CACHE", str(cache))
    for var in ("no_proxy", "NO_PROXY"):  # a user's HTTP proxy must not see loopback requests
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    dead = (f"http://127.0.0.1:{closed_port()}/",)
    monkeypatch.setattr(download, "MNIST_MIRRORS", dead)
    monkeypatch.setattr(download, "FASHION_MNIST_MIRRORS", dead)
    return cache


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict[Path, Drawn]:
    """Every figure saved through ``viz.canvas.save_figure`` during the test, by path (by the
    Figure itself when it was drawn without a path): its size in pixels, its text and the texts
    that overlap other Axes, read just before it is saved."""
    from tinygrad_edu.viz import canvas

    figures: dict[Path, Drawn] = {}
    save = canvas.save_figure

    def recording_save(fig: Any, path: Any) -> Any:
        width, height = (fig.get_size_inches() * fig.dpi).round().astype(int)
        text, overlaps = figure_text(fig), overlapping_texts(fig)
        out = save(fig, path)
        figures[out] = Drawn(int(width), int(height), text, overlaps)
        return out

    monkeypatch.setattr(canvas, "save_figure", recording_save)
    return figures
