"""Trace.to_html() and html.write_page(): a self-contained page, stepped through in a real
headless browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tinygrad_edu.viz import trace
from tinygrad_edu.viz.examples import scalar_expression, tiny_mlp
from tinygrad_edu.viz.html import PageStep, write_page

CHROMIUM = next(
    (
        p
        for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and Path(p).exists()
    ),
    None,
)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot not on PATH")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


@pytest.fixture(scope="module")
def mlp_trace():
    ex = tiny_mlp()
    with trace() as t:
        ex.loss.backward()
    return t


@pytest.fixture(scope="module")
def page(mlp_trace, tmp_path_factory) -> Path:
    """The page (SVG frames with graphviz, DOT text without: navigation works the same)."""
    return mlp_trace.to_html(tmp_path_factory.mktemp("html") / "trace.html", title="tiny MLP")


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout


def visible_step(dom: str) -> tuple[int, list[int]]:
    """(body's data-step, the steps of the sections not hidden)."""
    body = int(re.search(r'<body[^>]*data-step="(\d+)"', dom).group(1))
    shown = [
        int(m.group(1))
        for m in re.finditer(r'<section class="frame"[^>]*data-step="(\d+)"([^>]*)>', dom)
        if "hidden" not in m.group(2)
    ]
    return body, shown


@needs_dot
def test_page_is_self_contained(page, mlp_trace):
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert text.count('<section class="frame"') == len(mlp_trace.steps) == 12
    assert text.count("<svg") == 12 and "<?xml" not in text
    # nothing is fetched: no external scripts, styles, fonts or images
    assert not re.search(r"<script[^>]+src|<link|@import|url\(|<img", text)
    for url in re.findall(r"https?://[^\s\"'<>]+", text):
        assert url.startswith(("http://www.w3.org/", "https://www.w3.org/")), url
    assert "default-src 'none'" in text
    assert "Step 5: t3 = MatMul(x, W1^T)" in text
    assert "dL/dW1^T (2, 3) = x^T @ dL/dt3" in text  # the chain rule sent, on the step's panel
    assert "= [[-0.04846, 0.07118, -0.02081]," in text  # with its values
    assert "dL/db1 (3,) = dL/dz1 (1, 3), summed to (3,): b1 was broadcast" in text


def test_page_without_graphviz_shows_dot_text(mlp_trace, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    text = mlp_trace.to_html(tmp_path / "t.html").read_text()
    assert text.count('<pre class="dot">') == 12 and "<svg" not in text
    assert "install graphviz" in text


def test_write_page_from_plain_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # frames as DOT text: no dot needed
    steps = [
        PageStep("x arrives", "details <0>", "digraph { t0 }", "t0"),
        PageStep("y arrives", "details 1", "digraph { t1 -> t0 }", "t1"),
    ]
    text = write_page(tmp_path / "sub" / "page.html", steps).read_text()
    assert "<title>Backward, step by step (2 steps)</title>" in text
    assert 'data-steps="2"' in text and 'id="counter">step 0 of 1<' in text
    assert '<section class="frame" id="frame-0" data-step="0" data-node="t0">' in text
    assert '<section class="frame" id="frame-1" data-step="1" data-node="t1" hidden>' in text
    assert "<h2>Step 1: y arrives</h2>" in text
    assert '<pre class="details">details &lt;0&gt;</pre>' in text
    assert '<pre class="dot">digraph { t1 -&gt; t0 }</pre>' in text
    assert "install graphviz" in text
    titled = write_page(tmp_path / "t.html", steps, title="a <b> c").read_text()
    assert "<h1>a &lt;b&gt; c</h1>" in titled
    with pytest.raises(ValueError, match="no steps"):
        write_page(tmp_path / "none.html", [])


def test_empty_trace_is_an_error(tmp_path):
    with trace() as t:
        pass
    with pytest.raises(ValueError, match="no steps"):
        t.to_html(tmp_path / "t.html")


def test_page_has_no_test_hooks(page):
    text = page.read_text()
    assert "location.search" not in text and "URLSearchParams" not in text
    assert "autoplay" not in text and "dispatchEvent" not in text


def pressing(page: Path, keys: list[str], tmp_path: Path) -> Path:
    """A test-only copy of ``page`` whose extra inline script, run after the page's own, presses
    ``keys``: keydown events dispatched on the document, where the page's handler listens. (The
    page's Content-Security-Policy already allows inline scripts.)"""
    press = (
        f"<script>{json.dumps(keys)}.forEach(function (key) {{\n"
        '  document.dispatchEvent(new KeyboardEvent("keydown", {key: key, bubbles: true}));\n'
        "});</script>\n"
    )
    text = page.read_text()
    assert text.count("</body>") == 1
    copy = tmp_path / "pressing.html"
    copy.write_text(text.replace("</body>", press + "</body>"), encoding="utf-8")
    return copy


@needs_chromium
@pytest.mark.parametrize(
    ("fragment", "keys", "step"),
    [
        ("#step=2", "", 2),  # the fragment opens step N
        ("#step=2", "ArrowRight,ArrowRight,ArrowRight,ArrowLeft", 4),
        ("#step=5", "End", 11),
        ("#step=5", "Home", 0),
        ("#step=1", "ArrowLeft,ArrowLeft,ArrowRight", 1),  # clamped at the start (else 0)
        ("#step=10", "ArrowRight,ArrowRight,ArrowLeft", 10),  # clamped at the end (else 11)
    ],
)
def test_keys_and_fragment_step_through_frames_in_chromium(page, tmp_path, fragment, keys, step):
    copy = pressing(page, keys.split(",") if keys else [], tmp_path)
    dom = chromium(tmp_path, "--dump-dom", copy.as_uri() + fragment)
    assert visible_step(dom) == (step, [step])
    assert f'id="counter">step {step} of 11<' in dom


def test_page_writes_the_sum_where_paths_meet_and_every_value(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # frames as DOT text: no dot needed
    ex = scalar_expression()
    with trace() as t:
        ex.loss.backward()
    text = t.to_html(tmp_path / "expr.html").read_text()
    assert "arrives   dL/da = (via L) + (via e) = 4 + (-6) = -2" in text
    assert "Step 5: a is a leaf: dL/da, the sum of its 2 paths, is added to a.grad" in text
    assert "forward   L = d · a = 4 · 2 = 8" in text and "tangent" not in text
    # the tiny MLP's unnamed intermediates show their data and their gradient on the page
    mlp = tiny_mlp()
    with trace() as t:
        mlp.loss.backward()
    last = t.to_html(tmp_path / "mlp.html").read_text().split('<section class="frame"')[-1]
    assert re.search(r"t3  \(1, 3\)\\ldata \[\[0.4362, .*\\lgrad \[\[-0.07607, ", last)
    assert "rankdir=TB" in last
    assert "rankdir=LR" in t.to_html(tmp_path / "lr.html", rankdir="LR").read_text()
