"""A one-page, self-contained HTML report of an :class:`~partsim.analysis.AnalysisResult`.

The page has no external resources: the styling is a small inline ``<style>`` and the plots
are PNGs embedded as ``data:`` URIs, so the file can be mailed, attached to a ticket or
printed as it is. Every value that comes from the data (keys above all) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone

from partsim import __version__
from partsim.style import PALETTE, RATE_NAMES, byte_unit, rate_text, ratio_text

__all__ = ["render_html"]

#: Partitions up to which the table lists every one; above, the busiest first, all folded.
PARTITION_ROWS = 64
#: Characters of a key shown in a table cell; the full key is in the cell's tooltip.
KEY_CHARS = 80

_PLOTS = {
    "load": (
        "Load per partition",
        "Messages per partition, the mean (dashed) and the range a partition's load takes "
        "under random placement of the same keys (shaded, 5th–95th percentile).",
    ),
    "lorenz": (
        "Inequality",
        "Lorenz curve: partitions from least to most loaded against their cumulative share of "
        "events. The further below the diagonal, the less even the load.",
    ),
    "hot_keys": (
        "Hot keys",
        "The keys with the most events and the partition each lands on. A key beyond the fair "
        "share (dashed) overloads its partition whatever the partitioner.",
    ),
    "heatmap": (
        "Load over time",
        "Messages per second of each partition in each time window.",
    ),
}


def _rgba(color: str, alpha: float) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


#: The plots' palette, as CSS variables.
_COLORS = (
    ":root { --ink: #1d232b; --muted: #5b6570; --rule: #d9dee3; --soft: #f4f6f8; "
    f"--load: {PALETTE['load']}; --hot: {PALETTE['hot']}; "
    f"--load-soft: {_rgba(PALETTE['load'], 0.22)}; --hot-soft: {_rgba(PALETTE['hot'], 0.28)}; "
    f"--hot-faint: {_rgba(PALETTE['hot'], 0.08)}; }}"
)
_STYLE = (
    _COLORS
    + """
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 28px 32px 16px; }
h1 { font-size: 26px; margin: 2px 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 5px;
     border-bottom: 1px solid var(--rule); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p { margin: 6px 0; }
code { font: 13px/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
       monospace; background: var(--soft); padding: 1px 4px; border-radius: 3px;
       overflow-wrap: anywhere; }
.eyebrow { text-transform: uppercase; letter-spacing: 0.08em; font-size: 12px;
           color: var(--muted); margin: 0; }
.source { color: var(--muted); font-size: 13px; overflow-wrap: anywhere; }
.verdict { margin: 18px 0 8px; padding: 14px 18px; border-left: 5px solid var(--hot);
           background: var(--hot-faint); border-radius: 0 6px 6px 0; font-size: 16.5px; }
.verdict strong { display: block; font-size: 12px; text-transform: uppercase;
                  letter-spacing: 0.08em; color: var(--hot); margin-bottom: 2px; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
         gap: 10px; margin: 16px 0 0; padding: 0; }
.fact { border: 1px solid var(--rule); border-radius: 6px; padding: 9px 12px; margin: 0; }
.fact dt { font-size: 12px; color: var(--muted); text-transform: uppercase;
           letter-spacing: 0.05em; }
.fact dd { margin: 2px 0 0; font-size: 20px; font-weight: 600; overflow-wrap: anywhere; }
.fact dd small { display: block; font-size: 12.5px; font-weight: 400; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 8px 0; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--rule); text-align: left;
         vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); text-transform: uppercase;
           letter-spacing: 0.04em; border-bottom: 2px solid var(--ink); white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key { max-width: 340px; }
td.bar { width: 120px; }
tbody tr:nth-child(even) { background: #fafbfc; }
tr.hot td { background: var(--hot-faint); }
tr.hot td:first-child { box-shadow: inset 4px 0 0 var(--hot); }
td.bar span { display: block; background-repeat: no-repeat;
               background-image: linear-gradient(to right, var(--load-soft) var(--w),
                                                 transparent var(--w)); }
tr.hot td.bar span { background-image: linear-gradient(to right, var(--hot-soft) var(--w),
                                                       transparent var(--w)); }
.refs td:first-child { width: 38%; }
.refs td.num { font-size: 16px; font-weight: 600; }
.note { color: var(--muted); font-size: 13px; }
figure { margin: 18px 0 26px; break-inside: avoid; page-break-inside: avoid; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figure.narrow img { max-width: 620px; }
figcaption { color: var(--muted); font-size: 13px; margin: 6px auto 0; max-width: 860px; }
figcaption strong { color: var(--ink); }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--load); }
footer { max-width: 1040px; margin: 0 auto; padding: 0 32px 28px; color: var(--muted);
         font-size: 12.5px; }
footer p { border-top: 1px solid var(--rule); padding-top: 10px; margin-top: 24px; }
@media print {
  body { font-size: 12px; }
  main { padding: 0; max-width: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  details > summary { display: none; }
  footer { padding: 8px 0 0; }
}
@page { margin: 14mm; }
"""
)


# ------------------------------------------------------------------------- formatting
def _e(value: object) -> str:
    """HTML-escaped text of any value."""
    return html.escape("" if value is None else str(value), quote=True)


def _missing(value: object) -> bool:
    """None, or the NaN pandas puts where a value is missing."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _time(value: object) -> str:
    """An ISO 8601 time as ``2026-11-27 00:41:39.950 UTC`` (escaped), else the text as is."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _e(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return f"{text} UTC"


def _count(value: object) -> str:
    return f"{int(value):,}" if _finite(value) else "–"


def _pct(value: object, digits: int = 1) -> str:
    return f"{value:.{digits}%}" if _finite(value) else "–"


def _ratio(value: object) -> str:
    return ratio_text(value) if _finite(value) else "–"


def _number(value: object, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if _finite(value) else "–"


def _bytes(value: object) -> str:
    if not _finite(value):
        return "–"
    divisor, unit = byte_unit(value)
    return f"{value:,.0f} bytes" if divisor == 1 else f"{value / divisor:,.1f} {unit}"


def _key(value: object, chars: int = KEY_CHARS) -> str:
    """A record key as escaped HTML: control characters shown as escapes, long keys cut
    (the whole key stays in the tooltip)."""
    if _missing(value):
        return '<span class="note">–</span>'
    text = str(value)
    if text == "":
        return '<code>""</code> <span class="note">(empty key)</span>'
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    if len(text) <= chars:
        return f"<code>{_e(text)}</code>"
    return f'<code title="{_e(text)}">{_e(text[: chars - 1])}…</code>'


def _table(head: Iterable[tuple[str, bool]], rows: Iterable[str], css: str = "") -> str:
    """A table from (header, numeric) pairs and prepared ``<tr>`` rows."""
    head = list(head)
    cells = "".join(f'<th class="num">{_e(h)}</th>' if num else f"<th>{_e(h)}</th>"
                    for h, num in head)  # fmt: skip
    klass = f' class="{css}"' if css else ""
    thead = f"<thead><tr>{cells}</tr></thead>" if any(h for h, _ in head) else ""
    return f"<table{klass}>{thead}<tbody>{''.join(rows)}</tbody></table>"


def _fact(label: str, value: str, detail: str = "") -> str:
    small = f"<small>{detail}</small>" if detail else ""
    return f'<div class="fact"><dt>{_e(label)}</dt><dd>{value}{small}</dd></div>'


# --------------------------------------------------------------------------- sections
def _header(summary: Mapping, sizes: bool) -> str:
    noise = summary["uniform_placement"]
    keyless = summary.get("keyless_events", 0)
    events_detail = [
        f"null key {_count(summary.get('null_key_events', 0))}",
        f"keyless path {_count(keyless)}",
    ]
    if summary.get("skipped_rows"):
        events_detail.append(f"skipped {_count(summary['skipped_rows'])} unparsable")
    key_detail = f"format {_e(summary.get('key_format', 'string'))}"
    if summary.get("schema_id") is not None:
        key_detail += f", schema id {_e(summary['schema_id'])}"
    facts = [
        _fact("Events", _count(summary["events"]), " · ".join(events_detail)),
        _fact("Distinct keys", _count(summary["distinct_keys"]))
        if summary.get("key_counts", {}).get("method") != "sketch"
        else _fact("Distinct keys", "≈" + _count(summary["distinct_keys"]),
                   _e(summary["key_counts"]["note"])),
        _fact("Partitions", _count(summary["partition_count"]),
              f"partitioner {_e(summary['partitioner'])}"),
        _fact("Key design", f"<code>{_e(summary['key'])}</code>", key_detail),
        _fact("Hottest partition", _e(summary["hottest_partition"]),
              f"{_pct(summary['hottest_partition_share'])} of events"),
        _fact("Max / mean", _ratio(summary["max_mean_ratio"]),
              f"by bytes {_ratio(summary.get('max_mean_ratio_bytes'))}" if sizes
              else "by messages (no sizes given)"),
    ]  # fmt: skip
    if noise.get("method") == "simulated":
        how = f"simulated, {_count(noise.get('trials', 0))} trials"
    else:
        how = _e(noise.get("method", "computed"))
    count = summary["partition_count"]
    top_share = summary["top_keys"][0]["share"] if summary.get("top_keys") else 0.0
    references = _table(
        [("", False), ("max / mean", True), ("", False)],
        [
            f'<tr class="hot"><td>This key design</td>'
            f'<td class="num">{_ratio(summary["max_mean_ratio"])}</td>'
            f"<td>partition {_e(summary['hottest_partition'])} against the mean of "
            f"{_count(round(summary['events'] / count))} events</td></tr>",
            f'<tr><td>Best possible placement</td>'
            f'<td class="num">{_ratio(summary["best_possible_max_mean_ratio"])}</td>'
            f"<td>no partitioner can do better: the top key is {_pct(top_share)} of events, "
            f"{_pct(1 / count)} is a fair share (computed)</td></tr>",
            f'<tr><td>Random placement of these keys</td>'
            f'<td class="num">{_ratio(noise["mean"])}</td>'
            f"<td>5th–95th percentile {_ratio(noise['p05'])}–{_ratio(noise['p95'])} "
            f"({how})</td></tr>",
        ],
        "refs",
    )  # fmt: skip
    inputs = summary.get("inputs")
    source = f'<p class="source">{_e(inputs)}</p>' if inputs else ""
    return (
        "<header>"
        '<p class="eyebrow">partsim · partition load report</p>'
        f"<h1>Key <code>{_e(summary['key'])}</code> over {_count(count)} partitions "
        f"({_e(summary['partitioner'])})</h1>{source}"
        f'<div class="verdict"><strong>Verdict</strong>{_e(summary["verdict"])}</div>'
        f'<dl class="facts">{"".join(facts)}</dl>'
        "<h2>Max / mean against its two references</h2>"
        f"{references}"
        '<p class="note">Max / mean is the hottest partition\'s load over the mean load. '
        "Above the random-placement range, heavy keys happen to share a partition; near the "
        "best possible, one key is the problem and only a different key design helps.</p>"
        "</header>"
    )


def _plots(images: Mapping[str, bytes]) -> str:
    if not images:
        return ""
    named = {name.removesuffix(".png"): data for name, data in images.items()}
    order = [name for name in _PLOTS if name in named] + [n for n in named if n not in _PLOTS]
    figures = []
    for name in order:
        title, caption = _PLOTS.get(name, (name.replace("_", " ").capitalize(), ""))
        encoded = base64.b64encode(named[name]).decode("ascii")
        narrow = ' class="narrow"' if name == "lorenz" else ""
        figures.append(
            f"<figure{narrow}>"
            f'<img src="data:image/png;base64,{encoded}" alt="{_e(title)}">'
            f"<figcaption><strong>{_e(title)}.</strong> {_e(caption)}</figcaption></figure>"
        )
    return "<h2>Plots</h2>" + "".join(figures)


def _rows(frame, columns: list[tuple[str, str, Callable]], hot: Callable) -> list[str]:
    """Table rows: each column is (header, cell class, row -> cell HTML)."""
    out = []
    for row in frame.itertuples():
        css = ' class="hot"' if hot(row) else ""
        cells = "".join(
            f'<td class="{klass}">{cell(row)}</td>' if klass else f"<td>{cell(row)}</td>"
            for _, klass, cell in columns
        )
        out.append(f"<tr{css}>{cells}</tr>")
    return out


def _head(columns: list[tuple[str, str, Callable]]) -> list[tuple[str, bool]]:
    return [(header, "num" in klass) for header, klass, _ in columns]


def _partitions(result, sizes: bool) -> str:
    frame = result.partitions
    hottest = result.summary["hottest_partition"]
    peak = float(frame["messages"].max()) if len(frame) else 0.0

    def share(row) -> str:  # the cell's background is a bar of the partition's load
        width = 100 * row.messages / peak if peak > 0 else 0
        return f'<span style="--w: {width:.1f}%">{_pct(row.share)}</span>'

    columns = [
        ("partition", "num", lambda row: _e(row.partition)),
        ("messages", "num", lambda row: _count(row.messages)),
        ("share", "num bar", share),
        ("× mean", "num", lambda row: _ratio(row.ratio_to_mean)),
        ("bytes", "num", lambda row: _bytes(row.bytes)),
        ("distinct keys", "num", lambda row: _count(row.distinct_keys)),
        ("top key", "key", lambda row: _key(row.top_key, 48)),
        ("top key's share", "num", lambda row: _pct(row.top_key_share)),
    ]
    if not sizes:
        columns = [column for column in columns if column[0] != "bytes"]

    def table(rows) -> str:
        return _table(_head(columns), _rows(rows, columns, lambda row: row.partition == hottest))

    out = ["<h2>Partitions</h2>"]
    if len(frame) <= PARTITION_ROWS:
        out.append(table(frame))
    else:
        out.append(
            f'<p class="note">The {PARTITION_ROWS} busiest of {len(frame):,} partitions, busiest '
            "first; the folded list below has them all.</p>"
        )
        out.append(table(frame.nlargest(PARTITION_ROWS, "messages")))
        out.append(
            f"<details><summary>All {len(frame):,} partitions</summary>{table(frame)}</details>"
        )
    out.append(
        '<p class="note">Share is of all events; the top key is the partition\'s busiest key '
        "and its share is of that partition's events.</p>"
    )
    return "".join(out)


def _hot_keys(result, sizes: bool) -> str:
    frame = result.hot_keys
    if not len(frame):
        return '<h2>Hot keys</h2><p class="note">No keyed events.</p>'
    count = result.summary["partition_count"]
    fair = 1 / count
    columns = [
        ("#", "num", lambda row: _e(row.Index + 1)),
        ("key", "key", lambda row: _key(row.key)),
        ("events", "num", lambda row: _count(row.count)),
        ("share", "num", lambda row: _pct(row.share, 2)),
        ("bytes", "num", lambda row: _bytes(row.bytes)),
        ("partition", "num", lambda row: _e(row.partition)),
    ]
    if not sizes:
        columns = [column for column in columns if column[0] != "bytes"]
    rows = _rows(frame.reset_index(drop=True), columns, lambda row: count > 1 and row.share > fair)
    return (
        f"<h2>Hot keys</h2>{_table(_head(columns), rows)}"
        f'<p class="note">Highlighted keys alone exceed a partition\'s fair share '
        f"({_pct(fair)}): only a different key design spreads them.</p>"
    )


def _metrics(summary: Mapping) -> str:
    keyed = summary.get("keyed_only") or {}
    rows = [
        ("events", _count(summary["events"]), _count(keyed.get("events"))),
        ("max / mean", _ratio(summary["max_mean_ratio"]), _ratio(keyed.get("max_mean_ratio"))),
        ("hottest partition", _e(summary["hottest_partition"]),
         _e(keyed.get("hottest_partition", "–"))),
        ("hottest partition's share", _pct(summary["hottest_partition_share"]),
         _pct(keyed.get("hottest_partition_share"))),
        ("coefficient of variation", _number(summary["cv"]), _number(keyed.get("cv"))),
        ("Gini (0 even, 1 all on one)", _number(summary["gini"]), _number(keyed.get("gini"))),
        ("Jain's fairness (1 even)", _number(summary["jain"]), _number(keyed.get("jain"))),
        ("normalized entropy (1 even)", _number(summary["entropy"]),
         _number(keyed.get("entropy"))),
    ]  # fmt: skip
    body = [
        f'<tr><td>{_e(name)}</td><td class="num">{every}</td><td class="num">{only}</td></tr>'
        for name, every, only in rows
    ]
    table = _table([("", False), ("all events", True), ("keyed events only", True)], body)
    return (
        "<h2>Skew metrics</h2>"
        f"{table}"
        '<p class="note">Keyed events only: records placed by hashing their key. Records with '
        "a null key take the client's keyless path and are spread by its strategy.</p>"
    )


def _windows(summary: Mapping) -> str:
    stats = summary.get("windows")
    if not stats:
        return ""
    rows = [
        ("window length", f"{stats['window_seconds']:g} s"),
        ("windows", _count(stats["windows"])),
        ("first event", _time(stats["first_event"])),
        ("last event", _time(stats["last_event"])),
        ("peak window max / mean", f"{_ratio(stats['peak_window_max_mean_ratio'])} "
         f"(window from {_time(stats['peak_window_start'])})"),
        ("mean window max / mean", _ratio(stats["mean_window_max_mean_ratio"])),
        (RATE_NAMES["peak_partition_rate"],
         f"{rate_text(stats['peak_partition_rate'])} (partition {_e(stats['peak_partition'])}, "
         f"window from {_time(stats['peak_partition_window_start'])}): "
         f"{ratio_text(stats['peak_to_mean_partition_rate'])} the "
         f"{RATE_NAMES['mean_partition_rate']}"),
        (RATE_NAMES["mean_partition_rate"],
         f"{rate_text(stats['mean_partition_rate'])} (the topic rate over "
         f"{_count(summary['partition_count'])} partitions)"),
        (RATE_NAMES["topic_rate"],
         f"{rate_text(stats['topic_rate'])} (all partitions, over every window)"),
    ]  # fmt: skip
    body = [f"<tr><td>{_e(name)}</td><td>{value}</td></tr>" for name, value in rows]
    return f"<h2>Time windows</h2>{_table([('', False), ('', False)], body, 'refs')}"


def _ordering(summary: Mapping) -> str:
    ordering = summary.get("ordering")
    if not ordering:
        return ""
    entity = _e(summary.get("order_by", "entity"))
    rows = [
        ("entities with 2 or more events", _count(ordering["entities_with_2_or_more_events"])),
        ("keep their order", f"{_pct(ordering['ordering_preserved'])} "
         f"({_count(ordering['ordered_entities'])})"),
        ("their events at risk", _pct(ordering["events_at_risk"])),
        ("unordered: spread over partitions", _count(
            ordering["unordered_by_spread_over_partitions"])),
        ("unordered: null or keyless keys", _count(
            ordering["unordered_by_null_or_keyless_keys"])),
    ]  # fmt: skip
    body = [f"<tr><td>{_e(name)}</td><td>{value}</td></tr>" for name, value in rows]
    worst = "".join(
        f'<tr><td><code>{_e(row["entity"])}</code></td><td class="num">{_count(row["events"])}'
        f'</td><td class="num">{_count(row["partitions"])}</td><td class="num">'
        f"{_count(row['keyless_events'])}</td></tr>"
        for row in ordering.get("worst_by_events", [])
    )
    head = [(entity, False), ("events", True), ("partitions", True), ("keyless events", True)]
    return (
        f"<h2>Ordering by {entity}</h2>"
        f"{_table([('', False), ('', False)], body, 'refs')}"
        '<p class="note">Kafka orders records only within a partition. An entity keeps its '
        "order when all its events have a hashed key and land on one partition; a null key "
        "(or a key the client treats as null) goes wherever the keyless path sends it, and a "
        "salted key spreads the entity over partitions, so neither keeps order.</p>"
        + (f"<h3>Unordered entities with the most events</h3>{_table(head, [worst])}"
           if worst else "")
    )  # fmt: skip


def _skipped(summary: Mapping) -> str:
    examples = summary.get("skipped_examples")
    if not examples:
        return ""
    items = "".join(f"<li><code>{_e(example)}</code></li>" for example in examples)
    return (
        f"<h2>Skipped rows</h2><p>{_count(summary.get('skipped_rows', 0))} rows could not be "
        f"parsed and were left out. Examples:</p><ul>{items}</ul>"
    )


# ------------------------------------------------------------------------------ page
def render_html(result, images: Mapping[str, bytes] | None = None) -> str:
    """The whole report as one self-contained HTML page.

    ``images`` maps plot names (``"load"``, ``"lorenz"``, ``"hot_keys"``, ``"heatmap"``;
    a ``.png`` suffix is ignored) to PNG bytes, as written by
    :func:`partsim.plot.save_plots`; they are embedded in that order.
    """
    summary = result.summary
    # Without a size column (or kcat's value sizes) every event weighs 1: bytes say nothing.
    sizes = result.summary.get("size_source", "") != "none (1 per event)"
    title = f"partsim: {summary['key']} over {summary['partition_count']} partitions"
    body = "".join(
        [
            _header(summary, sizes),
            _plots(images or {}),
            _partitions(result, sizes),
            _hot_keys(result, sizes),
            _metrics(summary),
            _ordering(summary),
            _windows(summary),
            _skipped(summary),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<main>{body}</main>\n"
        f"<footer><p>Made by partsim {_e(__version__)}: partitions from the "
        f"{_e(summary['partitioner'])} partitioner's own hash, references from the same keys "
        "and counts.</p></footer>\n"
        "</body>\n</html>\n"
    )
