"""Regenerate the figures of the graph drawing and the backward trace (run from the repo root,
about 10 s; needs graphviz's dot, and Chromium for the HTML pages' screenshots).

    python docs/images/make_viz_figures.py [--chromium /usr/bin/chromium]

Writes, next to this file: expression_graph.png and trace_stepper.png (README), the *_after.png
halves of the before/after pairs in docs/autodiff.md and docs/backprop.md, gradient_graph.png
(docs/autodiff.md), seed_mlp_graph.svg and tiny_mlp_step3.svg (docs/backprop.md, whose code
makes them the same way). The *_before.png halves were made once, by the same commands run on
the code before the change (commit d4e53c8), and are not remade here.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from tinygrad_edu import Tensor, nn
from tinygrad_edu.autograd import grad
from tinygrad_edu.viz import draw, render, trace
from tinygrad_edu.viz.examples import build

OUT = Path(__file__).resolve().parent


def cli(*args: str) -> None:
    """``tinygrad-edu ARGS`` in this interpreter, its output silenced."""
    cmd = [sys.executable, "-m", "tinygrad_edu", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def screenshot(chromium: str, page: Path, step: int, size: tuple[int, int], out: Path) -> None:
    """Chromium's picture of ``page`` at ``#step=N``, in a window of ``size`` pixels, cropped
    to the page's content (headless Chromium lays out the page for a shorter window)."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}",
                f"--screenshot={out}",
                f"{page.as_uri()}#step={step}",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    image = Image.open(out).convert("RGB")
    rows = np.flatnonzero((np.asarray(image) < 245).any(axis=(1, 2)))
    image.crop((0, 0, image.width, min(image.height, int(rows[-1]) + 12))).save(out)


def graphs() -> None:
    """The drawings of the examples (as the CLI makes them) and of a gradient."""
    for example, name in (
        ("expression", "expression_graph.png"),
        ("tiny-mlp", "tiny_mlp_graph_after.png"),
        ("mlp", "mlp_graph_after.png"),
    ):
        cli("graph", "--example", example, "--show-data", "--show-grad", "-o", str(OUT / name))
    x = Tensor(np.array(0.5), requires_grad=True, name="x")
    y = x.sigmoid()
    (dy,) = grad(y, x, create_graph=True)
    render(draw(dy, names={"y": y, "dy/dx": dy}, show_data=True), OUT / "gradient_graph.png")


def backprop_md() -> None:
    """docs/backprop.md's two pictures, made as its code makes them."""
    model = nn.MLP([784, 64, 10], activation="sigmoid", seed=0)
    first, sigmoid, second = model.layers
    rng = np.random.default_rng(0)
    xb = Tensor(rng.random((256, 784), dtype=np.float32), name="x")
    yb = rng.integers(0, 10, size=256)
    z1t = first(xb)
    ht = sigmoid(z1t)
    z2t = second(ht)
    losst = nn.cross_entropy(z2t, yb)
    names = {"W1": first.weight, "b1": first.bias, "W2": second.weight, "b2": second.bias}
    names |= {"z1": z1t, "h": ht, "z2": z2t, "loss": losst}
    title = "the course's MLP, one minibatch"
    render(draw(losst, model=model, names=names, title=title), OUT / "seed_mlp_graph.svg")
    ex = build("tiny-mlp")
    with trace() as t:
        ex.loss.backward()
    render(t.frames()[3], OUT / "tiny_mlp_step3.svg")


def pages(chromium: str) -> None:
    """Screenshots of the HTML stepper: the tiny MLP at the sigmoid, the expression's sum."""
    with tempfile.TemporaryDirectory() as tmp:
        mlp, expr = Path(tmp) / "mlp.html", Path(tmp) / "expression.html"
        cli("trace", "--example", "tiny-mlp", "--html", str(mlp))
        cli("trace", "--example", "expression", "--html", str(expr))
        screenshot(chromium, mlp, 3, (1300, 900), OUT / "trace_stepper.png")
        screenshot(chromium, expr, 5, (1100, 800), OUT / "trace_sum_after.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    graphs()
    backprop_md()
    pages(args.chromium)
    print(f"wrote the figures to {OUT}")


if __name__ == "__main__":
    main()
