"""What the course's tests share: a reader for Markdown tables."""

from __future__ import annotations


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table's rows (header first, the --- line skipped)."""
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in r] for r in rows if not set("".join(r)) <= set("-: ")]
