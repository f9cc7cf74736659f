"""Small SVG charts drawn on the server: no script, no library to ship, readable as text
(each bar carries a title with its figure)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup

# Colour-blind-safe, distinct in greyscale too.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#555")
# A run stopped with its process (the daemon stopping) is no failure of the source.
STATUS_COLOURS = {"ok": "#009e73", "running": "#56b4e9", "stopped": "#999999", "retried": "#999999"}
FAILED_COLOUR = "#d55e00"


def last_days(days: int, today: date) -> list[date]:
    return [today - timedelta(days=back) for back in range(days - 1, -1, -1)]


def _svg(width: int, height: int, label: str) -> ET.Element:
    attributes = {
        "xmlns": "http://www.w3.org/2000/svg", "width": str(width), "height": str(height),
        "viewBox": f"0 0 {width} {height}", "role": "img", "aria-label": label,
    }  # fmt: skip
    return ET.Element("svg", attributes)


def _bar(parent: ET.Element, x: float, y: float, w: float, h: float, fill: str, tip: str) -> None:
    rect = ET.SubElement(parent, "rect", x=f"{x:.1f}", y=f"{y:.1f}", width=f"{w:.1f}",
                         height=f"{h:.1f}", fill=fill)  # fmt: skip
    ET.SubElement(rect, "title").text = tip


def _label(svg: ET.Element, x: float, y: float, size: str, text: str) -> None:
    ET.SubElement(svg, "text", {"x": str(x), "y": str(y), "font-size": size}).text = text


def _markup(svg: ET.Element) -> Markup:
    # Safe as markup: ElementTree escapes every text and attribute it writes.
    return Markup(ET.tostring(svg, encoding="unicode"))  # noqa: S704


@dataclass(frozen=True, slots=True)
class Box:
    width: int
    height: int
    legend: int = 0  # height kept under the bars for the legend


def stacked_days(
    title: str, days: Sequence[date], series: Mapping[str, Counter[date]], box: Box
) -> Markup:
    """One bar per day, stacked by series (source or rule), with a legend."""
    names = sorted(series, key=lambda n: -sum(series[n].values()))[: len(PALETTE)]
    top = max([sum(series[n][d] for n in names) for d in days] + [1])
    svg = _svg(box.width, box.height + box.legend, title)
    ET.SubElement(svg, "title").text = title
    step = box.width / max(len(days), 1)
    for column, day in enumerate(days):
        y = float(box.height)
        for colour, name in zip(PALETTE, names, strict=False):
            count = series[name][day]
            if count:
                h = (box.height - 12) * count / top
                y -= h
                _bar(svg, column * step + 1, y, step - 2, h, colour, f"{day}: {name} {count}")
    for row, (colour, name) in enumerate(zip(PALETTE, names, strict=False)):
        x, y = 4 + (row % 3) * (box.width // 3), box.height + 14 + (row // 3) * 16
        _bar(svg, x, y - 9, 10, 10, colour, name)
        _label(svg, x + 14, y, "11", name)
    _label(svg, 2, 10, "10", f"max {top}/day")
    return _markup(svg)


def sparkline(title: str, days: Sequence[date], counts: Counter[date]) -> Markup:
    """A rule's hits per day as tiny bars."""
    return stacked_days(title, days, {title: counts}, Box(180, 32))


@dataclass(frozen=True, slots=True)
class RunMark:
    started: str
    status: str
    new_articles: int
    errors: int


def run_timeline(title: str, runs: Sequence[RunMark]) -> Markup:
    """A source's crawl runs, oldest left: green ok, orange failed; taller for more new
    articles."""
    box = Box(240, 36)
    svg = _svg(box.width, box.height, title)
    ET.SubElement(svg, "title").text = title
    top = max([run.new_articles for run in runs] + [1])
    step = box.width / max(len(runs), 20)
    for column, run in enumerate(runs):
        h = 6 + (box.height - 8) * run.new_articles / top
        fill = STATUS_COLOURS.get(run.status, FAILED_COLOUR)
        tip = f"{run.started}: {run.status}, {run.new_articles} new, {run.errors} errors"
        _bar(svg, column * step + 1, box.height - h, step - 2, h, fill, tip)
    return _markup(svg)
