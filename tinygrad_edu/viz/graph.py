"""Draw the computation graph behind a tensor as a ``graphviz.Digraph``.

The graph is read from the tensors themselves: a tensor made by an op keeps its context
``_ctx``, whose ``parents`` are the op's inputs in argument order. :func:`draw` walks these links
back from the tensor you give it and draws

* one box per tensor: its name (or ``t<i>``, its position in the walk), shape, and on request a
  summary of its data and gradient, coloured by role (:data:`ROLE_COLORS`);
* one ellipse per op, with an edge from each input labelled by the argument index (``a + a``
  gives two edges, 0 and 1) and an edge to the op's output;
* with ``model=``, a box (a graphviz cluster) around each ``nn.Module``'s parameters and the ops
  that use them, nested as the modules are; ``collapse="module"`` draws each innermost module
  as a single node instead.

Ids are assigned in walk order (``t0, t1, ...`` and ``op3`` for the op that made ``t3``), so the
same graph built twice gives the same DOT text. :func:`render` writes the picture to a file.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ..engine.backprop import topological_sort
from ..engine.tensor import Tensor
from .text import MAX_VALUES, shape_text, values_text

__all__ = [
    "HIGHLIGHT",
    "INSTALL_HINT",
    "OP_COLOR",
    "RECEIVED",
    "ROLE_COLORS",
    "FrameStyle",
    "Graph",
    "GraphIndex",
    "GraphTooLargeError",
    "choose_rankdir",
    "display_names",
    "draw",
    "draw_frame",
    "graph_size",
    "render",
    "role_names",
    "walk",
    "wrap_title",
]

#: Fill colour of each tensor role. A *parameter* is a leaf that requires grad (what training
#: updates); an *input* is any other leaf (data, labels); a *constant* is a number lifted into
#: the graph (``2 * x``); the *output* is the tensor drawn; the rest are *intermediate*.
ROLE_COLORS: dict[str, str] = {
    "parameter": "#b9d7ff",
    "input": "#c8ecc8",
    "constant": "#e6e6e6",
    "output": "#ffd27f",
    "intermediate": "#ffffff",
}
OP_COLOR = "#fff2cc"
MODULE_COLOR = "#b9d7ff"
#: In a trace frame (:class:`FrameStyle`): the tensor being processed, and its op, in red; the
#: tensors that have just received a gradient in orange.
HIGHLIGHT = "#d62728"
RECEIVED = "#ff7f0e"
FONT = "Helvetica"

#: A caption is wrapped into lines of at most this many characters.
TITLE_WIDTH = 64

#: Guard against drawing graphs too big to read (and too slow to lay out).
DEFAULT_MAX_NODES = 400

_COLLAPSE_MODES = (None, "module")


class GraphTooLargeError(ValueError):
    """The graph has more nodes than ``max_nodes``; the message says how to draw it anyway."""


# --------------------------------------------------------------------------- the walk
@dataclass
class GraphIndex:
    """The tensors reachable from ``root`` through ``_ctx.parents``, each after its parents.

    ``tensors[i]`` is tensor ``t<i>``; the root is last. ``consumers[i]`` lists the
    ``(j, arg)`` such that tensor i is argument ``arg`` of the op that made tensor j.
    """

    root: Tensor
    tensors: list[Tensor]
    position: dict[int, int]
    consumers: list[list[tuple[int, int]]]

    def parents(self, i: int) -> list[int]:
        ctx = self.tensors[i]._ctx
        return [] if ctx is None else [self.position[id(p)] for p in ctx.parents]

    def __len__(self) -> int:
        return len(self.tensors)

    def __contains__(self, t: object) -> bool:
        return id(t) in self.position

    def index(self, t: Tensor) -> int:
        return self.position[id(t)]


def walk(root: Tensor) -> GraphIndex:
    """The engine's topological sort from ``root`` over all parents, in argument order: unlike
    ``backward``'s it also visits tensors that do not require grad (inputs, constants), since
    they belong in the picture."""
    if not isinstance(root, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(root).__name__}")
    order = topological_sort([root], every_tensor=True, first_argument_first=True)
    position = {id(t): i for i, t in enumerate(order)}
    consumers: list[list[tuple[int, int]]] = [[] for _ in order]
    for j, t in enumerate(order):
        if t._ctx is not None:
            for arg, parent in enumerate(t._ctx.parents):
                consumers[position[id(parent)]].append((j, arg))
    return GraphIndex(root, order, position, consumers)


# --------------------------------------------------------------------------- names and roles
def _is_parameter(t: Tensor) -> bool:
    return any(cls.__name__ == "Parameter" for cls in type(t).__mro__)


def role(t: Tensor, is_root: bool = False) -> str:
    """``output``, ``parameter``, ``input``, ``constant`` or ``intermediate`` (see ROLE_COLORS)."""
    if is_root:
        return "output"
    if t._ctx is not None:
        return "intermediate"
    if t.requires_grad or _is_parameter(t):
        return "parameter"
    if t.data.ndim == 0 and t.name is None:
        return "constant"
    return "input"


def _named_parameters(model: Any) -> list[tuple[str, Tensor]]:
    if model is None:
        return []
    named = getattr(model, "named_parameters", None)
    if named is None:
        raise TypeError(
            "draw: model must be an nn.Module (with named_parameters()), "
            f"got {type(model).__name__}"
        )
    return [(name, p) for name, p in named()]


def _names(
    index: GraphIndex, params: list[tuple[str, Tensor]], names: Mapping[Any, Any] | None
) -> list[str | None]:
    """Display names by position: ``names`` given to draw, then ``tensor.name``, then the
    dotted parameter name in the model; None where nothing names the tensor."""
    given: dict[int, str] = {}
    for k, v in (names or {}).items():
        t, name = (v, k) if isinstance(k, str) else (k, v)
        if not isinstance(t, Tensor) or not isinstance(name, str):
            raise TypeError("draw: names must map names to tensors ({'h': h}) or tensors to names")
        given[id(t)] = name
    by_param = {id(p): name for name, p in params}
    return [given.get(id(t)) or t.name or by_param.get(id(t)) for t in index.tensors]


def display_names(
    index: GraphIndex, model: Any = None, names: Mapping[Any, Any] | None = None
) -> list[str]:
    """Names for every tensor of the walk, by position: given in ``names``, the tensor's own,
    the model's dotted parameter name, its role in the model (:func:`role_names`), a constant's
    value (``-1``), else ``t<i>``."""
    params = _named_parameters(model)
    modules = _assign_modules(index, model, params) if model is not None else None
    return _labels(index, params, names, modules)


def _labels(
    index: GraphIndex,
    params: list[tuple[str, Tensor]],
    names: Mapping[Any, Any] | None,
    modules: _Modules | None,
) -> list[str]:
    found = _names(index, params, names)
    if modules is not None:
        for i, name in _role_names(index, modules).items():
            found[i] = found[i] or name
    for i, t in enumerate(index.tensors):
        if found[i] is None:
            constant = role(t) == "constant"
            found[i] = values_text(t.data, oneline=True) if constant else f"t{i}"
    return [n or "" for n in found]


#: Ops whose output, right after a layer, is that layer's activation ``layer<k>.a``.
ACTIVATION_OPS = ("Sigmoid", "ReLU", "Tanh")


def role_names(index: GraphIndex, model: Any) -> dict[int, str]:
    """Names by role in ``model``, by position in the walk: ``x`` for the data the model reads
    (``x0``, ``x1`` for several), ``loss`` for a scalar root, ``layer<k>.z`` for the output of
    the k-th module that holds parameters (in the model's order: ``layers.0`` of an MLP is
    layer 1, ``layers.2`` layer 2) and ``layer<k>.a`` for an activation (:data:`ACTIVATION_OPS`)
    applied to it outside any layer. Which op ran in which module is inferred as for the
    clusters of :func:`draw`."""
    params = _named_parameters(model)
    return _role_names(index, _assign_modules(index, model, params))


def _role_names(index: GraphIndex, modules: _Modules) -> dict[int, str]:
    tensors, cluster = index.tensors, modules.cluster
    found: dict[int, str] = {}
    root = len(index) - 1
    if tensors[root].data.ndim == 0:
        found[root] = "loss"
    layers = modules.layers
    for k, path in enumerate(layers, start=1):
        outputs = [
            i
            for i, t in enumerate(tensors)
            if t._ctx is not None
            and cluster[i] == path
            and (i == root or any(cluster[j] != path for j, _ in index.consumers[i]))
        ]
        for n, i in enumerate(outputs):
            tag = f"#{n + 1}" if n else ""
            found.setdefault(i, f"layer{k}.z{tag}")
            for j, _ in index.consumers[i]:
                op = tensors[j]._ctx
                if op is not None and op.op_name in ACTIVATION_OPS and cluster[j] not in layers:
                    found.setdefault(j, f"layer{k}.a{tag}")
    data = [
        i
        for i, t in enumerate(tensors)
        if role(t) == "input" and any(cluster[j] is not None for j, _ in index.consumers[i])
    ]
    for n, i in enumerate(data):
        found.setdefault(i, "x" if len(data) == 1 else f"x{n}")
    return found


# --------------------------------------------------------------------------- modules
def _within(q: str, p: str) -> bool:
    """Is module path q inside (or equal to) module path p? ("" is the model itself)."""
    return p == "" or q == p or q.startswith(p + ".")


def _resolve(model: Any, path: str) -> Any:
    """The object at dotted ``path`` ("layers.0"): attribute, else item; None if not found."""
    obj = model
    for part in path.split(".") if path else []:
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = obj[int(part)] if part.lstrip("-").isdigit() else obj[part]
        except (TypeError, IndexError, KeyError):
            return None
    return obj


@dataclass
class _Modules:
    """The module tree, and which module each tensor of the walk is drawn in."""

    kinds: dict[str, str]  # module path -> class name ("" is the model)
    parent: dict[str, str | None]  # module path -> path of the module containing it
    owner: dict[int, str] = field(default_factory=dict)  # id(parameter) -> its module's path
    cluster: list[str | None] = field(default_factory=list)  # by position; None: outside

    @property
    def layers(self) -> list[str]:
        """The modules that hold parameters themselves (a Linear, not the MLP around it), in
        the model's order: layer 1, layer 2, ..."""
        held = set(self.owner.values())
        return [p for p in self.kinds if p in held]

    def title(self, path: str) -> str:
        """A module's caption: ``layers.0: Linear (layer1)``, or its class for the model."""
        kind = self.kinds.get(path, "?")
        text = f"{path}: {kind}" if path else kind
        layers = self.layers
        return f"{text} (layer{layers.index(path) + 1})" if path in layers else text

    def chain(self, path: str) -> list[str]:
        """The module at ``path`` and every module containing it."""
        out: list[str] = []
        p: str | None = path
        while p is not None:
            out.append(p)
            p = self.parent[p]
        return out

    def depth(self, path: str) -> int:
        return len(self.chain(path))


def _module_tree(model: Any, params: list[tuple[str, Tensor]]) -> _Modules:
    """Module paths from ``model.named_modules()`` (else from the parameter names)."""
    named = getattr(model, "named_modules", None)
    if named is not None:
        kinds = {name: type(m).__name__ for name, m in named()}
    else:
        kinds = {"": type(model).__name__}
        for name, _ in params:
            parts = name.split(".")[:-1]
            for k in range(1, len(parts) + 1):
                path = ".".join(parts[:k])
                obj = _resolve(model, path)
                if hasattr(obj, "named_parameters"):
                    kinds[path] = type(obj).__name__
    parent: dict[str, str | None] = {}
    for path in kinds:
        containing = [q for q in kinds if q != path and _within(path, q)]
        parent[path] = max(containing, key=len) if containing else None
    owner = {}
    for name, p in params:
        containing = [q for q in kinds if q == "" or name.startswith(q + ".")]
        owner[id(p)] = max(containing, key=len) if containing else ""
    return _Modules(kinds, parent, owner)


def _assign_modules(index: GraphIndex, model: Any, params: list[tuple[str, Tensor]]) -> _Modules:
    """Place parameters in their module, and ops in the module that runs them.

    The engine does not record which module ran an op, so this infers it:

    1. a parameter belongs to its module (``layers.0.weight`` -> ``layers.0``);
    2. an op belongs to module M if one of its inputs is a parameter of M or computed from M's
       parameters alone (``W.T`` in ``x @ W.T + b``);
    3. any other op belongs to the innermost module that has ops of rule 2 both upstream and
       downstream of it (the sigmoid between two Linear layers lies in the MLP around them).
    """
    modules = _module_tree(model, params)
    direct = _direct_modules(index, modules)
    n = len(index)
    upstream = _modules_along(range(n), index.parents, modules, direct)
    downstream = _modules_along(
        reversed(range(n)), lambda i: [j for j, _ in index.consumers[i]], modules, direct
    )
    cluster = list(direct)
    for i, t in enumerate(index.tensors):
        if cluster[i] is None and t._ctx is not None:  # rule 3
            common = upstream[i] & downstream[i]
            if common:
                cluster[i] = max(common, key=lambda q: (modules.depth(q), q))
    modules.cluster = cluster
    return modules


def _direct_modules(index: GraphIndex, modules: _Modules) -> list[str | None]:
    """Rules 1 and 2 by position: a parameter's module; an op's, from the first input that is a
    parameter or is computed from one module's parameters alone; None for the rest."""
    owner = modules.owner
    n = len(index)
    direct: list[str | None] = [None] * n
    derived: list[str | None] = [None] * n  # computed from one module's parameters alone
    for i, t in enumerate(index.tensors):
        if id(t) in owner:
            direct[i] = derived[i] = owner[id(t)]
            continue
        if t._ctx is None:
            continue
        parents = index.parents(i)
        for p in parents:
            if derived[p] is not None:
                direct[i] = derived[p]
                break
        sources = {derived[p] for p in parents if role(index.tensors[p]) != "constant"}
        if len(sources) == 1 and None not in sources:
            derived[i] = sources.pop()
    return direct


def _modules_along(
    order: Iterable[int],
    links: Callable[[int], list[int]],
    modules: _Modules,
    direct: list[str | None],
) -> list[set[str]]:
    """For each position i, the modules (and the modules containing them) of the tensors
    placed by rules 1-2 that are reachable from i along ``links``: ``index.parents`` gives the
    modules upstream of i, the consumers those downstream. ``order`` visits a tensor's links
    before the tensor."""
    reached: list[set[str]] = [set() for _ in direct]
    for i in order:
        for k in links(i):
            reached[i] |= reached[k]
            if direct[k] is not None:
                reached[i].update(modules.chain(direct[k]))
    return reached


# --------------------------------------------------------------------------- labels
def _op_label(t: Tensor) -> str:
    ctx = t._ctx
    assert ctx is not None
    extras = []
    for attr in ("axis", "axes", "kernel", "stride", "padding"):
        value = getattr(ctx, attr, None)
        if value is not None and not callable(value):
            extras.append(f"{attr}={value}")
    if ctx.op_name == "Reshape":
        extras.append(shape_text(t.shape))
    index = getattr(ctx, "index", None)
    if ctx.op_name == "Index" and index is not None:
        extras.append(_index_text(index))
    return "\n".join([ctx.op_name, *extras])


def _index_text(index: Any) -> str:
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, np.ndarray):
            out.append(f"int{shape_text(p.shape)}" if p.size > 4 else values_text(p, oneline=True))
        elif isinstance(p, slice):
            out.append(":" if p == slice(None) else f"{p.start or ''}:{p.stop or ''}")
        else:
            out.append(repr(p))
    return "[" + ", ".join(out) + "]"


def _escape(text: str, left: bool = False) -> str:
    """DOT label text: backslashes escaped, line ends as DOT's \\n (centred) or \\l (left)."""
    end = "\\l" if left else "\\n"
    text = text.replace("\\", "\\\\").replace("\n", end)
    return text + end if left else text


@dataclass
class FrameStyle:
    """What one frame of a backward trace shows on top of the graph (see :func:`draw_frame`).

    Tensors are given by their position ``i`` in the walk (node ``t<i>``):

    * ``grads[i] = (g, partial)``: the gradient dL/d(t_i) known so far, drawn in the node as
      ``grad`` (``grad so far`` when ``partial``: more contributions are still to come);
    * ``current``: the tensor being processed, drawn (with its op) in red (:data:`HIGHLIGHT`);
    * ``received``: the tensors that have just been sent a gradient, drawn in orange
      (:data:`RECEIVED`);
    * ``sent_args``: the argument positions of the current op that were sent a gradient; their
      edges into the op are drawn in red;
    * ``arrived``: the edges ``(j, arg)`` (into the op that made tensor j, from its argument
      ``arg``) along which the gradients summed at the current tensor came back, drawn in
      orange: one per path;
    * ``title``: the frame's caption (else the ``title`` given to :func:`draw_frame`);
    * ``value_name``: what the values in ``grads`` are called in the nodes (``"tangent"`` for a
      forward-mode sweep).
    """

    grads: dict[int, tuple[np.ndarray, bool]]
    current: int | None = None
    received: set[int] = field(default_factory=set)
    sent_args: set[int] = field(default_factory=set)
    arrived: set[tuple[int, int]] = field(default_factory=set)
    title: str | None = None
    value_name: str = "grad"


def _tensor_label(
    t: Tensor,
    name: str,
    kind: str,
    show_data: bool,
    show_grad: bool,
    max_values: int,
    grad: tuple[np.ndarray, bool] | None,
    value_name: str = "grad",
) -> str:
    if kind == "constant":
        lines = [values_text(t.data, max_values, oneline=True)]
    else:
        head = f"{name}  {shape_text(t.shape)}"
        lines = [head]
        if t.dtype.kind != "f":
            lines[0] += f" {t.dtype}"
        if show_data:
            lines.append("data " + values_text(t.data, max_values))
    if show_grad and grad is not None:
        g, partial = grad
        lines.append(f"{value_name}{' so far' if partial else ''} " + values_text(g, max_values))
    return _escape("\n".join(lines), left=len(lines) > 1)


# --------------------------------------------------------------------------- draw
def draw(
    tensor: Tensor,
    *,
    model: Any = None,
    names: Mapping[Any, Any] | None = None,
    show_data: bool = False,
    show_grad: bool = False,
    rankdir: str = "auto",
    collapse: str | None = None,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    max_values: int = MAX_VALUES,
    title: str | None = None,
) -> Graph:
    """The computation graph that produced ``tensor``, as a ``graphviz.Digraph``.

    * ``model``: an ``nn.Module``; its parameters get their dotted names (``layers.0.weight``)
      and each module becomes a labelled cluster around its parameters and ops.
    * ``names``: extra names, ``{"h": h}`` (or ``{h: "h"}``); a tensor's own ``.name`` is used too.
    * ``show_data`` / ``show_grad``: add the values (tensors of at most ``max_values``
      elements) or ``mean, std, min, max`` (larger ones) of ``.data`` / ``.grad``. Only leaves
      and tensors that ``retain_grad()`` keep a ``.grad``; ``Trace.draw()`` shows every
      gradient of a traced backward.
    * ``rankdir``: ``"LR"`` (data flows left to right, ops between tensors), ``"TB"`` (top to
      bottom, the main chain of tensors in one column, each op beside the tensor it makes), or
      ``"auto"``: the one whose picture fits a 1280x720 projector best among those between
      1:2 and 2:1 (:func:`choose_rankdir`).
    * ``model`` also names the tensors it leaves unnamed by their role (:func:`role_names`).
    * ``collapse="module"``: draw each innermost module (e.g. a Linear) as one node.
    * ``max_nodes``: refuse (GraphTooLargeError) to draw more nodes than this; None: no limit.

    The result's ``.source`` is the DOT text (no ``dot`` binary needed); in Jupyter it displays
    as an SVG; :func:`render` writes it to a file.
    """
    _check_options(rankdir, collapse, model)
    return _build(
        walk(tensor),
        None,
        model=model,
        names=names,
        show_data=show_data,
        show_grad=show_grad,
        rankdir=rankdir,
        collapse=collapse,
        max_nodes=max_nodes,
        max_values=max_values,
        title=title,
    )


def draw_frame(
    index: GraphIndex,
    frame: FrameStyle,
    *,
    model: Any = None,
    names: Mapping[Any, Any] | None = None,
    show_data: bool = False,
    rankdir: str = "auto",
    collapse: str | None = None,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    max_values: int = MAX_VALUES,
    title: str | None = None,
) -> Graph:
    """One frame of a backward trace: the graph of ``index.root`` as :func:`draw` draws it,
    with the gradients, highlights and caption of ``frame``.

    ``index`` is the walk (:func:`walk`) the positions in ``frame`` refer to. Every node shows
    the gradient ``frame.grads`` holds for it (none if it holds none), whatever ``.grad`` says.
    The other arguments are those of :func:`draw`.
    """
    _check_options(rankdir, collapse, model)
    return _build(
        index,
        frame,
        model=model,
        names=names,
        show_data=show_data,
        show_grad=False,
        rankdir=rankdir,
        collapse=collapse,
        max_nodes=max_nodes,
        max_values=max_values,
        title=frame.title or title,
    )


def _check_options(rankdir: str, collapse: str | None, model: Any) -> None:
    """Raise ValueError for a ``rankdir`` or ``collapse`` that draw does not know."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be 'auto', 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    if collapse not in _COLLAPSE_MODES:
        raise ValueError(f"draw: collapse must be None or 'module', got {collapse!r}")
    if collapse == "module" and model is None:
        raise ValueError("draw: collapse='module' needs the model: draw(loss, model=model, ...)")


def _build(
    index: GraphIndex,
    frame: FrameStyle | None,
    *,
    model: Any,
    names: Mapping[Any, Any] | None,
    show_data: bool,
    show_grad: bool,
    rankdir: str,
    collapse: str | None,
    max_nodes: int | None,
    max_values: int,
    title: str | None,
) -> Graph:
    """The Digraph of the walk ``index``: lay the tensors out, check the size, then emit the
    nodes (cluster by cluster) and the edges (in data-flow order)."""
    layout = _layout(index, model, names, collapse)
    _check_size(layout, max_nodes, model is not None, collapse)
    groups = _tensor_nodes(layout, frame, show_data, show_grad, max_values)
    _add_box_nodes(groups, layout)

    def graph(direction: str) -> Graph:
        g = _digraph(direction, title)
        beside = direction in ("TB", "BT")
        _emit_groups(g, groups, layout.modules, beside=beside)
        _emit_edges(g, layout, frame)
        if beside and layout.modules is None:  # a model's clusters give the layout already
            _emit_spine(g, layout)
        return g

    return graph(choose_rankdir(graph) if rankdir == "auto" else rankdir)


# --------------------------------------------------------------------------- direction
RANKDIRS = ("auto", "LR", "TB", "RL", "BT")
#: The screen a drawing should fit: a projector's 1280x720 pixels, in inches at 96 dpi.
PROJECTOR = (1280 / 96, 720 / 96)
#: The widest and the tallest aspect ratio (width / height) ``rankdir="auto"`` aims for.
ASPECT_RANGE = (0.5, 2.0)
#: Beyond this many nodes ``rankdir="auto"`` estimates the sizes instead of laying out twice.
MEASURE_NODES = 150


def choose_rankdir(graph: Callable[[str], graphviz.Digraph]) -> str:
    """``"LR"`` or ``"TB"``, for the picture ``graph(direction)``: each is laid out by ``dot``
    (estimated where ``dot`` is missing or the graph is large), and among the directions whose
    aspect ratio lies in :data:`ASPECT_RANGE` (all, if none does) the one that can be shown
    largest on a :data:`PROJECTOR` wins; LR on a tie."""
    sizes = {d: graph_size(graph(d)) for d in ("LR", "TB")}
    low, high = ASPECT_RANGE
    fitting = [d for d, (w, h) in sizes.items() if low <= w / h <= high] or list(sizes)

    def scale(d: str) -> float:
        w, h = sizes[d]
        return min(PROJECTOR[0] / w, PROJECTOR[1] / h)

    return max(fitting, key=lambda d: (round(scale(d), 3), d == "LR"))


def graph_size(graph: graphviz.Digraph) -> tuple[float, float]:
    """(width, height) in inches of the laid-out ``graph``: from ``dot -Tplain``, or estimated
    from its ranks where ``dot`` is missing or the graph has over :data:`MEASURE_NODES` nodes."""
    source = graph.source
    nodes = set(re.findall(r"^\s*(\w+) \[", source, re.M)) - {"graph", "node", "edge"}
    if len(nodes) <= MEASURE_NODES and shutil.which("dot") is not None:
        try:
            first = graph.pipe(format="plain").decode().split("\n", 1)[0].split()
            return float(first[2]), float(first[3])
        except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, IndexError):
            pass
    return _estimated_size(source, nodes)


def _estimated_size(source: str, nodes: set[str]) -> tuple[float, float]:
    """A rough layout: ranks along the longest path, the nodes spread evenly across them;
    with ops beside their tensors (``rank=same``), each pair shares a rank."""
    edges = re.findall(r"^\s*(\w+) -> (\w+)", source, re.M)
    beside = "rank=same" in source
    depth = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):  # relax: edges come in data-flow order, so this ends early
        changed = False
        for a, b in edges:
            step = 0 if beside and a.startswith("op") and b == "t" + a[2:] else 1
            if depth.get(b, 0) < depth.get(a, 0) + step:
                depth[b], changed = depth.get(a, 0) + step, True
        if not changed:
            break
    ranks = max(depth.values(), default=0) + 1
    across = max(1.0, len(nodes) / ranks)
    if "rankdir=LR" in source or "rankdir=RL" in source:
        return ranks * 1.6, across * 0.8
    return across * 1.6, ranks * 0.8


# --------------------------------------------------------------------------- layout
@dataclass
class _Layout:
    """Which node each tensor of the walk is drawn as, and in which cluster.

    With ``collapse="module"`` each innermost module becomes one node, a *box* (id ``m<k>``):
    the tensors made and used only inside it are ``hidden`` in it; those made inside it and used
    outside (or drawn as the output) are its ``outputs``, drawn next to it without their op.
    """

    index: GraphIndex
    labels: list[str]  # display name by position
    modules: _Modules | None  # with model=: the module tree and each tensor's cluster
    boxes: dict[str, set[int]] = field(default_factory=dict)  # module path -> its positions
    hidden: dict[int, str] = field(default_factory=dict)  # position -> box it is hidden in
    outputs: dict[int, str] = field(default_factory=dict)  # position -> box that made it
    box_ids: dict[str, str] = field(default_factory=dict)  # module path -> node id m<k>

    def cluster(self, i: int) -> str | None:
        """The cluster tensor i (and its op) is drawn in; None: at the top level."""
        if i in self.outputs:
            return _parent_cluster(self.outputs[i], self.modules)
        return self.modules.cluster[i] if self.modules is not None else None

    def inside(self, i: int, box: str) -> bool:
        """Is tensor i made in the collapsed module ``box`` (hidden in it or its output)?"""
        return self.hidden.get(i) == box or self.outputs.get(i) == box

    def node_id(self, i: int) -> str:
        """The node that stands for tensor i: ``t<i>``, or the box it is hidden in."""
        return self.box_ids[self.hidden[i]] if i in self.hidden else f"t{i}"

    def node_count(self) -> int:
        """Boxes, plus the tensors and ops drawn (a box's outputs are drawn without their op)."""
        return len(self.boxes) + sum(
            (i not in self.hidden)
            + (t._ctx is not None and i not in self.hidden and i not in self.outputs)
            for i, t in enumerate(self.index.tensors)
        )


def _layout(
    index: GraphIndex, model: Any, names: Mapping[Any, Any] | None, collapse: str | None
) -> _Layout:
    """Name the tensors, place them in the model's modules, and collapse modules on request."""
    params = _named_parameters(model)
    modules = _assign_modules(index, model, params) if model is not None else None
    labels = _labels(index, params, names, modules)
    layout = _Layout(index, labels, modules)
    if collapse == "module" and modules is not None:
        _collapse_modules(layout, modules)
    return layout


def _collapse_modules(layout: _Layout, modules: _Modules) -> None:
    """Make each innermost module that holds tensors a box; sort its tensors into hidden ones
    and outputs (made by an op inside, and used outside or the root)."""
    index = layout.index
    used = {c for c in modules.cluster if c is not None}
    inner = {q for c in used for q in modules.chain(c)[1:]}  # modules holding others
    for path in sorted(used - inner):
        layout.boxes[path] = {i for i, c in enumerate(modules.cluster) if c == path}
    root = len(index) - 1
    for path, members in layout.boxes.items():
        for i in members:
            used_outside = i == root or any(j not in members for j, _ in index.consumers[i])
            if used_outside and index.tensors[i]._ctx is not None:
                layout.outputs[i] = path
            else:
                layout.hidden[i] = path
    layout.box_ids = {path: f"m{k}" for k, path in enumerate(sorted(layout.boxes))}


def _check_size(
    layout: _Layout, max_nodes: int | None, has_model: bool, collapse: str | None
) -> None:
    """Raise GraphTooLargeError, saying how to draw less, if there are over max_nodes nodes."""
    count = layout.node_count()
    if max_nodes is None or count <= max_nodes:
        return
    tensors = layout.index.tensors
    n_ops = sum(1 for t in tensors if t._ctx is not None)
    if not has_model:
        hint = "pass model=... and collapse='module' to draw each module as one node, "
    elif collapse is None:
        hint = "pass collapse='module' to draw each module as one node, "
    else:
        hint = ""
    raise GraphTooLargeError(
        f"draw: the graph has {count} nodes ({len(tensors)} tensors, {n_ops} ops), more than "
        f"max_nodes={max_nodes}; {hint}draw a smaller part of it, or raise max_nodes "
        "(None for no limit)"
    )


def _parent_cluster(path: str, modules: _Modules | None) -> str | None:
    """The cluster a collapsed module's node is drawn in: the module containing it."""
    return None if modules is None else modules.parent.get(path)


# --------------------------------------------------------------------------- nodes and edges
#: Nodes by the cluster they are drawn in (None: the top level): (node id, attributes).
_Groups = dict[str | None, list[tuple[str, dict[str, str]]]]


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` that shows in Jupyter even where graphviz's ``dot`` is missing:
    then as its DOT source and how to install graphviz, instead of an error."""

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except graphviz.ExecutableNotFound:
            note = f"(no picture: graphviz's dot is missing; {INSTALL_HINT})"
            return {"text/plain": f"{self.source}\n{note}"}


def _digraph(rankdir: str, title: str | None) -> Graph:
    """An empty graph with the fonts, spacing and caption of every drawing (a long caption in
    lines of at most :data:`TITLE_WIDTH` characters)."""
    g = Graph(name="computation_graph")
    g.attr(rankdir=rankdir, fontname=FONT, nodesep="0.25", ranksep="0.35")
    g.attr("node", fontname=FONT, fontsize="11")
    g.attr("edge", fontname=FONT, fontsize="10", color="#555555")
    if title:
        g.attr(label=_escape(wrap_title(title)), labelloc="t", fontsize="13")
    return g


def wrap_title(title: str, width: int = TITLE_WIDTH) -> str:
    """``title`` in lines of at most ``width`` characters, broken after a ``:`` or ``,`` where
    possible (``h = sigmoid(z1)`` stays on one line), else between words."""
    pieces = [p for p in re.split(r"(?<=[:,]) ", title) if p]
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines += textwrap.wrap(piece, width) or [piece]
    return "\n".join(lines)


def _tensor_nodes(
    layout: _Layout,
    frame: FrameStyle | None,
    show_data: bool,
    show_grad: bool,
    max_values: int,
) -> _Groups:
    """A box per tensor drawn and an ellipse per op drawn, each op after its output tensor."""
    groups: _Groups = {}
    root = len(layout.index) - 1
    for i, t in enumerate(layout.index.tensors):
        if i in layout.hidden:
            continue
        group = groups.setdefault(layout.cluster(i), [])
        kind = role(t, is_root=i == root)
        if frame is not None:
            grad = frame.grads.get(i)
        else:
            grad = (t.grad, False) if show_grad and t.grad is not None else None
        name = layout.labels[i]
        value_name = "grad" if frame is None else frame.value_name
        text = _tensor_label(
            t, name, kind, show_data, show_grad or frame is not None, max_values, grad, value_name
        )
        group.append((f"t{i}", _tensor_attrs(text, name, kind) | _frame_mark(i, frame)))
        if t._ctx is not None and i not in layout.outputs:
            current = frame is not None and i == frame.current
            group.append((f"op{i}", _op_attrs(t, current)))
    return groups


def _tensor_attrs(label: str, name: str, kind: str) -> dict[str, str]:
    """A tensor's box, filled with the colour of its role (a constant: smaller, square)."""
    attrs = {
        "label": label,
        "shape": "box",
        "style": "filled,rounded" if kind != "constant" else "filled",
        "fillcolor": ROLE_COLORS[kind],
        "tooltip": f"{name}: {kind}",
    }
    if kind == "constant":
        attrs["fontsize"] = "10"
    return attrs


def _frame_mark(i: int, frame: FrameStyle | None) -> dict[str, str]:
    """Tensor i's outline in a trace frame: red if current, orange if it just got a gradient."""
    if frame is not None and i == frame.current:
        return {"color": HIGHLIGHT, "penwidth": "3"}
    if frame is not None and i in frame.received:
        return {"color": RECEIVED, "penwidth": "2"}
    return {}


def _op_attrs(t: Tensor, current: bool) -> dict[str, str]:
    """The ellipse of the op that made ``t``; red when a trace frame is at it."""
    attrs = {
        "label": _escape(_op_label(t)),
        "shape": "ellipse",
        "style": "filled",
        "fillcolor": OP_COLOR,
        "fontsize": "11",
    }
    if current:
        attrs.update(color=HIGHLIGHT, penwidth="3")
    return attrs


def _add_box_nodes(groups: _Groups, layout: _Layout) -> None:
    """One 3-D box per collapsed module: its path, class and parameters' shapes."""
    for path, box_id in layout.box_ids.items():
        assert layout.modules is not None
        plist = [
            f"{layout.labels[i].rpartition('.')[2]} {shape_text(layout.index.tensors[i].shape)}"
            for i in sorted(layout.boxes[path])
            if layout.index.tensors[i]._ctx is None
        ]
        text = "\n".join([layout.modules.title(path), *plist])  # "" is the model
        attrs = {
            "label": _escape(text),
            "shape": "box3d",
            "style": "filled",
            "fillcolor": MODULE_COLOR,
        }
        groups.setdefault(_parent_cluster(path, layout.modules), []).append((box_id, attrs))


def _emit_groups(
    g: graphviz.Digraph, groups: _Groups, modules: _Modules | None, beside: bool = False
) -> None:
    """Top-level nodes, then one nested cluster per module that has something in it; with
    ``beside``, each op on the rank of the tensor it makes."""
    _emit_nodes(g, groups.get(None, []), beside)
    if modules is None:
        return
    paths = list(modules.kinds)  # named_modules order: each module before the ones it holds
    has_content = {q for c in groups if c is not None for q in modules.chain(c)}
    cluster_ids = {p: k for k, p in enumerate(paths)}

    def emit(parent: graphviz.Digraph, path: str) -> None:
        with parent.subgraph(name=f"cluster_{cluster_ids[path]}") as c:
            c.attr(
                label=modules.title(path),
                style="rounded,dashed",
                color="#4a78b5",
                fontcolor="#4a78b5",
                fontsize="11",
                labeljust="l",
            )
            _emit_nodes(c, groups.get(path, []), beside)
            for child in paths:
                if child in has_content and modules.parent[child] == path:
                    emit(c, child)

    for path in paths:
        if path in has_content and modules.parent[path] is None:
            emit(g, path)


def _emit_nodes(g: graphviz.Digraph, nodes: list[tuple[str, dict[str, str]]], beside: bool) -> None:
    """The nodes of one cluster; with ``beside``, each op ``op<i>`` and its tensor ``t<i>`` side
    by side in one rank, in a borderless cluster of their own (``cluster_pair<i>``), so that no
    other node comes between them."""
    for node_id, attrs in nodes:
        g.node(node_id, **attrs)
    for node_id, _ in nodes if beside else []:
        if node_id.startswith("op"):
            with g.subgraph(name=f"cluster_pair{node_id[2:]}") as pair:
                pair.attr(peripheries="0", label="", margin="4")
                with pair.subgraph() as row:
                    row.attr(rank="same")
                    row.node(node_id)
                    row.node("t" + node_id[2:])


def _emit_edges(g: graphviz.Digraph, layout: _Layout, frame: FrameStyle | None) -> None:
    """The edges in data-flow order: into each op (labelled by argument) and out to its
    output; a collapsed module gets one edge from each outside input and to each output."""
    box_inputs: set[tuple[int, str]] = set()  # (input, box) edges already drawn
    for i, t in enumerate(layout.index.tensors):
        if t._ctx is None:
            continue
        box = layout.hidden[i] if i in layout.hidden else layout.outputs.get(i)  # "": the model
        for arg, p in enumerate(layout.index.parents(i)):
            if box is None:
                g.edge(layout.node_id(p), f"op{i}", **_arg_edge_attrs(i, arg, frame))
            elif not layout.inside(p, box) and (p, box) not in box_inputs:
                box_inputs.add((p, box))
                g.edge(layout.node_id(p), layout.box_ids[box])
        if i in layout.outputs:
            g.edge(layout.box_ids[layout.outputs[i]], f"t{i}")
        elif i not in layout.hidden:
            g.edge(f"op{i}", f"t{i}")


def _emit_spine(g: graphviz.Digraph, layout: _Layout) -> None:
    """Drawn top to bottom, keep each op's output under its first argument (an invisible,
    heavy edge): the main chain of tensors reads down one column, each op beside the tensor it
    makes, instead of a staircase drifting sideways by an op per row."""
    for i, t in enumerate(layout.index.tensors):
        if t._ctx is not None and i not in layout.hidden and i not in layout.outputs:
            first = layout.index.parents(i)[:1]
            for p in first:
                g.edge(layout.node_id(p), f"t{i}", style="invis", weight="8")


def _arg_edge_attrs(i: int, arg: int, frame: FrameStyle | None) -> dict[str, str]:
    """The edge into op i from its argument ``arg``: red when the current step sent it a grad."""
    attrs = {"label": str(arg)}
    if frame is not None and frame.current == i and arg in frame.sent_args:
        attrs.update(color=HIGHLIGHT, penwidth="2", fontcolor=HIGHLIGHT)
    elif frame is not None and (i, arg) in frame.arrived:
        attrs.update(color=RECEIVED, penwidth="2", fontcolor=RECEIVED, style="dashed")
    return attrs


# --------------------------------------------------------------------------- render
INSTALL_HINT = (
    "install graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz;"
    " conda: conda install graphviz)"
)


def render(
    graph: graphviz.Digraph | graphviz.Graph,
    path: str | os.PathLike[str],
    format: str | None = None,
) -> Path:
    """Write ``graph`` to ``path`` as SVG, PNG or PDF (from ``format`` or the file's suffix).

    Needs graphviz's ``dot`` program on PATH. Without it, writes the DOT text next to ``path``
    (``graph.svg`` -> ``graph.dot``), prints one line saying how to install graphviz, and
    returns the ``.dot`` path. ``format="dot"`` (or a ``.dot`` path) always writes DOT text.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt not in ("svg", "png", "pdf", "dot", "gv"):
        raise ValueError(f"render: format must be svg, png, pdf or dot, got {fmt!r}")
    if not path.suffix:
        path = path.with_suffix("." + fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("dot", "gv"):
        path.write_text(graph.source)
        return path
    if shutil.which("dot") is None:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(graph.source)
        print(
            f"render: graphviz's `dot` is not on PATH, so wrote {dot_path} instead of {path}; "
            f"{INSTALL_HINT}, then: dot -T{fmt} {dot_path} -o {path}",
            file=sys.stderr,
        )
        return dot_path
    path.write_bytes(graph.pipe(format=fmt))
    return path


def svg_text(graph: graphviz.Digraph) -> str:
    """The graph as an SVG document (needs ``dot``)."""
    return graph.pipe(format="svg").decode("utf-8")
