"""The `graph` and `trace` subcommands, run through an argparse parser built here."""

from __future__ import annotations

import argparse
import shutil

import pytest

from tinygrad_edu.cli import run_command
from tinygrad_edu.cli.graph import add_graph_command
from tinygrad_edu.cli.trace import add_trace_command

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot not on PATH")


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="tinygrad-edu")
    sub = parser.add_subparsers(dest="command", required=True)
    add_graph_command(sub)
    add_trace_command(sub)
    args = parser.parse_args(argv)
    return run_command(args)


@needs_dot
def test_graph_renders_the_seeds_mlp(tmp_path, capsys):
    out = tmp_path / "mlp.svg"
    assert run("graph", "-o", str(out), "--batch", "8") == 0
    svg = out.read_text()
    assert "<svg" in svg and "layers.0.weight" in svg and "CrossEntropy" in svg
    assert "(8, 784)" in svg and "(64, 784)" in svg and "(8, 10)" in svg
    assert f"wrote {out}" in capsys.readouterr().out
    assert run("graph", "-o", str(tmp_path / "c.png"), "--batch", "4", "--collapse") == 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_graph_of_the_expression_as_dot_text(tmp_path):
    out = tmp_path / "expr.dot"
    assert (
        run("graph", "--example", "expression", "--show-grad", "--show-data", "-o", str(out)) == 0
    )
    dot = out.read_text()
    assert dot.startswith("digraph") and r"a  ()\ldata 2\lgrad -2\l" in dot


def test_graph_without_graphviz_writes_dot_and_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert run("graph", "--example", "neuron", "-o", str(tmp_path / "n.svg")) == 0
    assert (tmp_path / "n.dot").exists() and not (tmp_path / "n.svg").exists()
    assert "install graphviz" in capsys.readouterr().err


def test_graph_rejects_bad_arguments(tmp_path, capsys):
    assert run("graph", "--example", "expression", "--collapse", "-o", str(tmp_path / "x")) == 2
    assert "--collapse needs a model" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse's own check (the full CLI: one line, status 2)
        run("graph", "--batch", "0", "-o", str(tmp_path / "x.svg"))
    with pytest.raises(SystemExit):
        run("graph", "--example", "resnet")


def test_trace_table_of_the_tiny_mlp(capsys):
    assert run("trace", "--example", "mlp", "--table") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("a 2-3-2 sigmoid MLP on one sample")
    assert "backward trace: 12 steps" in out
    for name in ("loss", "z2", "h", "z1", "W1", "b1", "W2", "b2"):
        assert f"  {name} (" in out
    assert "dL/dW1 = [[" in out


def test_trace_neuron_is_the_default_and_writes_html(tmp_path, capsys):
    page = tmp_path / "neuron.html"
    assert run("trace", "--html", str(page)) == 0
    out = capsys.readouterr().out
    assert "one neuron" in out and "Sigmoid" in out
    assert f"wrote {page}" in out
    assert page.read_text().count('<section class="frame"') == 9


def test_trace_prints_one_block_per_step(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)  # --pause never blocks without a tty
    assert run("trace", "--example", "expression", "--pause") == 0
    out = capsys.readouterr().out
    assert out.count("\nstep ") == 6
    assert "step 2 of 5: e = Mul(a, b)" in out
    assert "rule      out = a * b" in out and "dL/da () = -6   (argument 0)" in out
