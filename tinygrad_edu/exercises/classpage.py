"""The class dashboard (``exercise report --html FILE``): one self-contained HTML page.

A bar chart of the class's mistake kinds (inline SVG), then per exercise a student x part grid,
each cell coloured by its status (passed, failed, not run, broken workspace) and naming the
diagnosis, its message and hint on hover, with each part's pass rate below; then the broken
workspaces, the files that import the reference solutions and those that import an autodiff
library (the exercises ask for gradients by hand). No script, no network, no
timestamp; every string a student could choose (folder names, messages, code) is escaped.
"""

from __future__ import annotations

from html import escape

from ..training.history import plural
from .classreport import (
    AUTODIFF_PACKAGES,
    BROKEN,
    SOLUTIONS_PACKAGE,
    ClassReport,
    StudentResult,
    mistake_counts,
    outcome_of,
    part_stats,
)

__all__ = ["STATUSES", "html_page", "mistake_chart"]

#: Each cell status (its CSS class): its background colour and what the legend says.
STATUSES = {
    "passed": ("#c8e6c9", "passed"),
    "failed": ("#ffcdd2", "failed: the diagnosis kind"),
    "not_run": ("#e0e0e0", "not run: a part it needs failed, or its data is missing"),
    BROKEN: ("#ffe0b2", "broken workspace: not graded (why, in the cell)"),
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #212121; max-width: 80em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #bdbdbd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.rate { font-size: 0.9em; background: #fafafa; }
.flag { color: #b71c1c; font-weight: bold; font-size: 0.85em; }
.legend span { display: inline-block; padding: 0.2em 0.6em; margin-right: 0.5em; }
code { font-size: 0.9em; }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def html_page(report: ClassReport, title: str = "Class report") -> str:
    """The whole page, as text (write it as UTF-8)."""
    css = _STYLE + "".join(
        f"td.{k}, span.{k} {{ background: {c}; }}\n" for k, (c, _) in (STATUSES.items())
    )
    legend = "".join(f'<span class="{k}">{_e(what)}</span>' for k, (_, what) in STATUSES.items())
    counts = f"{plural(len(report.students), 'workspace')}, "
    counts += plural(len(report.exercises()), "exercise")
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p>{counts}.</p>",
        f'<p class="legend">{legend}</p>',
        "<h2>Mistake kinds across the class</h2>",
        mistake_chart(mistake_counts(report)),
        *(_exercise_section(report, exercise) for exercise in report.exercises()),
        _broken_section(report),
        _flagged_section(report),
        _autodiff_section(report),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


def mistake_chart(counts: list[tuple[str, int]], width: int = 640) -> str:
    """A horizontal bar chart (inline SVG) of ``(kind, count)``, in the order given."""
    if not counts:
        return "<p>No mistakes: every part that ran passed.</p>"
    label, bar, step = 210, 24, 30
    most = max(n for _, n in counts)
    room = width - label - 50
    rows = []
    for i, (kind, n) in enumerate(counts):
        y, length = i * step + 4, max(2, round(room * n / most))
        rows.append(
            f'<text x="{label - 8}" y="{y + 17}" text-anchor="end">{_e(kind)}</text>'
            f'<rect x="{label}" y="{y}" width="{length}" height="{bar}" '
            f'fill="{"#ffb74d" if kind == BROKEN else "#e57373"}">'
            f"<title>{_e(kind)}: {n}</title></rect>"
            f'<text x="{label + length + 6}" y="{y + 17}">{n}</text>'
        )
    height = len(counts) * step + 8
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="mistake kinds and their counts" '
        f'font-family="system-ui, sans-serif" font-size="14">' + "".join(rows) + "</svg>"
    )


def _exercise_section(report: ClassReport, exercise: str) -> str:
    parts = report.parts[exercise]
    head = "".join(f"<th>{_e(p)}</th>" for p in parts)
    rows = [_student_row(s, parts) for s in report.of(exercise)]
    rates = "".join(_rate_cell(report, exercise, p) for p in parts)
    n = len(rows)
    return (
        f"<h2>{_e(exercise)} ({n} student{'' if n == 1 else 's'})</h2>\n<table>\n"
        f"<tr><th>student</th>{head}</tr>\n"
        + "\n".join(rows)
        + f"\n<tr><th>passed</th>{rates}</tr>\n</table>"
    )


def _student_row(student: StudentResult, parts: tuple[str, ...]) -> str:
    flag = ""
    if student.solution_imports:
        where = _e("\n".join(student.solution_imports))
        flag = f' <span class="flag" title="{where}">imports {_e(SOLUTIONS_PACKAGE)}</span>'
    if student.autodiff_imports:
        where = _e("\n".join(student.autodiff_imports))
        flag += f' <span class="flag" title="{where}">imports an autodiff library</span>'
    name = f"<th>{_e(student.name)}{flag}</th>"
    if student.broken:
        reason = _e(student.broken)
        return (
            f'<tr>{name}<td class="{BROKEN}" colspan="{len(parts)}" title="{reason}">'
            f"broken: {reason}</td></tr>"
        )
    cells = []
    for part in parts:
        o = outcome_of(student, part)
        if o is None:
            cells.append("<td>-</td>")
            continue
        status = "passed" if o.passed else "failed" if o.ran else "not_run"
        text = "passed" if o.passed else o.diagnosis.kind if o.ran and o.diagnosis else "not run"
        cells.append(f'<td class="{status}" title="{_e(o.line())}">{_e(text)}</td>')
    return f"<tr>{name}{''.join(cells)}</tr>"


def _rate_cell(report: ClassReport, exercise: str, part: str) -> str:
    stats = part_stats(report, exercise, part)
    kinds = ", ".join(f"{k} {n}" for k, n in stats.mistakes[:3])
    more = f"<br>{_e(kinds)}" if kinds else ""
    return f'<td class="rate">{stats.passed}/{stats.total} ({stats.rate:.0%}){more}</td>'


def _broken_section(report: ClassReport) -> str:
    broken = [s for s in report.students if s.broken]
    if not broken:
        return ""
    rows = "".join(
        f"<tr><th>{_e(s.name)}</th><td>{_e(s.exercise or '?')}</td><td>{_e(s.broken)}</td></tr>"
        for s in broken
    )
    return (
        f"<h2>Broken workspaces ({len(broken)})</h2>\n<table>\n"
        f"<tr><th>student</th><th>exercise</th><th>why it was not graded</th></tr>{rows}</table>"
    )


def _flagged_section(report: ClassReport) -> str:
    flagged = [(s.name, s.solution_imports) for s in report.students if s.solution_imports]
    intro = (
        f"These files import <code>{_e(SOLUTIONS_PACKAGE)}</code>, which ships the reference "
        "solutions (found by reading the code, not by running it)."
    )
    return _imports_section("Imports the reference solutions", intro, flagged)


def _autodiff_section(report: ClassReport) -> str:
    flagged = [(s.name, s.autodiff_imports) for s in report.students if s.autodiff_imports]
    intro = (
        "The exercises ask for the gradients in numpy, by hand; these files import one of "
        f"{_e(', '.join(AUTODIFF_PACKAGES))} (found by reading the code, not by running it): "
        "look at how they use it."
    )
    return _imports_section("Imports an autodiff library", intro, flagged)


def _imports_section(title: str, intro: str, flagged: list[tuple[str, tuple[str, ...]]]) -> str:
    """A heading with the count of students, ``intro`` (HTML) and each student's places."""
    if not flagged:
        return ""
    items = "".join(
        f"<li><b>{_e(name)}</b>: <code>{_e(where)}</code></li>"
        for name, places in flagged
        for where in places
    )
    return f"<h2>{title} ({len(flagged)})</h2>\n<p>{intro}</p>\n<ul>{items}</ul>"
