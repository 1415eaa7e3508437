"""Print how check_backprop does on the library of whole-network mistakes:
``PYTHONPATH=. python tests/check/backprop_catch_rate.py [SEED]`` (from the repository root).

The catch rate is the fraction of mutants whose report fails; the first-node accuracy is the
fraction whose report names the node that must be first, with the expected status and
diagnosis kind (and the other nodes each mutant names). Without SEED every run draws new inputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backprop_mutants import MUTANTS, catch_rate


def main(argv: list[str]) -> int:
    seed = int(argv[0]) if argv else None
    caught, right, total, problems = catch_rate(MUTANTS, seed)
    print(f"whole-network mutants caught: {caught}/{total} ({caught / total:.0%})")
    print(f"first wrong node, status and diagnosis right: {right}/{total} ({right / total:.0%})")
    for line in problems:
        print(f"  {line}")
    return 0 if caught == right == total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
