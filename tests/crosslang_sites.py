"""The labelled cross-language reports (tests/fixtures/xlang) as fixture sites: one folder per
site, with a home page listing its articles and one page per report, for tests.sitehost.

Read by tests/test_crosslang.py, which crawls them, and by bench/crosslang.py.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

REPORTS = Path(__file__).with_name("fixtures") / "xlang"
SITE_NAMES = {
    "centralwire": "Central Asia Wire",
    "echos": "Les Échos de l'Orient",
    "vestnik": "Вестник Евразии",
    "alkhabar": "الخبر الدولي",
    "pamnews": "Mediterranean Parliaments News",
}


@dataclass(frozen=True, slots=True)
class Report:
    id: str
    event: str
    site: str
    published: datetime
    title: str
    text: str

    @property
    def path(self) -> str:
        return f"/news/{self.published:%Y/%m/%d}/{self.id}.html"


def load_reports(folder: Path = REPORTS) -> list[Report]:
    reports = []
    for path in sorted(folder.glob("reports_*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")):
            reports.append(Report(**item))
    return reports


def write_sites(folder: Path, reports: list[Report]) -> dict[str, Path]:
    """One folder per site under ``folder``; {site: folder}."""
    by_site: dict[str, list[Report]] = defaultdict(list)
    for report in reports:
        by_site[report.site].append(report)
    roots = {}
    for site, held in by_site.items():
        root = folder / site
        for report in held:
            page = root / report.path.lstrip("/")
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(_article(site, report), encoding="utf-8")
        (root / "index.html").write_text(_home(site, held), encoding="utf-8")
        roots[site] = root
    return roots


def _home(site: str, reports: list[Report]) -> str:
    links = "\n".join(
        f'<li><a href="{{{{BASE}}}}{r.path}">{html.escape(r.title)}</a></li>' for r in reports
    )
    return _page(site, SITE_NAMES[site], "", f"<h1>Latest news</h1>\n<ul>\n{links}\n</ul>")


def _article(site: str, report: Report) -> str:
    head = (
        f'<link rel="canonical" href="{{{{BASE}}}}{report.path}">\n'
        f'<meta property="article:published_time" content="{report.published.isoformat()}">'
    )
    paragraphs = "\n".join(
        f"<p>{html.escape(p.strip())}</p>" for p in report.text.split("\n\n") if p.strip()
    )
    body = f"<article><h1>{html.escape(report.title)}</h1>\n{paragraphs}\n</article>"
    return _page(site, f"{report.title} — {SITE_NAMES[site]}", head, body)


def _page(site: str, title: str, head: str, main: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>\n{head}</head>\n"
        '<body><header><nav><a href="{{BASE}}/">Home</a></nav></header>\n'
        f"<main>{main}</main>\n"
        f"<footer><p>{html.escape(SITE_NAMES[site])}. All rights reserved.</p></footer>\n"
        "</body></html>\n"
    )
