"""Project hygiene: lint, the README's commands, and the import boundaries."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_lint_and_format() -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is a test dependency: pip install -e '.[test]'")
    paths = ["partsim", "tests", "bench", "fuzz", "gallery", "notebooks", "sample_data", "setup.py"]
    lint = subprocess.run([ruff, "check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        [ruff, "format", "--check", *paths], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", readme)[:2]


def test_readme_starts_with_the_two_commands() -> None:
    install, tests = _readme_commands()
    assert "pip install ." in install and "sample_data/" in install and "partsim " in install
    assert "pip install -e '.[test]'" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command() -> None:
    _, tests = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    test_part = tests.split("&& ", 2)[-1]  # after the venv is made and activated
    assert test_part in ci


def test_import_boundaries() -> None:
    """`import partsim` stays light: no click, matplotlib, Kafka client, pandas, Dask or
    DataSketches."""
    heavy = ("click", "matplotlib", "confluent_kafka", "kafka", "pandas", "dask", "distributed",
             "datasketches")  # fmt: skip
    code = f"import sys, partsim; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


#: The package's layers, from the bottom up, along the pipeline of STYLE.md: a module imports
#: only modules of lower layers (or of its own layer, without cycles), lazily or not.
LAYERS: dict[str, tuple[str, ...]] = {
    "kernels and errors": ("errors", "extras", "files", "_kernels", "hashing", "style",
                           "progress"),
    "key bytes and partitioners": ("schemas", "serde", "partitioners", "keycounts", "sketch"),
    "source and key design": ("io", "design"),
    "stages": ("events", "options", "placement", "aggregates", "metrics", "reference",
               "windows", "ordering", "lag", "keyless", "assignors"),
    "pipeline": ("pipeline",),
    "engine": ("dask_engine", "engine"),
    "results (the commands)": ("api", "analysis", "compare", "changes", "simulation"),
    "live topics": ("_live_reader", "live", "registry"),
    "plots and reports": ("plot", "report", "outputs"),
    "command line": ("cli", "__main__"),
}  # fmt: skip
#: The stages: they never import the engine (nor Dask); the engine chooses above them.
STAGE_LAYERS = ("kernels and errors", "key bytes and partitioners", "source and key design",
                "stages", "pipeline")  # fmt: skip
PACKAGE = ROOT / "partsim"


def _rank(module: str) -> int:
    for rank, members in enumerate(LAYERS.values()):
        if module in members:
            return rank
    raise AssertionError(f"partsim.{module} is in no layer: add it to LAYERS in {__file__}")


def _imports(path: Path) -> set[str]:
    """The partsim modules ``path`` imports anywhere (at the top or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "partsim":
                continue
            if len(parts) > 1:
                out.add(parts[1])
            else:  # from partsim import x: a module, or a name of the package itself
                out.update(a.name for a in node.names if (PACKAGE / f"{a.name}.py").exists())
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("partsim."))
    out.discard(path.stem)
    return out


def _modules() -> list[str]:
    return sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def test_imports_point_down_the_layers() -> None:
    """Every import (lazy ones too) goes to a lower layer, or within a layer without a cycle;
    no stage imports the engine."""
    graph = {module: _imports(PACKAGE / f"{module}.py") for module in _modules()}
    upward = [
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if _rank(target) > min(r for r, m in enumerate(LAYERS.values()) if module in m)
    ]
    assert not upward, f"imports that point up the layers: {upward}"
    stages = {m for layer in STAGE_LAYERS for m in LAYERS[layer]}
    engine = set(LAYERS["engine"])
    assert not [m for m in stages if graph.get(m, set()) & engine], "a stage imports the engine"
    # No cycles: a depth-first search that never meets a module on its own path.
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        if state.get(module) == 2:
            return
        assert state.get(module) != 1, f"import cycle: {' -> '.join([*path, module])}"
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            visit(target, [*path, module])
        state[module] = 2

    for module in graph:
        visit(module, [])


def test_what_each_module_loads() -> None:
    """Import each module alone, in a fresh interpreter, and look at ``sys.modules``: only the
    CLI loads click; only the plots, the report and the output writer load matplotlib; only
    the live-topic modules load a Kafka client; no stage loads the engine or Dask."""
    modules = [m for m in _modules() if m != "__main__"]
    # One interpreter loads what every module may load (numpy, pyarrow, pandas), then forks a
    # child per module: each child starts from that state and imports one module.
    code = """
import importlib, json, os, sys
import numpy, pandas, pyarrow, pyarrow.compute
out = {}
for name in sys.argv[1:]:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        importlib.import_module(name)
        os.write(write, json.dumps(sorted(sys.modules)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        seen = pipe.read()
    assert os.waitpid(child, 0)[1] == 0, name
    out[name] = json.loads(seen)
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code, *(f"partsim.{m}" for m in modules)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = {name.split(".", 1)[1]: set(seen) for name, seen in json.loads(done.stdout).items()}

    def loading(*names: str) -> set[str]:
        return {module for module, seen in loaded.items() if any(n in seen for n in names)}

    assert loading("click") <= {"cli"}
    assert loading("matplotlib") <= {"plot", "report", "outputs"}
    assert loading("confluent_kafka", "kafka") <= {"live", "_live_reader"}
    stages = {m for layer in STAGE_LAYERS for m in LAYERS[layer]}
    assert not loading("partsim.engine", "partsim.dask_engine", "dask", "distributed") & stages


def _commands() -> list[str]:
    from partsim.cli import cli

    return sorted(cli.commands)


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in _commands() if f"partsim {name}" not in readme]
    assert not missing, f"commands missing from README.md: {missing}"


@pytest.mark.parametrize("name", _commands())
def test_every_help_ends_with_examples(name: str) -> None:
    done = subprocess.run([sys.executable, "-m", "partsim", name, "--help"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    description = done.stdout.split("Options:")[0]
    examples = description.split("Examples:")
    assert len(examples) == 2, f"partsim {name} --help has no Examples: paragraph"
    assert f"partsim {name}" in examples[1], f"partsim {name} --help: examples don't use it"
