"""Write ``tinygrad_edu/exercises/package_files.sha256``, the SHA-256 of every Python file of
the package, which the grader checks before grading (``tests/exercises/test_integrity.py``
fails until it is current):

    python scripts/write_package_manifest.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package

from tinygrad_edu.exercises.integrity import MANIFEST, manifest_text, package_digests


def main() -> int:
    digests = package_digests()
    MANIFEST.write_text(manifest_text(digests), encoding="ascii")
    print(f"wrote {MANIFEST} ({len(digests)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
