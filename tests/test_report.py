"""The HTML report: one self-contained page, every value from the data escaped."""

from __future__ import annotations

import base64
import html
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

import partsim
from partsim.report import PARTITION_ROWS, render_html
from partsim.style import rate_text
from tests.test_plot import PNG_SIGNATURE, analyzed, zipf_events

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}
FAKE_IMAGES = {name: PNG_SIGNATURE + name.encode() for name in ("load", "lorenz", "hot_keys")}


class Page(HTMLParser):
    """The tables of a page as rows of (cell text, cell class), and its tag balance."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[tuple[str, str]]]] = []
        self.open: list[str] = []
        self.mismatched: list[str] = []
        self.cell: list[str] | None = None
        self.images: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        if tag not in VOID:
            self.open.append(tag)
        if tag == "img":
            self.images.append(attributes.get("src", ""))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []
            self.cell_class = attributes.get("class") or ""

    def handle_endtag(self, tag) -> None:
        if tag in VOID:
            return
        if not self.open or self.open.pop() != tag:
            self.mismatched.append(tag)
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append(("".join(self.cell).strip(), self.cell_class))
            self.cell = None

    def handle_data(self, data) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def table_with(self, header: str) -> list[list[tuple[str, str]]]:
        """The first table whose header row has ``header``."""
        return next(t for t in self.tables if header in [text for text, _ in t[0]])


@pytest.fixture(scope="module")
def result():
    return analyzed(
        zipf_events(), key="customer_id", partition_count=12, size="size", timestamp="ts"
    )


@pytest.fixture(scope="module")
def page(result) -> str:
    return render_html(result, FAKE_IMAGES)


def test_page_is_well_formed_and_states_the_verdict(result, page) -> None:
    parsed = Page(page)
    assert page.startswith("<!DOCTYPE html>")
    assert parsed.open == [] and parsed.mismatched == []
    assert html.escape(result.summary["verdict"]) in page
    assert f"partsim {partsim.__version__}" in page
    facts = re.sub(r"<[^>]+>", " ", page)
    assert "50,000" not in facts  # this sample has 20,000 events
    assert "20,000" in facts and f"{result.summary['distinct_keys']:,}" in facts
    assert "simulated, 500 trials" in facts
    assert f"{result.summary['best_possible_max_mean_ratio']:.2f}×" in facts


def test_partition_table_has_a_row_per_partition_with_formatted_numbers(result, page) -> None:
    table = Page(page).table_with("messages")
    header, rows = [text for text, _ in table[0]], table[1:]
    assert header[:4] == ["partition", "messages", "share", "× mean"]
    assert len(rows) == 12
    for row, expected in zip(rows, result.partitions.itertuples(), strict=True):
        cells = dict(zip(header, row, strict=True))
        assert cells["partition"] == (str(expected.partition), "num")
        assert cells["messages"] == (f"{expected.messages:,}", "num")
        assert cells["share"][0] == f"{expected.share:.1%}" and "num" in cells["share"][1]
        assert cells["top key"][0] == expected.top_key


def test_hot_keys_table_and_keyed_only_figures(result, page) -> None:
    parsed = Page(page)
    hot = parsed.table_with("key")
    assert [row[1][0] for row in hot[1:]] == list(result.hot_keys["key"])
    assert hot[1][3] == (f"{result.hot_keys['share'].iloc[0]:.2%}", "num")
    metrics = parsed.table_with("keyed events only")
    names = [row[0][0] for row in metrics[1:]]
    assert "max / mean" in names and "Gini (0 even, 1 all on one)" in names
    keyed = result.summary["keyed_only"]
    gini = next(row for row in metrics[1:] if row[0][0].startswith("Gini"))
    assert gini[2] == (f"{keyed['gini']:.3f}", "num")
    assert "Time windows" in page
    assert rate_text(result.summary["windows"]["peak_partition_rate"]) in page


def test_keys_are_escaped() -> None:
    key = "<script>alert(1)</script>"
    events = pd.DataFrame({"k": [key] * 5 + ['"><img src=x onerror=alert(2)>'] * 3 + ["a"]})
    page = render_html(analyzed(events, key="k", partition_count=3), {})
    assert "<script" not in page and "<img" not in page
    assert html.escape(key) in page
    parsed = Page(page)
    assert parsed.mismatched == [] and parsed.images == []
    assert key in [row[1][0] for row in parsed.table_with("key")[1:]]


def test_images_are_embedded_once_each(page) -> None:
    sources = Page(page).images
    assert page.count("data:image/png;base64,") == len(FAKE_IMAGES) == len(sources)
    decoded = [base64.b64decode(src.split(",", 1)[1]) for src in sources]
    assert decoded == list(FAKE_IMAGES.values())  # in the order load, lorenz, hot keys


def test_no_external_resources(page) -> None:
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(link|script|iframe)\b|@import|url\(", page)
    assert all(src.startswith("data:") for src in Page(page).images)


def test_many_partitions_list_the_busiest_then_all() -> None:
    result = analyzed(zipf_events(3_000), key="customer_id", partition_count=200)
    page = render_html(result, {})
    tables = [t for t in Page(page).tables if t[0][0][0] == "partition"]
    assert [len(t) - 1 for t in tables] == [PARTITION_ROWS, 200]
    busiest = [int(row[1][0].replace(",", "")) for row in tables[0][1:]]
    assert busiest == sorted(busiest, reverse=True)
    assert "Time windows" not in page  # no timestamp


def test_bytes_are_left_out_without_sizes() -> None:
    result = analyzed(zipf_events(1_000), key="customer_id", partition_count=4)
    header = [text for text, _ in Page(render_html(result)).table_with("messages")[0]]
    assert "bytes" not in header
