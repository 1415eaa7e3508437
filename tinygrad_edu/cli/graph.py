"""``tinygrad-edu graph``: draw an example's computation graph to SVG, PNG, PDF or DOT."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..viz.examples import Example, neuron, scalar_expression, seed_mlp, tiny_mlp
from ..viz.graph import GraphTooLargeError, draw, render
from .errors import CLIError
from .options import PROG, examples_epilog, int_between, nonnegative_int

__all__ = ["EXAMPLES", "add_graph_command", "run_graph"]

#: The largest ``--batch`` (the mlp example's input is ``--batch`` x 784 floats: 31 MB here).
MAX_BATCH = 10_000
FORMATS = ("svg", "png", "pdf", "dot")
#: The ``--example`` choices.
EXAMPLES = {
    "mlp": "the seeds' MLP 784-64-10 on one minibatch, with its loss",
    "expression": "the scalar expression L = (a*b + c) * a",
    "neuron": "one sigmoid neuron with a squared error",
    "tiny-mlp": "a 2-3-2 sigmoid MLP on one sample",
}


def add_graph_command(subparsers: Any) -> None:
    """Add ``graph``."""
    p = subparsers.add_parser(
        "graph",
        help="draw a computation graph (the seeds' MLP or a small expression) to a file",
        description="Draw the computation graph of an example to SVG, PNG, PDF or DOT. "
        "Without graphviz's dot program the DOT text is written instead.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples_epilog(
            EXAMPLES,
            f"{PROG} graph -o mlp.svg",
            f"{PROG} graph --example expression --show-grad -o expr.png",
        ),
    )
    p.add_argument("--example", choices=list(EXAMPLES), default="mlp")
    p.add_argument("-o", "--output", default="graph.svg", help="file to write (default: graph.svg)")
    p.add_argument("--format", choices=FORMATS, help="default: from the file's suffix")
    p.add_argument(
        "--batch",
        type=int_between(1, MAX_BATCH),
        default=256,
        help=f"minibatch size of the mlp example (1..{MAX_BATCH}; default 256)",
    )
    p.add_argument(
        "--seed", type=nonnegative_int, default=0, help="random seed of weights and data"
    )
    p.add_argument(
        "--show-data", action="store_true", help="show values (or statistics) of each tensor"
    )
    p.add_argument("--show-grad", action="store_true", help="run backward and show gradients")
    p.add_argument("--collapse", action="store_true", help="draw each module as one box")
    p.add_argument("--rankdir", choices=["LR", "TB"], default="LR", help="layout direction")
    p.set_defaults(func=run_graph)


def run_graph(args: argparse.Namespace) -> int:
    """Handler of ``graph``: build the example, draw its graph, write the file."""
    suffix = Path(args.output).suffix.lstrip(".").lower()
    if args.format is None and suffix and suffix not in (*FORMATS, "gv"):
        raise CLIError(
            f"-o {args.output}: cannot tell the format from .{suffix}; name the file .svg, "
            ".png, .pdf or .dot, or pass --format"
        )
    ex = _example(args)
    if args.show_grad:
        ex.loss.backward()
    if args.collapse and ex.model is None:
        raise CLIError(f"--collapse needs a model; the {args.example} example has none")
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
        raise CLIError(str(e)) from None
    path = render(g, args.output, format=args.format)
    print(f"wrote {path} ({ex.title})")
    return 0


def _example(args: argparse.Namespace) -> Example:
    if args.example == "mlp":
        return seed_mlp(batch=args.batch, seed=args.seed)
    if args.example == "tiny-mlp":
        return tiny_mlp(seed=args.seed)
    return neuron() if args.example == "neuron" else scalar_expression()
