"""draw(): one node per tensor and op, argument-indexed edges, roles, modules, render."""

from __future__ import annotations

import re
import shutil

import graphviz
import numpy as np
import pytest

from tinygrad_edu import Tensor, nn
from tinygrad_edu.viz import (
    ROLE_COLORS,
    FrameStyle,
    GraphTooLargeError,
    draw,
    draw_frame,
    render,
    trace,
    walk,
)
from tinygrad_edu.viz.examples import EXAMPLES, build, tiny_mlp
from tinygrad_edu.viz.graph import HIGHLIGHT, RECEIVED, choose_rankdir, graph_size

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot not on PATH")


def nodes(g: graphviz.Digraph) -> dict[str, str]:
    """node id -> its attribute text, from the DOT source."""
    found = re.findall(r"^\s*(\w+) \[(.*)\]$", g.source, flags=re.M)
    return {k: v for k, v in found if k not in ("node", "edge", "graph")}


def label(attrs: str) -> str:
    m = re.search(r'label=(?:"((?:[^"\\]|\\.)*)"|([^ \]]+))', attrs)
    return m.group(1) if m.group(1) is not None else m.group(2)


def edges(g: graphviz.Digraph) -> list[tuple[str, str, str]]:
    """(tail, head, attributes) in source order."""
    return re.findall(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", g.source, flags=re.M)


def expression():
    a = Tensor(2.0, requires_grad=True, name="a")
    b = Tensor(-3.0, requires_grad=True, name="b")
    x = Tensor(np.array([1.0, 2.0, 3.0]), name="x")
    out = ((a * b + 1.0) * x).sum()
    out.name = "out"
    return a, b, x, out


def tiny_model(seed: int = 0):
    model = nn.MLP([4, 3, 2], activation="sigmoid", seed=seed)
    x = Tensor(np.random.default_rng(seed).random((5, 4), dtype=np.float32), name="x")
    loss = nn.cross_entropy(model(x), np.array([0, 1, 1, 0, 1]))
    return model, x, loss


def test_one_node_per_tensor_and_op_with_indexed_edges():
    *_, out = expression()
    g = draw(out, rankdir="LR")
    assert isinstance(g, graphviz.Digraph)
    ids = nodes(g)
    tensors = [k for k in ids if k.startswith("t")]
    ops = [k for k in ids if k.startswith("op")]
    # leaves a, b, 1.0, x; results a*b, +1, *x, sum
    assert len(tensors) == 8 and len(ops) == 4
    assert "rankdir=LR" in g.source
    # every op has one labelled edge per argument and one edge to its output
    for op in ops:
        into = [e for e in edges(g) if e[1] == op]
        assert [re.search(r"label=(\d+)", e[2]).group(1) for e in into] == [
            str(i) for i in range(len(into))
        ]
        assert [e for e in edges(g) if e[0] == op] == [(op, "t" + op[2:], "")]


def test_a_plus_a_has_two_edges_in_argument_order():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    g = draw(a + a, rankdir="LR")
    assert edges(g) == [("t0", "op1", "label=0"), ("t0", "op1", "label=1"), ("op1", "t1", "")]


def test_same_graph_twice_gives_identical_source():
    sources = [draw(expression()[-1], show_data=True).source for _ in range(2)]
    assert sources[0] == sources[1]
    model_sources = [draw(tiny_model()[2], model=tiny_model()[0]).source for _ in range(2)]
    assert model_sources[0] == model_sources[1]


def test_roles_have_colours_and_names():
    *_, out = expression()
    ids = nodes(draw(out, rankdir="TB"))
    by_label = {label(v): v for v in ids.values()}
    assert ROLE_COLORS["parameter"] in by_label["a  ()"]
    assert ROLE_COLORS["input"] in by_label["x  (3,)"]
    assert ROLE_COLORS["constant"] in by_label["1"]  # the lifted Python number shows its value
    assert ROLE_COLORS["output"] in by_label["out  ()"]
    assert ROLE_COLORS["intermediate"] in by_label["t2  ()"]  # unnamed: t<position>
    assert 'tooltip="a: parameter"' in by_label["a  ()"]


def test_names_mapping_either_way_and_rankdir():
    *_, out = expression()
    ab = out._ctx.parents[0]._ctx.parents[0]._ctx.parents[0]
    for names in ({"ab": ab}, {ab: "ab"}):
        assert 'label="ab  ()"' in draw(out, names=names).source
    assert "rankdir=TB" in draw(out, rankdir="TB").source
    with pytest.raises(ValueError, match="rankdir"):
        draw(out, rankdir="up")
    with pytest.raises(TypeError, match="names must map"):
        draw(out, names={"ab": 3})
    with pytest.raises(TypeError, match="expected a Tensor"):
        draw(np.zeros(3))


def test_data_and_grad_summaries_small_and_large():
    w = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="w")
    big = Tensor(np.arange(100.0), requires_grad=True, name="big")
    out = (w.sum() + big.sum()) * 2.0
    out.backward()
    src = draw(out, show_data=True, show_grad=True).source
    assert r"data [[0, 1, 2],\l[3, 4, 5]]\lgrad [[2, 2, 2],\l[2, 2, 2]]\l" in src
    assert r"data mean=49.5 std=28.9\lmin=0 max=99\lgrad mean=2 std=0\lmin=2 max=2\l" in src
    assert "grad" not in draw(out, show_data=True).source


def test_draw_after_backward_and_of_a_leaf():
    *_, out = expression()
    out.backward()  # frees the saved arrays, but the graph links remain
    assert len(nodes(draw(out))) == 12
    leaf = Tensor([1.0], name="leaf")
    assert list(nodes(draw(leaf))) == ["t0"]


def test_walk_is_iterative_and_ordered():
    x = Tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(3000):  # deeper than Python's recursion limit
        y = y * 1.0
    index = walk(y)
    assert index.tensors[-1] is y and index.tensors[0] is x
    assert all(index.position[id(t)] == i for i, t in enumerate(index.tensors))


def test_max_nodes_guard_has_a_clear_message():
    x = Tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(300):
        y = y + x
    with pytest.raises(GraphTooLargeError, match=r"graph has 601 nodes .* max_nodes=400"):
        draw(y)
    with pytest.raises(GraphTooLargeError, match="collapse='module'"):
        draw(y, max_nodes=10)
    assert len(nodes(draw(y, max_nodes=None))) == 601


def test_model_clusters_and_parameter_names():
    model, _, loss = tiny_model()
    src = draw(loss, model=model, rankdir="LR").source
    assert 'label="layers.0: Linear (layer1)"' in src
    assert 'label="layers.2: Linear (layer2)"' in src
    assert "label=MLP" in src
    assert 'label="layers.0.weight  (3, 4)"' in src
    # the parameters sit inside their Linear's cluster; the loss and input are outside the MLP
    linear0 = re.search(r'subgraph cluster_\d+ \{[^{}]*label="layers.0: Linear.*?\}', src, re.S)
    assert "layers.0.weight" in linear0.group(0) and "layers.0.bias" in linear0.group(0)
    mlp_start = src.index("label=MLP")
    assert src.index('label="x  (5, 4)"') < mlp_start
    assert "CrossEntropy" in src[: src.index("subgraph")]
    # the Sigmoid between the two Linears is drawn inside the MLP, outside both Linears
    sigmoid_line = next(line for line in src.splitlines() if "label=Sigmoid" in line)
    assert sigmoid_line.startswith("\t\t") and not sigmoid_line.startswith("\t\t\t")


def test_model_with_plain_matmul_layers():
    class Layer(nn.Module):
        def __init__(self):
            self.W = nn.Parameter(np.ones((2, 3)))

        def forward(self, x):
            return x @ self.W.T

    class Net(nn.Module):
        def __init__(self):
            self.first, self.second = Layer(), Layer()
            self.second.W = nn.Parameter(np.ones((2, 2)))

        def forward(self, x):
            return self.second(self.first(x).relu())

    net = Net()
    out = net(Tensor(np.ones((1, 3)))).sum()
    src = draw(out, model=net, rankdir="LR").source
    first = re.search(r'subgraph cluster_\d+ \{[^{}]*label="first: Layer.*?\}', src, re.S)
    assert "Transpose" in first.group(0) and "MatMul" in first.group(0)
    assert "first.W" in first.group(0)


def test_collapse_module_draws_each_linear_as_one_box():
    model, _, loss = tiny_model()
    g = draw(loss, model=model, collapse="module")
    ids = nodes(g)
    boxes = {k: v for k, v in ids.items() if "box3d" in v}
    assert len(boxes) == 2
    assert r"layers.0: Linear (layer1)\nweight (3, 4)\nbias (3,)" in boxes["m0"]
    assert "label=Linear" not in g.source and "weight  (" not in g.source
    assert ("m0", "t3", "") in edges(g)  # the Linear's output is still drawn
    assert len(ids) < len(nodes(draw(loss, model=model)))
    with pytest.raises(ValueError, match="needs the model"):
        draw(loss, collapse="module")
    with pytest.raises(ValueError, match="collapse must be"):
        draw(loss, model=model, collapse="layer")


def test_draw_frame_shows_the_frames_gradients_and_highlights():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    b = Tensor([3.0, 4.0], requires_grad=True, name="b")
    out = (a * b).sum()
    out.name = "out"
    out.backward()  # .grad is set, but a frame shows only the gradients it is given
    index = walk(out)  # t0 a, t1 b, t2 a*b, t3 out
    assert [t.name for t in index.tensors] == ["a", "b", None, "out"]
    frame = FrameStyle(
        grads={3: (np.array(1.0), False), 2: (np.ones(2), False), 0: (np.array([3.0, 4.0]), True)},
        current=2,
        received={0},
        sent_args={0},
        title="at the Mul",
    )
    g = draw_frame(index, frame, show_data=True)
    ids = nodes(g)
    assert label(ids["t0"]) == r"a  (2,)\ldata [1, 2]\lgrad so far [3, 4]\l"
    assert "grad" not in label(ids["t1"])  # b has a .grad, but not in this frame
    assert f'color="{HIGHLIGHT}"' in ids["t2"] and "penwidth=3" in ids["t2"]
    assert f'color="{HIGHLIGHT}"' in ids["op2"]
    assert f'color="{RECEIVED}"' in ids["t0"] and "penwidth=2" in ids["t0"]
    assert " color=" not in ids["t1"]
    assert edges(g)[:2] == [
        ("t0", "op2", f'label=0 color="{HIGHLIGHT}" fontcolor="{HIGHLIGHT}" penwidth=2'),
        ("t1", "op2", "label=1"),
    ]
    assert 'label="at the Mul"' in g.source
    # without highlights and with no gradients it is draw()'s picture, gradients left out
    plain = draw_frame(index, FrameStyle(grads={}), title="T")
    assert plain.source == draw(out, title="T").source


def test_render_writes_dot_text_without_graphviz(tmp_path, monkeypatch, capsys):
    *_, out = expression()
    g = draw(out)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert shutil.which("dot") is None
    path = render(g, tmp_path / "graph.svg")
    assert path == tmp_path / "graph.dot"
    assert path.read_text() == g.source
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "install graphviz" in err and "apt-get" in err
    assert render(g, tmp_path / "plain.dot") == tmp_path / "plain.dot"
    with pytest.raises(ValueError, match="format must be"):
        render(g, tmp_path / "x.jpg")


@needs_dot
def test_render_svg_png_pdf(tmp_path):
    *_, out = expression()
    g = draw(out, show_data=True)
    assert render(g, tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")
    assert render(g, tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert render(g, tmp_path / "g", format="pdf").read_bytes()[:5] == b"%PDF-"


@needs_dot
def test_jupyter_displays_the_graph():
    bundle = draw(expression()[-1])._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


def test_collapsing_a_model_that_is_itself_the_innermost_module() -> None:
    """A model with parameters and no submodules is one box (path ""): every edge joins declared
    nodes, and the box is labelled by its class alone."""

    class Layer(nn.Module):
        def __init__(self) -> None:
            self.W = nn.Parameter(np.ones((3, 2), np.float32))

        def forward(self, x: Tensor) -> Tensor:
            return (x @ self.W.T).relu()

    model = Layer()
    out = model(Tensor(np.ones((1, 2), np.float32)))
    source = draw(out, model=model, collapse="module").source
    declared = set(re.findall(r"^\s*(\w+) \[", source, re.M))
    edges = re.findall(r"^\s*(\w+) -> (\w+)", source, re.M)
    assert edges and all(a in declared and b in declared for a, b in edges), source
    assert 'm0 [label="Layer (layer1)\\nW (3, 2)"' in source


def test_a_drawing_shows_in_jupyter_without_graphviz(tmp_path, monkeypatch) -> None:
    """Where `dot` is missing, Jupyter shows the DOT source and how to install graphviz (the
    walkthrough notebook runs on a machine without graphviz); with `dot`, the SVG."""
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    g = draw((x * x).sum(), show_data=True)
    if shutil.which("dot") is not None:
        assert "image/svg+xml" in g._repr_mimebundle_()
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot anywhere
    shown = g._repr_mimebundle_()
    assert list(shown) == ["text/plain"]
    assert shown["text/plain"].startswith(g.source) and "install graphviz" in shown["text/plain"]


def test_a_models_tensors_are_named_by_their_role():
    """draw() of a model names what the model does not: its input x, each layer's output
    layer<k>.z and activation layer<k>.a (layer k: the k-th module with parameters), the loss."""
    model = nn.MLP([4, 3, 2], activation="sigmoid", seed=0)
    x = Tensor(np.ones((5, 4), np.float32))  # no names anywhere
    loss = nn.cross_entropy(model(x), np.array([0, 1, 1, 0, 1]))
    labels = {label(v).split("  ")[0] for v in nodes(draw(loss, model=model)).values()}
    assert {"x", "layer1.z", "layer1.a", "layer2.z", "loss"} <= labels
    assert not any(re.fullmatch(r"t\d+", n) for n in labels)
    relu = nn.MLP([4, 3, 3, 2], activation="relu", seed=0)
    labels = [label(v) for v in nodes(draw(relu(x).sum(), model=relu)).values()]
    assert "layer3.z  (5, 2)" in labels and "layer2.a  (5, 3)" in labels
    # the trace uses the same names
    loss = nn.cross_entropy(model(x), np.array([0, 1, 1, 0, 1]))
    with trace(model=model) as t:
        loss.backward()
    assert [s.name for s in t.steps[:3]] == ["loss", "layer2.z", "layer1.a"]


def test_given_and_own_names_win_over_roles_and_constants_show_their_value():
    model = nn.MLP([4, 3, 2], seed=0)
    x = Tensor(np.ones((1, 4), np.float32), name="image")
    h = model.layers[1](model.layers[0](x))
    out = (model.layers[2](h) * 2.0).sum()
    src = draw(out, model=model, names={"hidden": h}).source
    assert 'label="image  (1, 4)"' in src and 'label="hidden  (1, 3)"' in src
    assert "layer1.a" not in src and "layer1.z" in src
    with trace(model=model) as t:
        out.backward()
    assert t.steps[1].describe().startswith("t9 = Mul(layer2.z, 2)")


def test_top_to_bottom_puts_each_op_beside_its_tensor():
    *_, out = expression()
    src = draw(out, rankdir="TB").source
    pairs = re.findall(r"subgraph cluster_pair\d+ \{[^{}]*\{\s*rank=same\s+(op\d+)\s+(t\d+)", src)
    assert len(pairs) == 4 and all(op[2:] == t[1:] for op, t in pairs)
    # and each op's output under its first argument: out = ((a*b + 1) * x).sum() reads down
    assert re.findall(r"(t\d+) -> (t\d+) \[style=invis weight=8\]", src) == [
        ("t0", "t2"),
        ("t2", "t4"),
        ("t4", "t6"),
        ("t6", "t7"),
    ]
    assert "rank=same" not in draw(out, rankdir="LR").source


def test_a_long_title_is_wrapped_between_clauses():
    ex = tiny_mlp()
    src = draw(ex.loss, title=ex.title).source
    title = re.search(r'label="(a 2-3-2[^"]*)"', src).group(1).split("\\n")
    assert len(title) == 2 and all(len(line) <= 64 for line in title)
    assert title[1].startswith("h = sigmoid(z1)")


def test_auto_rankdir_keeps_every_example_near_square():
    """The direction is chosen from the laid-out sizes (estimated without dot): every example,
    with and without its values, is between 1:2 and 2:1."""
    for name in EXAMPLES:
        ex = build(name, batch=8)
        for show in (False, True):
            g = draw(ex.loss, model=ex.model, show_data=show, title=ex.title)
            w, h = graph_size(g)
            assert 0.5 <= w / h <= 2, (name, show, w, h)
    *_, out = expression()
    assert choose_rankdir(lambda d: draw(out, rankdir=d)) in ("LR", "TB")


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@needs_dot
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_can_be_projected(name, tmp_path):
    """At 1280x720 each example's PNG, all values and gradients shown, is between 1:2 and 2:1
    and shown at 60 % of its size or more (tiny-mlp was 3028x343: 9:1, at 42 %)."""
    ex = build(name, batch=8)
    with trace(model=ex.model) as t:
        ex.loss.backward()
    g = t.draw(show_data=True, title=ex.title)
    w, h = png_size(render(g, tmp_path / f"{name}.png"))
    assert 0.5 <= w / h <= 2, (w, h)
    assert min(1280 / w, 720 / h) >= 0.6, (w, h)
    svg = render(g, tmp_path / f"{name}.svg").read_text()
    assert "grad" in svg and ex.title.split()[0] in svg
    forced = draw(ex.loss, model=ex.model, rankdir="LR")
    assert "rankdir=LR" in forced.source and "rank=same" not in forced.source
