"""A self-contained HTML page to step through backward, one frame per step.

:func:`write_page` writes it from plain data, one :class:`PageStep` per step (a heading, a text
panel, the frame's DOT source); ``Trace.to_html`` makes those from a trace. One ``<section>``
per step holds the heading, the panel and the frame as inline SVG (made by ``dot -Tsvg``, all
frames in one call); a small inline script shows one section at a time. Nothing is loaded from
the network: no external scripts, styles, fonts or images, and a Content-Security-Policy that
forbids them.

Navigation: the Next/Prev buttons, the arrow keys (also PageUp/PageDown, Home/End). The graph
fills the window below the step's text and scrolls to put the current node in its middle. The URL
fragment ``#step=3`` opens step 3 and follows the current step, which is also always in
``<body data-step="...">``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .graph import HIGHLIGHT, INSTALL_HINT, RECEIVED, ROLE_COLORS

__all__ = ["PageStep", "svg_frames", "write_page"]


@dataclass(frozen=True)
class PageStep:
    """One step of the page: its ``heading`` (``t3 = MatMul(x, W1^T): ...``), its text panel
    ``details``, the ``dot`` source of its frame, and the id of the frame's current ``node``
    (``t3``), which the page scrolls into view."""

    heading: str
    details: str
    dot: str
    node: str


def svg_frames(sources: list[str]) -> list[str] | None:
    """SVG for each DOT source via one ``dot -Tsvg`` run; None when ``dot`` is not on PATH."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    if not sources:
        return []
    out = subprocess.run(
        [dot, "-Tsvg"], input="\n".join(sources).encode(), capture_output=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"to_html: dot failed: {out.stderr.decode(errors='replace').strip()}")
    docs = [d for d in re.split(r"(?=<\?xml )", out.stdout.decode("utf-8")) if d.strip()]
    if len(docs) != len(sources):
        raise RuntimeError(f"to_html: dot returned {len(docs)} SVG documents for {len(sources)}")
    return [_inline_svg(d) for d in docs]


def _inline_svg(doc: str) -> str:
    """An SVG document as an element to inline in HTML: no XML prolog, doctype or comments."""
    doc = re.sub(r"<\?xml[^>]*\?>", "", doc)
    doc = re.sub(r"<!DOCTYPE[^>]*>", "", doc)
    doc = re.sub(r"<!--.*?-->", "", doc, flags=re.S)
    return doc.strip()


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0; color: #222; background: #fafafa; }
header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #ddd;
         padding: 0.6em 1em; display: flex; flex-wrap: wrap; gap: 0.6em 1.2em;
         align-items: center; z-index: 1; }
h1 { font-size: 1.1em; margin: 0; }
nav { display: flex; gap: 0.4em; align-items: center; }
button { font: inherit; padding: 0.25em 0.8em; border: 1px solid #999; border-radius: 4px;
         background: #f3f3f3; cursor: pointer; }
button:disabled { opacity: 0.4; cursor: default; }
#counter { min-width: 8em; text-align: center; font-variant-numeric: tabular-nums; }
.hint { color: #777; font-size: 0.85em; }
main { padding: 0.8em 1em; }
section h2 { font-size: 1em; margin: 0 0 0.4em 0; }
pre { background: #fff; border: 1px solid #e3e3e3; border-radius: 4px; padding: 0.5em 0.7em;
      font-size: 0.95em; overflow-x: auto; margin: 0 0 0.6em 0; }
.graph { background: #fff; border: 1px solid #e3e3e3; border-radius: 4px; padding: 0.3em;
         overflow: auto; }
.graph.fit svg { max-width: 100%; max-height: 100%; height: auto; }
#fit.on { background: #dde8f7; }
.legend { display: flex; flex-wrap: wrap; gap: 0.3em 1em; font-size: 0.85em; margin-top: 0.8em; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border: 1px solid #888;
          vertical-align: -0.1em; margin-right: 0.3em; border-radius: 2px; }
"""

_JS = """
(function () {
  "use strict";
  var frames = Array.prototype.slice.call(document.querySelectorAll("section.frame"));
  var counter = document.getElementById("counter");
  var buttons = {
    first: document.getElementById("first"), prev: document.getElementById("prev"),
    next: document.getElementById("next"), last: document.getElementById("last")
  };
  var current = -1;
  function show(i) {
    if (!frames.length) { return; }
    i = Math.max(0, Math.min(frames.length - 1, i | 0));
    frames.forEach(function (f, k) { f.hidden = k !== i; });
    current = i;
    document.body.setAttribute("data-step", String(i));
    counter.textContent = "step " + i + " of " + (frames.length - 1);
    buttons.first.disabled = buttons.prev.disabled = i === 0;
    buttons.next.disabled = buttons.last.disabled = i === frames.length - 1;
    var node = frames[i].getAttribute("data-node");
    var pane = frames[i].querySelector(".graph");
    var top = pane.getBoundingClientRect().top;
    pane.style.maxHeight = Math.max(240, window.innerHeight - top - 16) + "px";
    var titles = frames[i].querySelectorAll("g.node > title");
    for (var t = 0; t < titles.length; t++) {
      if (titles[t].textContent === node) {
        var box = titles[t].parentNode.getBoundingClientRect();
        var at = pane.getBoundingClientRect();
        pane.scrollLeft += box.left - at.left - pane.clientWidth / 2 + box.width / 2;
        pane.scrollTop += box.top - at.top - pane.clientHeight / 2 + box.height / 2;
        break;
      }
    }
    if (location.hash !== "#step=" + i) {
      try { history.replaceState(null, "", "#step=" + i); } catch (e) { /* file:// */ }
    }
  }
  function fromHash() {
    var m = /step=(\\d+)/.exec(location.hash);
    return m ? parseInt(m[1], 10) : 0;
  }
  function onKey(e) {
    var k = e.key;
    if (k === "ArrowRight" || k === "PageDown" || k === "j") { show(current + 1); }
    else if (k === "ArrowLeft" || k === "PageUp" || k === "k") { show(current - 1); }
    else if (k === "Home") { show(0); }
    else if (k === "End") { show(frames.length - 1); }
    else { return; }
    if (e.preventDefault) { e.preventDefault(); }
  }
  document.addEventListener("keydown", onKey);
  buttons.first.addEventListener("click", function () { show(0); });
  buttons.prev.addEventListener("click", function () { show(current - 1); });
  buttons.next.addEventListener("click", function () { show(current + 1); });
  buttons.last.addEventListener("click", function () { show(frames.length - 1); });
  var fit = document.getElementById("fit");
  fit.addEventListener("click", function () {
    var on = fit.classList.toggle("on");
    frames.forEach(function (f) { f.querySelector(".graph").classList.toggle("fit", on); });
    show(current);
  });
  window.addEventListener("hashchange", function () { show(fromHash()); });
  window.addEventListener("resize", function () { show(current); });
  show(fromHash());
})();
"""


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body data-step="0" data-steps="{steps}">
<header>
<h1>{title}</h1>
<nav>
<button id="first" title="first step (Home)">First</button>
<button id="prev" title="previous step (&#x2190;)">&#x25C0; Prev</button>
<span id="counter">step 0 of {last}</span>
<button id="next" title="next step (&#x2192;)">Next &#x25B6;</button>
<button id="last" title="last step (End)">Last</button>
<button id="fit" title="fit the graph to the window, or show it at full size">Fit</button>
</nav>
<span class="hint">keys: &#x2190; &#x2192; to step, Home / End</span>
</header>
<main>
{note}
{sections}
<div class="legend">{legend}</div>
</main>
<script>{js}</script>
</body>
</html>
"""


def write_page(
    path: str | os.PathLike[str], steps: Sequence[PageStep], title: str | None = None
) -> Path:
    """Write the page stepping through ``steps`` to ``path`` and return the path.

    ``title`` defaults to ``Backward, step by step (N steps)``. Without graphviz's ``dot`` the
    frames are shown as DOT text, under a note saying how to install graphviz.
    """
    if not steps:
        raise ValueError("write_page: there are no steps to show")
    svgs = svg_frames([s.dot for s in steps])
    title = title or f"Backward, step by step ({len(steps)} steps)"
    page = _PAGE.format(
        title=html.escape(title),
        css=_CSS,
        steps=len(steps),
        last=len(steps) - 1,
        note=_missing_dot_note() if svgs is None else "",
        sections="\n".join(
            _section(k, s, None if svgs is None else svgs[k]) for k, s in enumerate(steps)
        ),
        legend=_legend(),
        js=_JS,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _section(k: int, step: PageStep, svg: str | None) -> str:
    """Step k's section (all but step 0 hidden): heading, text panel, and the frame as inline
    SVG, or as DOT text when ``svg`` is None."""
    e = html.escape
    graph = svg if svg is not None else f'<pre class="dot">{e(step.dot)}</pre>'
    return (
        f'<section class="frame" id="frame-{k}" data-step="{k}" '
        f'data-node="{e(step.node)}"{" hidden" if k else ""}>\n'
        f"<h2>Step {k}: {e(step.heading)}</h2>\n"
        f'<pre class="details">{e(step.details)}</pre>\n'
        f'<div class="graph">{graph}</div>\n</section>'
    )


def _legend() -> str:
    """A swatch per tensor role, and the outlines of the current step and of fresh gradients."""
    legend = "".join(
        f'<span><span class="swatch" style="background:{color}"></span>{role}</span>'
        for role, color in ROLE_COLORS.items()
    )
    return legend + (
        f'<span><span class="swatch" style="border:2px solid {HIGHLIGHT}"></span>'
        "current step</span>"
        f'<span><span class="swatch" style="border:2px solid {RECEIVED}"></span>'
        "just received a gradient</span>"
        f'<span><span class="swatch" style="border:none; border-top:2px dashed {RECEIVED}; '
        'height:0; vertical-align:0.2em"></span>a path the current gradient came back along'
        "</span>"
    )


def _missing_dot_note() -> str:
    """The line shown above DOT-text frames: graphviz is missing, and how to install it."""
    return (
        '<p class="hint">graphviz\'s dot was not found, so the frames are DOT text: '
        f"{html.escape(INSTALL_HINT)}.</p>"
    )
