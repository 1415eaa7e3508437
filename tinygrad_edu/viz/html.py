"""A self-contained HTML page to step through a backward trace (see ``Trace.to_html``).

One ``<section>`` per step holds the step's description and its frame as inline SVG (made by
``dot -Tsvg``, all frames in one call); a small inline script shows one section at a time.
Nothing is loaded from the network: no external scripts, styles, fonts or images, and a
Content-Security-Policy that forbids them.

Navigation: the Next/Prev buttons, the arrow keys (also PageUp/PageDown, Home/End). The URL
fragment ``#step=3`` opens step 3 and follows the current step. For automated checks the page
reads ``?keys=ArrowRight,ArrowLeft,...`` (or ``?autoplay=N``, N times ArrowRight) and, once
loaded, dispatches those key events through its own keyboard handler; the current step is
always in ``<body data-step="...">``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from .graph import INSTALL_HINT, ROLE_COLORS
from .text import shape_text, values_text

if TYPE_CHECKING:
    from .trace import Trace, TraceStep

__all__ = ["step_details", "svg_frames", "trace_to_html"]

PAGE_VALUES = 12  # tensors up to this size are shown value by value on the page


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


def step_details(step: TraceStep, max_values: int = PAGE_VALUES) -> str:
    """The text panel of a step: what arrives, the op's rule, what is sent where."""

    def v(prefix: str, a: object) -> str:
        """``prefix`` then the values, a matrix's rows aligned under its first row."""
        text = values_text(a, max_values)  # type: ignore[arg-type]
        pad = " " * (len(prefix) + 1) if text.startswith("[[") else " " * len(prefix)
        return prefix + text.replace("\n", "\n" + pad)

    def field(label: str, text: str) -> str:
        """``label`` in a 10-wide column, continuation lines indented under the text."""
        first, *rest = text.split("\n")
        return "\n".join([f"{label:<10}{first}", *(f"{'':10}{r}" if r else "" for r in rest)])

    lines = [field("arrives", v(f"dL/d{step.name} {shape_text(step.shape)} = ", step.upstream))]
    if step.is_leaf:
        lines.append(field("leaf", f"{step.name}.grad += dL/d{step.name}"))
    else:
        lines.append(field("rule", step.local_derivative()))
        for k, g in enumerate(step.sent):
            text = v(f"dL/d{g.name} {shape_text(g.shape)} = ", g.grad) + f"   (argument {g.arg})"
            lines.append(field("sends" if k == 0 else "", text))
    return "\n".join(lines)


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
      font-size: 0.85em; overflow-x: auto; margin: 0 0 0.6em 0; }
.graph { background: #fff; border: 1px solid #e3e3e3; border-radius: 4px; padding: 0.3em;
         overflow-x: auto; }
.graph.fit svg { max-width: 100%; height: auto; }
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
    var titles = frames[i].querySelectorAll("g.node > title");
    for (var t = 0; t < titles.length; t++) {
      if (titles[t].textContent === node) {
        var box = titles[t].parentNode.getBoundingClientRect();
        var pane = frames[i].querySelector(".graph");
        var left = pane.getBoundingClientRect().left;
        pane.scrollLeft += box.left - left - pane.clientWidth / 2 + box.width / 2;
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
  show(fromHash());
  // Test hook: ?keys=ArrowRight,ArrowLeft or ?autoplay=N presses keys through onKey.
  var query = new URLSearchParams(location.search);
  var keys = (query.get("keys") || "").split(",").filter(Boolean);
  var n = parseInt(query.get("autoplay") || "0", 10) || 0;
  for (var a = 0; a < n; a++) { keys.push("ArrowRight"); }
  keys.forEach(function (key) {
    document.dispatchEvent(new KeyboardEvent("keydown", { key: key, bubbles: true }));
  });
})();
"""


def trace_to_html(
    trace: Trace,
    path: str | os.PathLike[str],
    title: str | None = None,
    show_data: bool = True,
    rankdir: str = "LR",
) -> Path:
    """Write the page for ``trace`` to ``path`` and return the path (see the module doc)."""
    if not trace.steps:
        raise ValueError("to_html: the trace recorded no steps (was backward() run inside it?)")
    frames = trace.frames(show_data=show_data, rankdir=rankdir, titles=False)
    svgs = svg_frames([f.source for f in frames])
    title = title or f"Backward, step by step ({len(trace.steps)} steps)"
    e = html.escape
    sections = []
    for step, frame, k in zip(trace.steps, frames, range(len(frames)), strict=True):
        graph = svgs[k] if svgs is not None else f'<pre class="dot">{e(frame.source)}</pre>'
        sections.append(
            f'<section class="frame" id="frame-{k}" data-step="{k}" '
            f'data-node="t{trace.graph_position(step)}"{" hidden" if k else ""}>\n'
            f"<h2>Step {k}: {e(step.describe())}</h2>\n"
            f'<pre class="details">{e(step_details(step))}</pre>\n'
            f'<div class="graph">{graph}</div>\n</section>'
        )
    legend = "".join(
        f'<span><span class="swatch" style="background:{color}"></span>{role}</span>'
        for role, color in ROLE_COLORS.items()
    )
    legend += (
        '<span><span class="swatch" style="border:2px solid #d62728"></span>current step</span>'
        '<span><span class="swatch" style="border:2px solid #ff7f0e"></span>'
        "just received a gradient</span>"
    )
    note = (
        ""
        if svgs is not None
        else f'<p class="hint">graphviz\'s dot was not found, so the frames are DOT text: '
        f"{e(INSTALL_HINT)}.</p>"
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{_CSS}</style>
</head>
<body data-step="0" data-steps="{len(frames)}">
<header>
<h1>{e(title)}</h1>
<nav>
<button id="first" title="first step (Home)">First</button>
<button id="prev" title="previous step (&#x2190;)">&#x25C0; Prev</button>
<span id="counter">step 0 of {len(frames) - 1}</span>
<button id="next" title="next step (&#x2192;)">Next &#x25B6;</button>
<button id="last" title="last step (End)">Last</button>
<button id="fit" title="fit the graph to the window, or show it at full size">Fit</button>
</nav>
<span class="hint">keys: &#x2190; &#x2192; to step, Home / End</span>
</header>
<main>
{note}
{chr(10).join(sections)}
<div class="legend">{legend}</div>
</main>
<script>{_JS}</script>
</body>
</html>
"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
