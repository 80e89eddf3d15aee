"""The notebooks execute top to bottom (they assert their key numbers), are stored without
outputs, and equal what notebooks/make_notebooks.py writes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert {path.name for path in PATHS} == {
        "capacity_planning.ipynb",
        "key_design.ipynb",
        "live_topic.ipynb",
    }


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.name)
def test_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


def test_notebooks_match_their_generator(tmp_path: Path, monkeypatch) -> None:
    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    for generated in tmp_path.glob("*.ipynb"):
        stored = nbformat.read(NOTEBOOKS / generated.name, as_version=4)
        fresh = nbformat.read(generated, as_version=4)
        assert [c.source for c in stored.cells] == [c.source for c in fresh.cells], generated.name


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.name)
def test_notebook_executes(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})  # fmt: skip
    client.execute()  # a failing cell (and so a failed assertion) raises CellExecutionError
