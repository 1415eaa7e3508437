"""See backprop happen: draw computation graphs and trace backward step by step.

* :func:`draw` -- the graph behind a tensor as a :class:`Graph`, a ``graphviz.Digraph``
  (``.source`` is DOT text; Jupyter shows it inline, as DOT text where graphviz is missing);
  :func:`render` writes it to SVG/PNG/PDF (or ``.dot`` without graphviz).
* :func:`draw_frame` -- one frame of a backward trace: the graph with the gradients known so far
  and the current step highlighted, as a :class:`FrameStyle` says.
* :func:`trace` -- ``with trace() as t: loss.backward()`` records every backward step:
  ``print(t)``, ``t.steps``, ``t.frames()``, ``t.to_html(path)``.
* :func:`trace_tangents` -- the same for a forward-mode sweep: every op's tangent, in the order
  the ops run.
"""

from .graph import (
    ROLE_COLORS,
    FrameStyle,
    Graph,
    GraphTooLargeError,
    draw,
    draw_frame,
    render,
    walk,
)
from .tangents import TangentStep, TangentTrace, trace_tangents
from .trace import SentGrad, Trace, TraceStep, trace

__all__ = [
    "ROLE_COLORS",
    "FrameStyle",
    "Graph",
    "GraphTooLargeError",
    "SentGrad",
    "TangentStep",
    "TangentTrace",
    "Trace",
    "TraceStep",
    "draw",
    "draw_frame",
    "render",
    "trace",
    "trace_tangents",
    "walk",
]
