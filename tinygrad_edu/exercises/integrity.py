"""Is the grader the one that was installed? The SHA-256 of every Python file of the package,
shipped in ``package_files.sha256`` (written by ``scripts/write_package_manifest.py``), is
checked before a student's file is graded: a file changed, added or removed since, say by an
earlier student's code that appended a line to ``check/diagnose.py`` where the sandbox could
not stop it, stops the grading instead of passing wrong answers."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["MANIFEST", "GraderChanged", "changed_files", "package_digests", "verify_installation"]

PACKAGE = Path(__file__).resolve().parents[1]
MANIFEST = Path(__file__).resolve().with_name("package_files.sha256")


class GraderChanged(RuntimeError):
    """The package's files are not the ones its manifest lists."""


def package_digests() -> dict[str, str]:
    """Relative path -> SHA-256 of every ``.py`` file of the package (caches left out)."""
    return {
        path.relative_to(PACKAGE).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(PACKAGE.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def manifest_text(digests: dict[str, str]) -> str:
    """The manifest's lines: ``<sha256>  <path>``, one per file."""
    return "".join(f"{digest}  {path}\n" for path, digest in digests.items())


def _read_manifest() -> dict[str, str]:
    try:
        lines = MANIFEST.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise GraderChanged(f"cannot read the grader's manifest {MANIFEST} ({e})") from None
    pairs = [line.split("  ", 1) for line in lines if line.strip()]
    if not all(len(pair) == 2 and len(pair[0]) == 64 for pair in pairs):
        raise GraderChanged(f"the grader's manifest {MANIFEST} is malformed")
    return {path: digest for digest, path in pairs}


def changed_files() -> list[str]:
    """The package's files that differ from the manifest: 'path (changed|added|missing)'."""
    listed, found = _read_manifest(), package_digests()
    changed = [
        f"{p} (changed)" for p in sorted(listed.keys() & found.keys()) if listed[p] != found[p]
    ]
    changed += [f"{p} (added)" for p in sorted(found.keys() - listed.keys())]
    return changed + [f"{p} (missing)" for p in sorted(listed.keys() - found.keys())]


def verify_installation() -> None:
    """A :class:`GraderChanged` naming the files that differ from the shipped manifest."""
    changed = changed_files()
    if changed:
        shown = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        raise GraderChanged(
            f"the grader's own files differ from the ones it was installed with: {shown}; "
            "reinstall tinygrad_edu (or, after editing it yourself, run "
            "python scripts/write_package_manifest.py)"
        )
