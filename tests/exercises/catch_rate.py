"""Print the grader's catch rate on the mutation library:
``PYTHONPATH=. python tests/exercises/catch_rate.py`` (from the repository root)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutants import MUTANTS, catch_rate


def main() -> int:
    caught, right, total, problems = catch_rate(MUTANTS)
    print(f"mutants caught: {caught}/{total}; diagnosed right: {right}/{total}")
    for line in problems:
        print(f"  {line}")
    return 0 if caught == right == total else 1


if __name__ == "__main__":
    sys.exit(main())
