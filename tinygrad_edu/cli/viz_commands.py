"""The ``tinygrad-edu graph`` and ``tinygrad-edu trace`` subcommands.

``cli.py`` registers them with :func:`add_graph_command` and :func:`add_trace_command`; each adds
an argparse subparser whose ``func(args)`` runs the command and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..viz._format import values_text
from ..viz.examples import neuron, scalar_expression, seed_mlp, tiny_mlp
from ..viz.graph import GraphTooLargeError, draw, render
from ..viz.html import step_details
from ..viz.trace import trace

__all__ = ["add_graph_command", "add_trace_command", "graph_command", "trace_command"]

GRAPH_EXAMPLES = {
    "mlp": "the seeds' MLP 784-64-10 on one minibatch, with its loss",
    "expression": "the scalar expression L = (a*b + c) * a",
    "neuron": "one sigmoid neuron with a squared error",
    "tiny-mlp": "a 2-3-2 sigmoid MLP on one sample",
}
TRACE_EXAMPLES = {
    "neuron": "one sigmoid neuron with a squared error",
    "mlp": "a 2-3-2 sigmoid MLP on one sample, with cross-entropy",
    "expression": "the scalar expression L = (a*b + c) * a",
}


def _error(command: str, message: str) -> None:
    """One line on stderr, as the rest of the CLI reports a user's error (exit status 2)."""
    print(f"tinygrad-edu {command}: error: {message}", file=sys.stderr)


def add_graph_command(subparsers: Any) -> None:
    """Add ``graph``: draw an example's computation graph to a file."""
    p = subparsers.add_parser(
        "graph",
        help="draw a computation graph (the seeds' MLP or a small expression) to a file",
        description="Draw the computation graph of an example to SVG, PNG, PDF or DOT. "
        "Without graphviz's dot program the DOT text is written instead.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        + "\n".join(f"  {k:<11} {v}" for k, v in GRAPH_EXAMPLES.items())
        + "\n\n  tinygrad-edu graph -o mlp.svg\n"
        "  tinygrad-edu graph --example expression --show-grad -o expr.png",
    )
    p.add_argument("--example", choices=list(GRAPH_EXAMPLES), default="mlp")
    p.add_argument("-o", "--output", default="graph.svg", help="file to write (default: graph.svg)")
    p.add_argument(
        "--format", choices=["svg", "png", "pdf", "dot"], help="default: from the file's suffix"
    )
    p.add_argument("--batch", type=int, default=256, help="minibatch size of the mlp example")
    p.add_argument("--seed", type=int, default=0, help="random seed of weights and data")
    p.add_argument(
        "--show-data", action="store_true", help="show values (or statistics) of each tensor"
    )
    p.add_argument("--show-grad", action="store_true", help="run backward and show gradients")
    p.add_argument("--collapse", action="store_true", help="draw each module as one box")
    p.add_argument("--rankdir", choices=["LR", "TB"], default="LR", help="layout direction")
    p.set_defaults(func=graph_command)


def graph_command(args: argparse.Namespace) -> int:
    if args.example == "mlp":
        if args.batch < 1:
            _error("graph", f"--batch must be at least 1, got {args.batch}")
            return 2
        ex = seed_mlp(batch=args.batch, seed=args.seed)
    elif args.example == "tiny-mlp":
        ex = tiny_mlp(seed=args.seed)
    else:
        ex = neuron() if args.example == "neuron" else scalar_expression()
    if args.show_grad:
        ex.loss.backward()
    if args.collapse and ex.model is None:
        _error("graph", f"--collapse needs a model; the {args.example} example has none")
        return 2
    try:
        g = draw(
            ex.loss,
            model=ex.model,
            show_data=args.show_data,
            show_grad=args.show_grad,
            rankdir=args.rankdir,
            collapse="module" if args.collapse else None,
            title=ex.title,
        )
    except GraphTooLargeError as e:
        _error("graph", str(e))
        return 2
    path = render(g, args.output, format=args.format)
    print(f"wrote {path} ({ex.title})")
    return 0


def add_trace_command(subparsers: Any) -> None:
    """Add ``trace``: print backward step by step for a tiny network."""
    p = subparsers.add_parser(
        "trace",
        help="print every step of backward for a tiny network",
        description="Run forward and backward on a tiny example and print, for each step of "
        "backward, the tensor, its op, the gradient arriving at it, the op's derivative rule and "
        "the gradients it sends to its inputs (--table: one row per step).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n" + "\n".join(f"  {k:<11} {v}" for k, v in TRACE_EXAMPLES.items()),
    )
    p.add_argument("--example", choices=list(TRACE_EXAMPLES), default="neuron")
    p.add_argument("--html", metavar="FILE", help="also write a page to step through backward")
    p.add_argument("--seed", type=int, default=0, help="random seed of the mlp's weights")
    p.add_argument(
        "--values", type=int, default=6, help="show values of tensors up to this size (default 6)"
    )
    p.add_argument(
        "--table", action="store_true", help="print one table row per step instead of a block"
    )
    p.add_argument("--pause", action="store_true", help="wait for Enter after each step")
    p.set_defaults(func=trace_command)


def trace_command(args: argparse.Namespace) -> int:
    if args.example == "mlp":
        ex = tiny_mlp(seed=args.seed)
    else:
        ex = neuron() if args.example == "neuron" else scalar_expression()
    print(ex.title)
    print(f"forward: {ex.loss.name} = {ex.loss.item():.6g}")
    with trace() as t:
        ex.loss.backward()
    print()
    if not args.table:
        wait = args.pause and sys.stdin.isatty()
        for step in t.steps:
            print(f"step {step.index} of {len(t.steps) - 1}: {step.describe()}")
            print(step_details(step, args.values))
            print()
            if wait:
                input("[Enter] next step ")
    else:
        print(t.table(max_values=args.values))
        print()
    print("gradients of the leaves:")
    for s in t.steps:
        if s.is_leaf:
            print(f"  dL/d{s.name} = {values_text(s.upstream, args.values, oneline=True)}")
    if args.html:
        path = t.to_html(args.html, title=f"Backward through {ex.title}")
        print(f"\nwrote {path}: open it in a browser and step with the arrow keys")
    return 0
