"""Extraction quality and speed: eventwatch's extractor against plain trafilatura, same run.

Usage: .venv/bin/python bench/extraction.py ../shared/eval/trafilatura-eval [--limit N] [--per-page]

The folder holds ``evaldata.json`` ({url: {"file", "with": [...], "without": [...]}}) and
``pages/``. Two measures, both printed per extractor:

* snippets (the corpus's own metric): each ``with`` snippet found is a true positive, missing a
  false negative; each ``without`` snippet found is a false positive;
* word tokens: a bag of words of the extracted text against the page's ``with`` snippets (the
  nearest thing to a true body the corpus has): precision = share of extracted words that are
  body words is not knowable without full bodies, so it is computed over the snippet words only:
  words of ``with`` snippets recovered (recall) and words of ``without`` snippets leaked.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawlers.extract import extract
from crawlers.pagefile import decode

WORD = re.compile(r"\w+")


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    seconds: float = 0.0
    pages: int = 0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.tn += other.tn

    def figures(self) -> tuple[float, float, float, float]:
        precision = self.tp / max(1, self.tp + self.fp)
        recall = self.tp / max(1, self.tp + self.fn)
        f1 = 2 * precision * recall / max(1e-9, precision + recall)
        accuracy = (self.tp + self.tn) / max(1, self.tp + self.tn + self.fp + self.fn)
        return precision, recall, f1, accuracy


def _norm(text: str) -> str:
    return " ".join(WORD.findall(text.casefold()))


def score_page(text: str, expected: dict[str, list[str]]) -> Score:
    body = _norm(text)
    score = Score()
    for snippet in expected.get("with", []):
        if _norm(snippet) in body:
            score.tp += 1
        else:
            score.fn += 1
    for snippet in expected.get("without", []):
        if _norm(snippet) and _norm(snippet) in body:
            score.fp += 1
        else:
            score.tn += 1
    return score


def ours(html: str, url: str) -> str:
    found = extract(html, url, min_chars=0)
    return found.text if found else ""


def plain(html: str, url: str) -> str:
    return trafilatura.extract(html, url=url) or ""


def run(
    name: str, fn: Callable[[str, str], str], pages: list[tuple[str, str, dict]], per_page: bool
) -> Score:
    total = Score()
    started = time.perf_counter()
    for url, html, expected in pages:
        try:
            text = fn(html, url)
        except Exception as exc:  # a crash on one page is a miss, not the end of the bench
            print(f"{name}: {url}: {exc!r}", file=sys.stderr)
            text = ""
        score = score_page(text, expected)
        total.add(score)
        total.pages += 1
        if per_page:
            p, r, f, _ = score.figures()
            print(f"{name:<12} P={p:.2f} R={r:.2f} F1={f:.2f}  {url}")
    total.seconds = time.perf_counter() - started
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--per-page", action="store_true")
    args = parser.parse_args()
    data = json.loads((args.folder / "evaldata.json").read_text(encoding="utf-8"))
    items = sorted(data.items())[: args.limit or None]
    pages = [
        (url, decode((args.folder / "pages" / meta["file"]).read_bytes()), meta)
        for url, meta in items
        if (args.folder / "pages" / meta["file"]).is_file()
    ]
    print(f"{len(pages)} pages")
    print(
        f"{'extractor':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'accuracy':>8} {'pages/s':>8}"
    )
    for name, fn in (("trafilatura", plain), ("eventwatch", ours)):
        score = run(name, fn, pages, args.per_page)
        p, r, f, a = score.figures()
        rate = score.pages / max(score.seconds, 1e-9)
        print(f"{name:<12} {p:>9.3f} {r:>7.3f} {f:>6.3f} {a:>8.3f} {rate:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
