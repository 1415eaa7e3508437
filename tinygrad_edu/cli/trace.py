"""``tinygrad-edu trace``: print every step of backward for a tiny network (and optionally
write a page that steps through it)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..viz.examples import EXAMPLES, build
from ..viz.text import values_text
from ..viz.trace import Trace, step_details, trace
from .options import PROG, add_example_arguments, examples_epilog, int_between

__all__ = ["EXAMPLES", "add_trace_command", "run_trace"]

#: The largest ``--values`` (the examples' tensors are far smaller).
MAX_VALUES = 10_000


def add_trace_command(subparsers: Any) -> None:
    """Add ``trace``."""
    p = subparsers.add_parser(
        "trace",
        help="print every step of backward for a tiny network",
        description="Run forward and backward on an example and print, for each step of "
        "backward, the chain rule with the tensors' names and numbers: the gradient arriving at "
        "a tensor (the sum of its paths where several meet), the op that made it, and the "
        "gradient it sends to each input (--table: one row per step). The examples are those of "
        "`graph`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples_epilog(
            f"{PROG} trace --example expression",
            f"{PROG} trace --example tiny-mlp --html trace.html",
        ),
    )
    add_example_arguments(p, "neuron", "the --html page's graphs")
    p.add_argument("--html", metavar="FILE", help="also write a page to step through backward")
    p.add_argument(
        "--values",
        type=int_between(0, MAX_VALUES),
        default=6,
        help=f"show values of tensors up to this size (0..{MAX_VALUES}; default 6)",
    )
    p.add_argument(
        "--table", action="store_true", help="print one table row per step instead of a block"
    )
    p.add_argument("--pause", action="store_true", help="wait for Enter after each step")
    p.set_defaults(func=run_trace)


def run_trace(args: argparse.Namespace) -> int:
    """Handler of ``trace``: forward, then backward traced and printed step by step."""
    ex = build(name=args.example, seed=args.seed, batch=args.batch)
    print(ex.title)
    with trace(model=ex.model) as t:
        ex.loss.backward()
    print(f"forward: {t.name_of(ex.loss)} = {ex.loss.item():.6g}")
    print()
    if args.table:
        print(t.table(max_values=args.values))
        print()
    else:
        _print_steps(t, args.values, pause=args.pause and sys.stdin.isatty())
    print("gradients of the leaves:")
    for s in t.steps:
        if s.is_leaf:
            print(f"  dL/d{s.name} = {values_text(s.upstream, args.values, oneline=True)}")
    if args.html:
        path = t.to_html(args.html, title=f"Backward through {ex.title}", rankdir=args.rankdir)
        print(f"\nwrote {path}: open it in a browser and step with the arrow keys")
    return 0


def _print_steps(t: Trace, max_values: int, pause: bool) -> None:
    """One block per step of backward; with ``pause``, wait for Enter after each."""
    for step in t.steps:
        print(f"step {step.index} of {len(t.steps) - 1}: {step.describe()}")
        print(step_details(step, max_values))
        print()
        if pause:
            input("[Enter] next step ")
