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
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ..tensor import Tensor
from .text import MAX_VALUES, shape_text, values_text

__all__ = [
    "HIGHLIGHT",
    "INSTALL_HINT",
    "OP_COLOR",
    "RECEIVED",
    "ROLE_COLORS",
    "FrameStyle",
    "GraphIndex",
    "GraphTooLargeError",
    "display_names",
    "draw",
    "draw_frame",
    "render",
    "walk",
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
    """Depth-first post-order walk from ``root`` over all parents, in argument order.

    Iterative (no recursion limit). Unlike ``backward``'s sort it also visits tensors that do
    not require grad (inputs, constants), since they belong in the picture.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(root).__name__}")
    order: list[Tensor] = []
    position: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            position[id(node)] = len(order)
            order.append(node)
            continue
        if id(node) in position or id(node) in visiting:
            continue
        visiting.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in reversed(node._ctx.parents):  # first argument is visited first
                if id(parent) not in position and id(parent) not in visiting:
                    stack.append((parent, False))
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
    """Names for every tensor of the walk: given or own name, else ``t<i>``."""
    found = _names(index, _named_parameters(model), names)
    return [n if n is not None else f"t{i}" for i, n in enumerate(found)]


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
    cluster: list[str | None] = field(default_factory=list)  # by position; None: outside

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
    return _Modules(kinds, parent)


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
    owner = {}
    for name, p in params:
        containing = [q for q in modules.kinds if q == "" or name.startswith(q + ".")]
        owner[id(p)] = max(containing, key=len) if containing else ""
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
    upstream: list[set[str]] = [set() for _ in range(n)]
    for i in range(n):
        for p in index.parents(i):
            upstream[i] |= upstream[p]
            if direct[p] is not None:
                upstream[i].update(modules.chain(direct[p]))
    downstream: list[set[str]] = [set() for _ in range(n)]
    for i in reversed(range(n)):
        for j, _ in index.consumers[i]:
            downstream[i] |= downstream[j]
            if direct[j] is not None:
                downstream[i].update(modules.chain(direct[j]))
    cluster = list(direct)
    for i, t in enumerate(index.tensors):
        if cluster[i] is None and t._ctx is not None:
            common = upstream[i] & downstream[i]
            if common:
                cluster[i] = max(common, key=lambda q: (modules.depth(q), q))
    modules.cluster = cluster
    return modules


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
    * ``title``: the frame's caption (else the ``title`` given to :func:`draw_frame`).
    """

    grads: dict[int, tuple[np.ndarray, bool]]
    current: int | None = None
    received: set[int] = field(default_factory=set)
    sent_args: set[int] = field(default_factory=set)
    title: str | None = None


def _tensor_label(
    t: Tensor,
    name: str,
    kind: str,
    show_data: bool,
    show_grad: bool,
    max_values: int,
    grad: tuple[np.ndarray, bool] | None,
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
        lines.append(("grad so far " if partial else "grad ") + values_text(g, max_values))
    return _escape("\n".join(lines), left=len(lines) > 1)


# --------------------------------------------------------------------------- draw
def draw(
    tensor: Tensor,
    *,
    model: Any = None,
    names: Mapping[Any, Any] | None = None,
    show_data: bool = False,
    show_grad: bool = False,
    rankdir: str = "LR",
    collapse: str | None = None,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    max_values: int = MAX_VALUES,
    title: str | None = None,
) -> graphviz.Digraph:
    """The computation graph that produced ``tensor``, as a ``graphviz.Digraph``.

    * ``model``: an ``nn.Module``; its parameters get their dotted names (``layers.0.weight``)
      and each module becomes a labelled cluster around its parameters and ops.
    * ``names``: extra names, ``{"h": h}`` (or ``{h: "h"}``); a tensor's own ``.name`` is used too.
    * ``show_data`` / ``show_grad``: add the values (tensors of at most ``max_values``
      elements) or ``mean, std, min, max`` (larger ones) of ``.data`` / ``.grad``.
    * ``rankdir``: ``"LR"`` (data flows left to right) or ``"TB"`` (top to bottom).
    * ``collapse="module"``: draw each innermost module (e.g. a Linear) as one node.
    * ``max_nodes``: refuse (GraphTooLargeError) to draw more nodes than this; None: no limit.

    The result's ``.source`` is the DOT text (no ``dot`` binary needed); in Jupyter it displays
    as an SVG; :func:`render` writes it to a file.
    """
    return _draw(
        tensor,
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
    rankdir: str = "LR",
    max_nodes: int | None = DEFAULT_MAX_NODES,
    max_values: int = MAX_VALUES,
    title: str | None = None,
) -> graphviz.Digraph:
    """One frame of a backward trace: the graph of ``index.root`` as :func:`draw` draws it,
    with the gradients, highlights and caption of ``frame``.

    ``index`` is the walk (:func:`walk`) the positions in ``frame`` refer to. Every node shows
    the gradient ``frame.grads`` holds for it (none if it holds none), whatever ``.grad`` says.
    The other arguments are those of :func:`draw`.
    """
    return _draw(
        index.root,
        model=model,
        names=names,
        show_data=show_data,
        rankdir=rankdir,
        max_nodes=max_nodes,
        max_values=max_values,
        title=title,
        index=index,
        frame=frame,
    )


def _draw(
    tensor: Tensor,
    *,
    model: Any = None,
    names: Mapping[Any, Any] | None = None,
    show_data: bool = False,
    show_grad: bool = False,
    rankdir: str = "LR",
    collapse: str | None = None,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    max_values: int = MAX_VALUES,
    title: str | None = None,
    index: GraphIndex | None = None,
    frame: FrameStyle | None = None,
) -> graphviz.Digraph:
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw: rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    if collapse not in _COLLAPSE_MODES:
        raise ValueError(f"draw: collapse must be None or 'module', got {collapse!r}")
    if collapse == "module" and model is None:
        raise ValueError("draw: collapse='module' needs the model: draw(loss, model=model, ...)")
    index = index if index is not None else walk(tensor)
    params = _named_parameters(model)
    found = _names(index, params, names)
    labels = [n if n is not None else f"t{i}" for i, n in enumerate(found)]
    modules = _assign_modules(index, model, params) if model is not None else None
    n = len(index)
    root_pos = n - 1

    # which tensors are hidden inside a collapsed module, and the module boxes
    boxes: dict[str, set[int]] = {}
    if collapse == "module" and modules is not None:
        used = {c for c in modules.cluster if c is not None}
        inner = {q for c in used for q in modules.chain(c)[1:]}  # modules holding others
        for path in sorted(used - inner):
            boxes[path] = {i for i, c in enumerate(modules.cluster) if c == path}
    hidden: dict[int, str] = {}  # position -> box it is drawn inside
    box_outputs: dict[int, str] = {}  # tensors made inside a box but used outside: drawn
    for path, members in boxes.items():
        for i in members:
            used_outside = i == root_pos or any(j not in members for j, _ in index.consumers[i])
            if used_outside and index.tensors[i]._ctx is not None:
                box_outputs[i] = path
            else:
                hidden[i] = path

    count = len(boxes) + sum(
        (i not in hidden) + (t._ctx is not None and i not in hidden and i not in box_outputs)
        for i, t in enumerate(index.tensors)
    )
    if max_nodes is not None and count > max_nodes:
        n_ops = sum(1 for t in index.tensors if t._ctx is not None)
        hint = (
            "pass collapse='module' to draw each module as one node, "
            if model is not None and collapse is None
            else "pass model=... and collapse='module' to draw each module as one node, "
            if model is None
            else ""
        )
        raise GraphTooLargeError(
            f"draw: the graph has {count} nodes ({n} tensors, {n_ops} ops), more than "
            f"max_nodes={max_nodes}; {hint}draw a smaller part of it, or raise max_nodes "
            "(None for no limit)"
        )

    g = graphviz.Digraph(name="computation_graph")
    g.attr(rankdir=rankdir, fontname=FONT, nodesep="0.25", ranksep="0.35")
    g.attr("node", fontname=FONT, fontsize="11")
    g.attr("edge", fontname=FONT, fontsize="9", color="#555555")
    label = frame.title if frame is not None and frame.title else title
    if label:
        g.attr(label=_escape(label), labelloc="t", fontsize="13")

    # nodes, grouped by the cluster they are drawn in (None: top level)
    groups: dict[str | None, list[tuple[str, dict[str, str]]]] = {}

    def place(cluster: str | None, node_id: str, attrs: dict[str, str]) -> None:
        groups.setdefault(cluster, []).append((node_id, attrs))

    for i, t in enumerate(index.tensors):
        cluster = modules.cluster[i] if modules is not None else None
        if i in hidden:
            continue
        if i in box_outputs:
            cluster = _parent_cluster(box_outputs[i], modules)
        kind = role(t, is_root=i == root_pos)
        grad = None
        if frame is not None:
            grad = frame.grads.get(i)
        elif show_grad and t.grad is not None:
            grad = (t.grad, False)
        attrs = {
            "label": _tensor_label(
                t, labels[i], kind, show_data, show_grad or frame is not None, max_values, grad
            ),
            "shape": "box",
            "style": "filled,rounded" if kind != "constant" else "filled",
            "fillcolor": ROLE_COLORS[kind],
            "tooltip": f"{labels[i]}: {kind}",
        }
        if kind == "constant":
            attrs["fontsize"] = "9"
        if frame is not None:
            if i == frame.current:
                attrs.update(color=HIGHLIGHT, penwidth="3")
            elif i in frame.received:
                attrs.update(color=RECEIVED, penwidth="2")
        place(cluster, f"t{i}", attrs)
        if t._ctx is not None and i not in box_outputs:
            op_attrs = {
                "label": _escape(_op_label(t)),
                "shape": "ellipse",
                "style": "filled",
                "fillcolor": OP_COLOR,
                "fontsize": "10",
            }
            if frame is not None and i == frame.current:
                op_attrs.update(color=HIGHLIGHT, penwidth="3")
            place(cluster, f"op{i}", op_attrs)

    box_ids = {path: f"m{k}" for k, path in enumerate(sorted(boxes))}
    for path, box_id in box_ids.items():
        assert modules is not None
        members = sorted(boxes[path])
        plist = [
            f"{labels[i].rpartition('.')[2]} {shape_text(index.tensors[i].shape)}"
            for i in members
            if index.tensors[i]._ctx is None
        ]
        text = "\n".join([f"{path}: {modules.kinds.get(path, '?')}", *plist])
        place(
            _parent_cluster(path, modules),
            box_id,
            {
                "label": _escape(text),
                "shape": "box3d",
                "style": "filled",
                "fillcolor": MODULE_COLOR,
            },
        )

    _emit_groups(g, groups, modules)

    # edges, in data-flow order
    current_op = frame.current if frame is not None else None
    box_inputs_done: set[tuple[int, str]] = set()
    for i, t in enumerate(index.tensors):
        if t._ctx is None:
            continue
        inside = hidden.get(i) or box_outputs.get(i)
        for arg, p in enumerate(index.parents(i)):
            if inside is not None:
                if hidden.get(p) == inside or box_outputs.get(p) == inside:
                    continue  # an edge inside the box
                if (p, inside) in box_inputs_done:
                    continue
                box_inputs_done.add((p, inside))
                g.edge(_node_id(p, hidden, box_ids), box_ids[inside])
                continue
            attrs = {"label": str(arg)}
            if current_op == i and frame is not None and arg in frame.sent_args:
                attrs.update(color=HIGHLIGHT, penwidth="2", fontcolor=HIGHLIGHT)
            g.edge(_node_id(p, hidden, box_ids), f"op{i}", **attrs)
        if i in box_outputs:
            g.edge(box_ids[box_outputs[i]], f"t{i}")
        elif i not in hidden:
            g.edge(f"op{i}", f"t{i}")
    return g


def _node_id(i: int, hidden: dict[int, str], box_ids: dict[str, str]) -> str:
    return box_ids[hidden[i]] if i in hidden else f"t{i}"


def _parent_cluster(path: str, modules: _Modules | None) -> str | None:
    """The cluster a collapsed module's node is drawn in: the module containing it."""
    return None if modules is None else modules.parent.get(path)


def _emit_groups(
    g: graphviz.Digraph,
    groups: dict[str | None, list[tuple[str, dict[str, str]]]],
    modules: _Modules | None,
) -> None:
    """Top-level nodes, then one nested cluster per module that has something in it."""
    for node_id, attrs in groups.get(None, []):
        g.node(node_id, **attrs)
    if modules is None:
        return
    paths = list(modules.kinds)  # named_modules order: each module before the ones it holds
    has_content = {q for c in groups if c is not None for q in modules.chain(c)}
    cluster_ids = {p: k for k, p in enumerate(paths)}

    def emit(parent: graphviz.Digraph, path: str) -> None:
        with parent.subgraph(name=f"cluster_{cluster_ids[path]}") as c:
            kind = modules.kinds[path]
            c.attr(
                label=f"{path}: {kind}" if path else kind,
                style="rounded,dashed",
                color="#4a78b5",
                fontcolor="#4a78b5",
                fontsize="11",
                labeljust="l",
            )
            for node_id, attrs in groups.get(path, []):
                c.node(node_id, **attrs)
            for child in paths:
                if child in has_content and modules.parent[child] == path:
                    emit(c, child)

    for path in paths:
        if path in has_content and modules.parent[path] is None:
            emit(g, path)


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
