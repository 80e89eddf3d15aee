"""A missing optional dependency is one line naming the pip extra, never an internal error.

Each test hides the module in a child process (a ``sitecustomize`` on its PYTHONPATH, which
the live-topic reading process inherits) and runs the real CLI or API there.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from partsim.extras import EXTRAS, installed
from tests.child import hiding, one_error, run

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "sample_data" / "orders.csv"
KAFKA_LINE = "reading a live topic needs confluent-kafka, which is not installed: " \
             "pip install 'partsim[kafka]'"  # fmt: skip


def test_the_extras_name_real_modules_and_the_packages_pyproject_lists() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra, (modules, _package, _purpose) in EXTRAS.items():
        assert f"\n{extra} = [" in pyproject, extra
        assert all(installed(module) for module in modules), extra  # the test extras have them
    assert not installed("partsim_no_such_module")


def test_engine_dask_without_dask_says_so_before_anything_else(tmp_path: Path) -> None:
    env = hiding(tmp_path, hide=["dask", "distributed"])
    # The input does not exist and -p is missing: the missing extra is still the first error.
    done = run("analyze", str(tmp_path / "missing.csv"), "--key", "k", "--engine", "dask",
               env=env)  # fmt: skip
    one_error(done, 2, "--engine dask needs Dask, which is not installed",
              "pip install 'partsim[dask]'")  # fmt: skip
    code = (
        "import partsim\n"
        "try:\n"
        f"    partsim.analyze({str(ORDERS)!r}, key='customer_id', partition_count=3,"
        " engine='dask')\n"
        "except partsim.UsageError as error:\n"
        "    print(error)\n"
    )
    done = run(code=code, env=env)
    assert done.returncode == 0 and "pip install 'partsim[dask]'" in done.stdout, done


def test_the_core_needs_no_extra(tmp_path: Path) -> None:
    env = hiding(tmp_path, hide=["confluent_kafka", "dask", "distributed", "datasketches"])
    done = run("analyze", str(ORDERS), "--key", "customer_id", "-p", "12", "--json", env=env)
    assert done.returncode == 0, done.stderr
    done = run("sweep", str(ORDERS), "-p", "6,12", "--design", "c=customer_id", env=env)
    assert done.returncode == 0, done.stderr
    # verify reads a file without a Kafka client
    table = pa.table({"key": pa.array([b"a", b"b", b"c"]), "partition": pa.array([1, 1, 0])})
    pq.write_table(table, tmp_path / "dump.parquet")
    done = run("verify", str(tmp_path / "dump.parquet"), "-p", "3", "--json", env=env)
    assert done.returncode == 0, done.stderr


def test_live_topic_commands_without_confluent_kafka(tmp_path: Path) -> None:
    env = hiding(tmp_path, hide=["confluent_kafka"])
    live = ["--bootstrap", "127.0.0.1:9", "--topic", "orders"]
    for args in (
        ["sample", *live, "-o", str(tmp_path / "s.parquet")],
        ["verify", *live],
        ["analyze", *live, "--key", "key"],
    ):
        one_error(run(*args, env=env), 2, KAFKA_LINE)
        assert not (tmp_path / "s.parquet").exists()


def test_a_broken_confluent_kafka_is_named_too(tmp_path: Path) -> None:
    # Found, but its import fails in the reading process (a missing shared library).
    env = hiding(tmp_path, broken=["confluent_kafka"])
    done = run("verify", "--bootstrap", "127.0.0.1:9", "--topic", "orders", "--timeout", "5",
               env=env)  # fmt: skip
    one_error(done, 2, "reading a live topic needs confluent-kafka, which could not be imported",
              "libbroken.so", "pip install 'partsim[kafka]'")  # fmt: skip


def test_more_keys_than_exact_keys_without_datasketches(tmp_path: Path) -> None:
    env = hiding(tmp_path, hide=["datasketches"])
    events = tmp_path / "events.csv"
    pd.DataFrame({"key": [f"k{i}" for i in range(50)]}).to_csv(events, index=False)
    done = run("analyze", str(events), "--key", "key", "-p", "3", "--exact-keys", "10", env=env)
    one_error(done, 2, "needs datasketches, which is not installed",
              "pip install 'partsim[sketch]'", "--exact-keys")  # fmt: skip
    # Within --exact-keys, no sketch is needed.
    done = run("analyze", str(events), "--key", "key", "-p", "3", env=env)
    assert done.returncode == 0, done.stderr
