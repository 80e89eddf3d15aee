"""The notebooks are stored executed, with their outputs, exactly as
notebooks/make_notebooks.py writes them; executed again, they print the same figures.

What is compared: every cell's printed text (stdout) and the text of every result it shows
(``text/plain``: tables, numbers, dicts, and ``<Figure size ...>`` for plots), which depend
only on partsim and the data; and that each stored image is still drawn. The images' bytes
are not compared (they change with matplotlib and its fonts), nor HTML tables (pandas'
markup changes between versions; their text/plain form is compared), nor stderr. The numbers
each notebook asserts are checked by running it: a failed assertion fails the execution.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _comparable(cell) -> list[tuple[str, str]]:
    """What a code cell showed, as (kind, text): stdout, result texts and image markers."""
    shown = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            shown.append(("stdout", output.text))
        elif output.output_type in ("execute_result", "display_data"):
            shown.append(("text/plain", output.data.get("text/plain", "")))
            if "image/png" in output.data:
                shown.append(("image/png", "an image"))
        elif output.output_type == "error":
            shown.append(("error", output.ename))
    return shown


def test_there_are_notebooks() -> None:
    assert {path.name for path in PATHS} == {
        "capacity_planning.ipynb",
        "key_design.ipynb",
        "live_topic.ipynb",
    }


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.name)
def test_stored_executed_with_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), path.name
    shown = [kind for cell in code for kind, _ in _comparable(cell)]
    assert "error" not in shown and "text/plain" in shown, path.name
    for cell in code:
        assert all(o.output_type != "stream" or o.name == "stdout" for o in cell.outputs), (
            path.name, cell.source[:60])  # fmt: skip
    if path.name != "live_topic.ipynb":
        assert "image/png" in shown  # a reader on a code host sees the plots


def test_notebooks_match_their_generator() -> None:
    module = _generator()
    for name, cells in module.NOTEBOOKS.items():
        stored = nbformat.read(NOTEBOOKS / name, as_version=4)
        fresh = module.build(cells)
        assert [c.source for c in stored.cells] == [c.source for c in fresh.cells], name
        assert [c.cell_type for c in stored.cells] == [c.cell_type for c in fresh.cells], name


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.name)
def test_notebook_executes_to_its_stored_figures(path: Path) -> None:
    stored = nbformat.read(path, as_version=4)
    fresh = _generator().execute(copy.deepcopy(stored))  # raises if a cell (assertion) fails
    for index, (before, after) in enumerate(zip(stored.cells, fresh.cells, strict=True)):
        if before.cell_type == "code":
            assert _comparable(after) == _comparable(before), (path.name, index, before.source)
