"""The `graph` and `trace` subcommands, run through an argparse parser built here."""

from __future__ import annotations

import argparse
import re
import shutil

import pytest

from tinygrad_edu.cli import run_command
from tinygrad_edu.cli.graph import add_graph_command
from tinygrad_edu.cli.trace import add_trace_command
from tinygrad_edu.viz.examples import EXAMPLES

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
    assert run("trace", "--example", "tiny-mlp", "--table") == 0
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


def test_trace_prints_the_chain_rule_step_by_step(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)  # --pause never blocks without a tty
    assert run("trace", "--example", "expression", "--pause") == 0
    out = capsys.readouterr().out
    assert out.count("\nstep ") == 6
    assert "step 2 of 5: e = Mul(a, b)" in out
    lines = out.splitlines()
    for line in (
        "sends     dL/dd = dL/dL · a = 1 · 2 = 2",
        "sends     dL/da = dL/de · b = 2 · (-3) = -6   (path 2 of 2 into a)",
        "arrives   dL/da = (via L) + (via e) = 4 + (-6) = -2",
    ):
        assert line in lines


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_trace_shows_backward_only_in_plain_text(example, capsys):
    assert run("trace", "--example", example, "--batch", "4") == 0
    out = capsys.readouterr().out
    assert "tangent" not in out and "``" not in out and ":class:" not in out
    assert "\narrives   " in out and "\nsends     " in out


def test_graph_and_trace_take_the_same_examples_with_the_same_meaning(capsys, tmp_path):
    parser = argparse.ArgumentParser(prog="tinygrad-edu")
    sub = parser.add_subparsers(dest="command")
    add_graph_command(sub)
    add_trace_command(sub)
    choices = {
        name: next(a.choices for a in p._actions if a.dest == "example")
        for name, p in sub.choices.items()
    }
    assert list(choices["graph"]) == list(choices["trace"]) == list(EXAMPLES)
    assert "tiny-mlp" in choices["trace"]
    titles = {}
    for example in ("mlp", "tiny-mlp"):
        assert run("trace", "--example", example, "--batch", "4", "--table") == 0
        titles[example] = capsys.readouterr().out.splitlines()[0]
        assert (
            run("graph", "--example", example, "--batch", "4", "-o", str(tmp_path / "g.dot")) == 0
        )
        assert capsys.readouterr().out.endswith(f"({titles[example]})\n")
    assert titles["mlp"].startswith("the course's MLP 784-64-10")  # the same network in both
    assert titles["tiny-mlp"].startswith("a 2-3-2 sigmoid MLP")


def test_graph_show_grad_shows_every_gradient(tmp_path):
    out = tmp_path / "tiny.dot"
    assert run("graph", "--example", "tiny-mlp", "--show-grad", "-o", str(out)) == 0
    dot = out.read_text()
    # t3 = x W1^T and t9 = h W2^T have no name and keep no .grad: drawn with theirs all the same
    assert re.search(r'label="t3  \(1, 3\)\\lgrad \[\[-0.07607, 0.1118, -0.03267\]\]', dot)
    assert re.search(r'label="t9  \(1, 2\)\\lgrad \[\[0.4282, -0.4282\]\]', dot)
    assert run("graph", "--example", "mlp", "--batch", "4", "--show-grad", "-o", str(out)) == 0
    dot = out.read_text()
    for role in ("x", "layer1.z", "layer1.a", "layer2.z", "loss"):
        assert f'label="{role}  (' in dot
    assert re.search(r'label="layer1.a  \(4, 64\)\\lgrad mean=', dot)


def test_graph_rankdir_is_chosen_unless_given(tmp_path):
    out = tmp_path / "g.dot"
    assert run("graph", "--example", "tiny-mlp", "-o", str(out)) == 0
    assert "rankdir=TB" in out.read_text()  # left to right it would be 7:1
    assert run("graph", "--example", "tiny-mlp", "--rankdir", "LR", "-o", str(out)) == 0
    assert "rankdir=LR" in out.read_text()
