"""training/files.py: ``parse_json``, the one reader of JSON text from files, turns every way the
text can be bad into the caller's error naming the file (never a RecursionError traceback)."""

from __future__ import annotations

import pytest

from tinygrad_edu.training.files import parse_json

DEEP = "[" * 100_000  # the line: a RecursionError in json.loads


class LogError(ValueError):
    pass


def test_good_json_comes_back() -> None:
    assert parse_json('{"a": [1, 2.5, null]}', LogError, "x") == {"a": [1, 2.5, None]}
    assert parse_json(b'{"a": "\\u00e9"}', LogError, "x") == {"a": "\u00e9"}


@pytest.mark.parametrize(
    "text, message",
    [
        (DEEP, "run/metrics.jsonl: line 3 is JSON nested too deeply"),
        (DEEP + "]" * 100_000, "run/metrics.jsonl: line 3 is JSON nested too deeply"),
        ('{"a": ', "run/metrics.jsonl: line 3 is not valid JSON (Expecting value"),
        (b'{"a": "\xff"}', "run/metrics.jsonl: line 3 is not valid JSON ("),
        ("", "run/metrics.jsonl: line 3 is not valid JSON ("),
    ],
    ids=["deep", "deep-closed", "cut", "not-utf8", "empty"],
)
def test_bad_text_is_the_callers_error_naming_where(text: str | bytes, message: str) -> None:
    with pytest.raises(LogError) as caught:
        parse_json(text, LogError, "run/metrics.jsonl: line 3")
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_one_line_and_brief_serve_the_whole_package() -> None:
    """One one_line (before: the CLI's and the training's differed, and training's cut a quote
    off the end of any message), one brief (before: three)."""
    from tinygrad_edu.cli import errors
    from tinygrad_edu.training.files import brief, one_line

    assert errors.one_line is one_line
    assert one_line(KeyError("model/w")) == "model/w"
    assert one_line(ValueError("bad value 'x'\n  here")) == "bad value 'x' here"
    assert one_line(FileNotFoundError(2, "No such file or directory", "a.npz")) == (
        "No such file or directory: a.npz"
    )
    assert one_line(MemoryError()) == "not enough memory (MemoryError)"
    assert one_line(RuntimeError()) == "RuntimeError"
    assert brief("x" * 50) == "'" + "x" * 36 + "..." and brief([1, 2], 80) == "[1, 2]"
    assert brief(None, as_json=True) == "null" and brief("abc", as_json=True) == '"abc"'
