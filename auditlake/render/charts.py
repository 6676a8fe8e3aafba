"""The report's bar charts as inline SVG: geometry, round axis ticks, fixed colours, labels that stay distinct.

Owns: `bar_chart` (stacked bars per category, vertical or horizontal, rendered through
templates/chart.svg.j2 with autoescape: no scripts, no fonts, nothing fetched), `nice_scale` (ticks
of 1, 2, 2.5 or 5 × 10^n), `series_colours` (one fixed colour per audit level, stage and kind of
failed access, in every chart) and `distinct_labels`. Runs no SQL; reads only the Arrow table given.
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import TYPE_CHECKING, Any

from auditlake.render.pages import environment
from auditlake.render.text import cell_text, short_number

if TYPE_CHECKING:
    import pyarrow as pa

    from auditlake.reports.packs import Chart

# One colour per category, the same in every chart: the audit levels, the stages, and the kinds of failed
# access (401 is red and 403 orange whether a chart calls them `unauthenticated` or `failed_authentication`).
FIXED_COLOURS = {
    "None": "#8c959f", "Metadata": "#0969da", "Request": "#bf8700", "RequestResponse": "#8250df",
    "RequestReceived": "#54aeff", "ResponseStarted": "#d4a72c", "ResponseComplete": "#0550ae", "Panic": "#a40e26",
    "unauthenticated": "#cf222e", "failed_authentication": "#cf222e", "forbidden": "#fb8f44", "failed_authorization": "#fb8f44",
    "secret_reads_by_people": "#1a7f37", "interactive_sessions": "#bf3989", "cluster_admin_grants": "#6639ba",
    "anonymous_allowed": "#953800", "events": "#0969da", "requests": "#0969da",
}
PALETTE = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a", "#0550ae", "#116329", "#b35900")


def bar_chart(table: pa.Table, chart: Chart, width: int = 860) -> str:
    """Stacked bars of `chart.y` (or `y` split by `chart.series`) per `chart.x`, as inline SVG."""
    for column in (chart.x, *chart.y, *([chart.series] if chart.series else [])):
        if column not in table.column_names:
            raise ValueError(f"chart column {column!r} is not in the result ({', '.join(table.column_names)})")
    categories: dict[str, dict[str, float]] = {}
    series_names: list[str] = []
    for row in table.to_pylist():
        key = cell_text(row[chart.x]) or "(none)"
        bucket = categories.setdefault(key, {})
        pairs = [(str(row[chart.series]), row[chart.y[0]])] if chart.series else [(name, row[name]) for name in chart.y]
        for name, value in pairs:
            if name not in series_names:
                series_names.append(name)
            bucket[name] = bucket.get(name, 0.0) + float(value or 0)
    if not chart.horizontal:
        categories = dict(sorted(categories.items()))
    known = list(FIXED_COLOURS)
    series_names.sort(key=lambda name: known.index(name) if name in known else len(known))  # levels in their order, in every chart
    total = max((sum(values.values()) for values in categories.values()), default=0) or 1
    colours = series_colours(series_names)
    legend, offset = [], 10
    for name, label in distinct_labels(series_names, 40).items():
        legend.append({"x": offset, "colour": colours[name], "label": label})
        offset += 30 + int(len(label) * 6.5)
    layout = _horizontal if chart.horizontal else _vertical
    drawing = layout(categories, series_names, colours, total, width)
    from markupsafe import Markup  # rendered with autoescape, so the page includes it as it is

    svg = environment().get_template("chart.svg.j2").render(title=chart.title or ", ".join(chart.y), legend=legend, width=width, **drawing)
    return Markup(svg.strip())


def _bar(key: str, name: str, value: float, x: float, y: float, width: float, height: float, colour: str) -> dict[str, Any]:
    return {"x": f"{x:.1f}", "y": f"{y:.1f}" if isinstance(y, float) else y, "width": f"{width:.1f}",
            "height": f"{height:.1f}" if isinstance(height, float) else height, "colour": colour, "tip": f"{key} · {name}: {value:,.0f}"}


def _vertical(categories: dict[str, dict[str, float]], series_names: list[str], colours: dict[str, str], total: float,
              width: int) -> dict[str, Any]:
    top_value, step_value = nice_scale(total)
    left, top, height = 56, 44, 180
    step = max((width - left - 10) / max(len(categories), 1), 4)
    bar = max(step * 0.7, 2)
    ticks = []
    for tick in range(round(top_value / step_value) + 1):
        value = step_value * tick
        tick_y = top + height - height * value / top_value
        ticks.append({"x1": left, "x2": width - 10, "y": f"{tick_y:.1f}", "text_x": left - 6, "text_y": f"{tick_y + 4:.1f}",
                      "label": short_number(value)})
    labels = distinct_labels(list(categories), 12)
    widest = max((len(label) for label in labels.values()), default=1) * 6.5 + 8
    every = max(1, math.ceil(widest / step))  # labels never overlap
    columns = []
    for index, (key, values) in enumerate(categories.items()):
        x = left + index * step + (step - bar) / 2
        y: float = top + height
        bars = []
        for name in series_names:
            value = values.get(name, 0.0)
            h = height * value / top_value
            y -= h
            bars.append(_bar(key, name, value, x, y, bar, h, colours[name]))
        label = {"x": f"{x + bar / 2:.1f}", "y": top + height + 14, "text": labels[key]} if index % every == 0 else None
        columns.append({"bars": bars, "label": label})
    return {"horizontal": False, "view_height": top + height + 40, "ticks": ticks, "columns": columns}


def _horizontal(categories: dict[str, dict[str, float]], series_names: list[str], colours: dict[str, str], total: float,
                width: int) -> dict[str, Any]:
    label, top, row = 260, 44, 20
    labels = distinct_labels(list(categories), 40)
    rows = []
    for index, (key, values) in enumerate(categories.items()):
        y = top + index * row
        x = float(label)
        bars = []
        for name in series_names:
            value = values.get(name, 0.0)
            w = (width - label - 70) * value / total
            bars.append(_bar(key, name, value, x, y + 3, w, row - 6, colours[name]))
            x += w
        rows.append({"key": key, "label": labels[key], "label_x": label - 6, "text_y": y + 13, "bars": bars, "total_x": f"{x + 4:.1f}",
                     "total": short_number(sum(values.values()))})
    return {"horizontal": True, "view_height": top + row * len(categories) + 10, "rows": rows}


def nice_scale(maximum: float, ticks: int = 4) -> tuple[float, float]:
    """The axis top and tick step for values up to `maximum`: a step of 1, 2, 2.5 or 5 × 10^n, so every tick is round.

    >>> nice_scale(1234), nice_scale(3), nice_scale(97_000), nice_scale(0.7)
    ((1500, 500), (3, 1), (100000, 25000), (0.8, 0.2))
    """
    if maximum <= 0:
        return 1, 1
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(multiple * magnitude for multiple in (1, 2, 2.5, 5, 10) if multiple * magnitude >= raw)
    if maximum >= 1 and step < 1:
        step = 1  # counts: no tick between two whole numbers
    step = int(step) if float(step).is_integer() else round(step, 12)
    top = math.ceil(maximum / step - 1e-9) * step
    return (int(top) if float(top).is_integer() else round(top, 12)), step


def series_colours(names: list[str]) -> dict[str, str]:
    """A colour per series: the fixed one of a known category (audit levels, stages, failed access), else one
    picked by the name's hash, so a series has the same colour in every chart; never two alike in one chart
    while the palette lasts.

    >>> series_colours(["Request", "Metadata"]) == {"Request": FIXED_COLOURS["Request"], "Metadata": FIXED_COLOURS["Metadata"]}
    True
    """
    colours = {name: FIXED_COLOURS[name] for name in names if name in FIXED_COLOURS}
    free = [colour for colour in PALETTE if colour not in colours.values()] or list(PALETTE)
    for name in (name for name in names if name not in colours):
        start = int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(free)
        taken = set(colours.values())
        colours[name] = next((free[(start + step) % len(free)] for step in range(len(free)) if free[(start + step) % len(free)] not in taken),
                             free[start])
    return colours


def distinct_labels(names: list[str], width: int) -> dict[str, str]:
    """A label of at most `width` characters per name, no two alike: the start and the end of a long name
    (`system:servic…slice-controller`), more of what differs when that is not enough, a number as the last resort.

    >>> distinct_labels(["system:serviceaccount:kube-system:endpointslice-controller"], 24)
    {'system:serviceaccount:kube-system:endpointslice-controller': 'system:s…lice-controller'}
    >>> sorted(distinct_labels(["system:serviceaccount:team-a:long-running-deployer-bot",
    ...                         "system:serviceaccount:team-b:long-running-deployer-bot"], 24).values())
    ['…am-a:lo…ng-deployer-bot', '…am-b:lo…ng-deployer-bot']
    """
    def shorten(name: str, room: int) -> str:
        if len(name) <= room:
            return name
        head = max(room // 3, 1)
        return name[:head] + "…" + name[len(name) - (room - head - 1):]

    labels = {name: shorten(name, width) for name in names}
    for attempt in range(3):
        groups: dict[str, list[str]] = {}
        for name, label in labels.items():
            groups.setdefault(label, []).append(name)
        clashes = [group for group in groups.values() if len(group) > 1]
        if not clashes:
            break
        for group in clashes:
            if attempt == 0:  # keep what differs: the part after what they share
                shared = len(os.path.commonprefix(group))
                for name in group:
                    labels[name] = "…" + shorten(name[shared - 3:], width - 1) if shared > 3 else shorten(name, width)
            elif attempt == 1:
                for name in group:
                    labels[name] = "…" + name[-(width - 1):]
            else:
                for number, name in enumerate(group, 1):
                    suffix = f" #{number}"
                    labels[name] = shorten(name, width - len(suffix)) + suffix
    return labels
