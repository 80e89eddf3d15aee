"""Project hygiene: lint, the README's commands, and the import boundaries."""

from __future__ import annotations

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
