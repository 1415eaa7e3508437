"""``tinygrad-edu graph``: draw an example's computation graph to SVG, PNG, PDF or DOT."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..viz.examples import EXAMPLES, build
from ..viz.graph import GraphTooLargeError, draw, render
from ..viz.trace import trace
from .errors import CLIError
from .options import PROG, RANKDIRS, add_example_arguments, examples_epilog

__all__ = ["EXAMPLES", "RANKDIRS", "add_graph_command", "run_graph"]

FORMATS = ("svg", "png", "pdf", "dot")


def add_graph_command(subparsers: Any) -> None:
    """Add ``graph``."""
    p = subparsers.add_parser(
        "graph",
        help="draw a computation graph (the course's 784-64-10 MLP, a small expression) to a file",
        description="Draw the computation graph of an example to SVG, PNG, PDF or DOT. "
        "Without graphviz's dot program the DOT text is written instead.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples_epilog(
            f"{PROG} graph -o mlp.svg",
            f"{PROG} graph --example expression --show-grad -o expr.png",
        ),
    )
    add_example_arguments(p, "mlp", "the graph")
    p.add_argument("-o", "--output", default="graph.svg", help="file to write (default: graph.svg)")
    p.add_argument("--format", choices=FORMATS, help="default: from the file's suffix")
    p.add_argument(
        "--show-data", action="store_true", help="show values (or statistics) of each tensor"
    )
    p.add_argument(
        "--show-grad",
        action="store_true",
        help="run backward and show every tensor's gradient (intermediate ones too)",
    )
    p.add_argument("--collapse", action="store_true", help="draw each module as one box")
    p.set_defaults(func=run_graph)


def run_graph(args: argparse.Namespace) -> int:
    """Handler of ``graph``: build the example, draw its graph, write the file."""
    suffix = Path(args.output).suffix.lstrip(".").lower()
    if args.format is None and suffix and suffix not in (*FORMATS, "gv"):
        raise CLIError(
            f"-o {args.output}: cannot tell the format from .{suffix}; name the file .svg, "
            ".png, .pdf or .dot, or pass --format"
        )
    ex = build(name=args.example, seed=args.seed, batch=args.batch)
    if args.collapse and ex.model is None:
        raise CLIError(f"--collapse needs a model; the {args.example} example has none")
    options = dict(
        show_data=args.show_data,
        rankdir=args.rankdir,
        collapse="module" if args.collapse else None,
        title=ex.title,
    )
    try:
        if args.show_grad:  # traced, so that intermediate tensors show their gradients too
            with trace(model=ex.model) as t:
                ex.loss.backward()
            g = t.draw(**options)
        else:
            g = draw(ex.loss, model=ex.model, **options)
    except GraphTooLargeError as e:
        raise CLIError(str(e)) from None
    path = render(g, args.output, format=args.format)
    print(f"wrote {path} ({ex.title})")
    return 0
