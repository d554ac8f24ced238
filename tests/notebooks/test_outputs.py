"""The check every notebook test makes of its executed notebook finds each kind of noise."""

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tests.notebooks.outputs import MAX_TABLE_WIDTH, output_problems, table_width


def test_the_output_check_names_warnings_widgets_ansi_codes_and_wide_tables(tmp_path):
    wide = "<table><tr>" + "".join(f"<th>column_{i:03d}</th>" for i in range(20)) + "</tr></table>"
    narrow = "<table><tr><th>key</th><th>value</th></tr><tr><td>rows</td><td>12</td></tr></table>"
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "0%"}
    cells = [
        new_code_cell("a", outputs=[new_output("stream", name="stderr", text="UserWarning: x\n")]),
        new_code_cell("b", outputs=[new_output("display_data", data=widget)]),
        new_code_cell("c", outputs=[new_output("stream", name="stdout", text="\x1b[32mok\x1b[0m")]),
        new_code_cell("d", outputs=[new_output("execute_result", data={"text/html": wide})]),
        new_code_cell("e", outputs=[new_output("execute_result", data={"text/html": narrow})]),
        new_code_cell("f", outputs=[new_output("stream", name="stdout", text="fine\n")]),
    ]
    path = tmp_path / "executed.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    problems = output_problems(path)
    assert [p.split(":")[0] for p in problems] == [
        "cell 0 (a)",
        "cell 1 (b)",
        "cell 2 (c)",
        "cell 3 (d)",
    ]
    assert "stderr block: UserWarning: x" in problems[0] and "widget" in problems[1]
    assert "ANSI" in problems[2] and f"{table_width(wide)} characters wide" in problems[3]
    assert table_width(narrow) == (4 + 2) + (5 + 2) <= MAX_TABLE_WIDTH < table_width(wide)
