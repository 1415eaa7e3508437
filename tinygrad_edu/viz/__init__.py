"""See backprop happen: draw computation graphs and trace backward step by step.

* :func:`draw` -- the graph behind a tensor as a ``graphviz.Digraph`` (``.source`` is DOT text;
  Jupyter shows it inline); :func:`render` writes it to SVG/PNG/PDF (or ``.dot`` without graphviz).
* :func:`trace` -- ``with trace() as t: loss.backward()`` records every backward step:
  ``print(t)``, ``t.steps``, ``t.frames()``, ``t.to_html(path)``.
"""

from .graph import ROLE_COLORS, GraphTooLargeError, draw, render, walk
from .trace import SentGrad, Trace, TraceStep, trace

__all__ = [
    "ROLE_COLORS",
    "GraphTooLargeError",
    "SentGrad",
    "Trace",
    "TraceStep",
    "draw",
    "render",
    "trace",
    "walk",
]
