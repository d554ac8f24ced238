"""What an executed stage notebook shows a reviewer: no warning blocks (stderr), no progress
widgets (frozen at 0% once saved), no ANSI colour codes, and tables that fit the page.

Every notebook test calls :func:`assert_clean_outputs` on the notebook it ran.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import nbformat

#: the widest table (estimated in characters: each column's longest cell plus two) a notebook
#: may show; about what a notebook column holds at Jupyter's table font on a laptop screen
MAX_TABLE_WIDTH = 160
WIDGET = "application/vnd.jupyter.widget-view+json"
#: the start of an ANSI escape code (ESC [) as JSON writes it
ANSI = "\\u001b["


class _Table(HTMLParser):
    """The cell texts of an HTML table, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join(self._cell.split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data


def table_width(html: str) -> int:
    """The estimated width, in characters, of the (widest) HTML table in ``html``."""
    parser = _Table()
    parser.feed(html)
    rows = [row for row in parser.rows if row]
    if not rows:
        return 0
    columns = max(len(row) for row in rows)
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(columns)]
    return sum(width + 2 for width in widths)


def output_problems(notebook: Path | str) -> list[str]:
    """What in an executed notebook's outputs a reviewer should not see, one line each."""
    problems = []
    executed = nbformat.read(str(notebook), as_version=4)
    for index, cell in enumerate(executed.cells):
        first = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
        where = f"cell {index} ({first})"
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream" and output["name"] == "stderr":
                problems.append(f"{where}: stderr block: {output['text'].strip()[:300]}")
            data = output.get("data", {})
            if WIDGET in data:
                problems.append(f"{where}: widget output: {data.get('text/plain', '')[:100]}")
            if output["output_type"] != "error" and ANSI in json.dumps(output):
                problems.append(f"{where}: ANSI escape codes in a {output['output_type']} output")
            html = data.get("text/html", "")
            if "<table" in html and (width := table_width(html)) > MAX_TABLE_WIDTH:
                problems.append(f"{where}: a table {width} characters wide")
    return problems


def assert_clean_outputs(root: Path, stage: str) -> None:
    """The executed notebook of ``stage`` in the project at ``root`` has no warning block,
    widget or ANSI code and no table wider than :data:`MAX_TABLE_WIDTH`."""
    from personalab.core.paths import project_paths

    notebook = project_paths(root).executed_notebook(stage)
    problems = output_problems(notebook)
    assert not problems, f"{notebook.name}:\n" + "\n".join(problems)
