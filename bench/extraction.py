"""Extraction quality and speed: eventwatch's extractor against plain trafilatura, same run.

Usage: .venv/bin/python bench/extraction.py FOLDER [--limit N] [--per-page] [--only NAME]

FOLDER holds ``evaldata.json`` ({url: {"file", "with": [...], "without": [...]}}) and
``pages/`` (e.g. ../shared/eval/trafilatura-eval; the pages stay there, never in the project).
Each page is decoded once, then both extractors run on it in turn, page after page, so their
pages per second compare like with like even on a busy machine. Two measures are printed per
extractor:

* snippets, the corpus's own metric: a ``with`` snippet found in the whitespace-normalised
  text is a true positive, missing a false negative; a ``without`` snippet found is a false
  positive, absent a true negative;
* word tokens, the bag-of-words measure: the corpus has no full bodies, so the ``with``
  snippets stand for the body and the ``without`` snippets for the boilerplate. Body words
  recovered (multiset intersection) are true positives, body words missing false negatives,
  and boilerplate words extracted that are not also body words false positives.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawlers.extraction.extract import extract
from crawlers.extraction.pagefile import decode

WORD = re.compile(r"\w+")
Page = tuple[str, str, dict]


@dataclass
class Counts:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.tn += other.tn

    def figures(self) -> tuple[float, float, float, float]:
        """precision, recall, F1, accuracy (0.0 where a denominator is empty)."""
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0
        total = self.tp + self.fn + self.fp + self.tn
        return precision, recall, f1, (self.tp + self.tn) / total if total else 0.0


@dataclass
class Result:
    snippets: Counts = field(default_factory=Counts)
    words: Counts = field(default_factory=Counts)
    seconds: float = 0.0
    pages: int = 0
    empty: int = 0


def _ws(text: str) -> str:
    return " ".join(text.split())


def snippet_counts(text: str, expected: dict) -> Counts:
    """The corpus's metric: whitespace-normalised, case-sensitive substring matching."""
    body = _ws(text)
    found_with = sum(_ws(s) in body for s in expected.get("with", []))
    found_without = sum(_ws(s) in body for s in expected.get("without", []))
    return Counts(
        tp=found_with,
        fn=len(expected.get("with", [])) - found_with,
        fp=found_without,
        tn=len(expected.get("without", [])) - found_without,
    )


def _bag(texts: list[str]) -> Counter[str]:
    return Counter(word for text in texts for word in WORD.findall(text.casefold()))


def word_counts(text: str, expected: dict) -> Counts:
    """Bag of word tokens: snippets stand for body (``with``) and boilerplate (``without``)."""
    got = _bag([text])
    body = _bag(expected.get("with", []))
    chrome = _bag(expected.get("without", [])) - body
    tp = sum((got & body).values())
    fp = sum((got & chrome).values())
    return Counts(tp=tp, fn=sum(body.values()) - tp, fp=fp, tn=sum(chrome.values()) - fp)


def ours(html: str, url: str) -> str:
    found = extract(html, url, min_chars=0)
    return found.text if found else ""


def plain(html: str, url: str) -> str:
    return trafilatura.extract(html, url=url) or ""


EXTRACTORS: dict[str, Callable[[str, str], str]] = {"trafilatura": plain, "eventwatch": ours}


def run_page(name: str, fn: Callable[[str, str], str], page: Page, result: Result) -> str:
    """One extractor on one page, timed (the extraction only) and scored into ``result``."""
    url, html, expected = page
    started = time.perf_counter()
    try:
        text = fn(html, url)
    except Exception as exc:  # a crash on one page is a miss, not the end of the bench
        print(f"{name}: {url}: {exc!r}", file=sys.stderr)
        text = ""
    result.seconds += time.perf_counter() - started
    snippets, words = snippet_counts(text, expected), word_counts(text, expected)
    result.snippets.add(snippets)
    result.words.add(words)
    result.pages += 1
    result.empty += not text
    p, r, f, _ = snippets.figures()
    wp, wr, wf, _ = words.figures()
    return f"snippets P={p:.2f} R={r:.2f} F1={f:.2f}  words P={wp:.2f} R={wr:.2f} F1={wf:.2f}"


def run(names: list[str], pages: list[Page], per_page: bool) -> dict[str, Result]:
    """Page by page, every extractor in turn on the same page: a machine busy with other
    work slows all of them alike, so their pages per second stay comparable."""
    results = {name: Result() for name in names}
    for page in pages:
        for name in names:
            line = run_page(name, EXTRACTORS[name], page, results[name])
            if per_page:
                print(f"{name:<12} {line}  {page[0]}")
    return results


def load_pages(folder: Path, limit: int) -> list[Page]:
    data = json.loads((folder / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url, meta in sorted(data.items())[: limit or None]:
        path = folder / "pages" / meta["file"]
        if path.is_file():
            pages.append((url, decode(path.read_bytes()), meta))
    return pages


def report(results: dict[str, Result]) -> None:
    head = f"{'extractor':<12} {'measure':<9} {'precision':>9} {'recall':>7} {'F1':>6}"
    print(head + f" {'accuracy':>8} {'pages/s':>8} {'empty':>6}")
    for name, result in results.items():
        rate = result.pages / max(result.seconds, 1e-9)
        for measure, counts in (("snippets", result.snippets), ("words", result.words)):
            p, r, f, a = counts.figures()
            line = f"{name:<12} {measure:<9} {p:>9.3f} {r:>7.3f} {f:>6.3f} {a:>8.3f}"
            print(line + f" {rate:>8.1f} {result.empty:>6}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("folder", type=Path, help="folder with evaldata.json and pages/")
    parser.add_argument("--limit", type=int, default=0, help="first N pages only (by URL)")
    parser.add_argument("--per-page", action="store_true", help="a line per page and extractor")
    parser.add_argument("--only", choices=sorted(EXTRACTORS), help="run one extractor")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # dateutil's timezone warnings drown the figures
    pages = load_pages(args.folder, args.limit)
    print(f"{len(pages)} pages from {args.folder}")
    names = [args.only] if args.only else list(EXTRACTORS)
    for name in names:  # warm-up: imports and one-time setup are not extraction time
        EXTRACTORS[name]("<html><body><p>warm up</p></body></html>", "http://127.0.0.1/")
    report(run(names, pages, args.per_page))
    return 0


if __name__ == "__main__":
    sys.exit(main())
