"""``python -m tinygrad_edu.exercises.run_part EXERCISE FILE PART RESULT``: grade one part of a
student's file and write the outcome as JSON to RESULT (the student's prints go to stderr).
The grader runs this in a child process, so that it can kill an endless loop."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from . import get_exercise
from .grader import grade_in_process


def main(argv: list[str]) -> int:
    name, path, part, result = argv
    with contextlib.redirect_stdout(sys.stderr):
        outcome = grade_in_process(get_exercise(name), Path(path), part)
    Path(result).write_text(json.dumps(outcome.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
