"""The demo's sample sites: copies of the project's fixture sites (several outlets, English,
French and Russian, one story reported by two of them), served on 127.0.0.1, and the
articles that appear on them one by one while the demo runs (``later.yaml``)."""

from __future__ import annotations

import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sites"
SITES = ("storywire", "storydesk", "wpnews", "feedsite", "cyrillic")
LATER = Path(__file__).with_name("later.yaml")
_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LaterArticle:
    site: str
    path: str
    lang: str
    published: str
    title: str
    paragraphs: tuple[str, ...]

    def page(self) -> str:
        title = html.escape(self.title)
        body = "\n".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)
        return (
            f'<!DOCTYPE html><html lang="{self.lang}"><head><meta charset="utf-8">'
            f"<title>{title}</title>"
            f'<meta property="article:published_time" content="{self.published}"></head>'
            f"<body><main><article><h1>{title}</h1>\n{body}</article></main></body></html>"
        )


def later_articles() -> list[LaterArticle]:
    entries = yaml.safe_load(LATER.read_text(encoding="utf-8"))
    return [LaterArticle(**{**e, "paragraphs": tuple(e["paragraphs"])}) for e in entries]


def copy_sites(folder: Path) -> dict[str, Path]:
    roots = {}
    for name in SITES:
        roots[name] = folder / name
        shutil.copytree(FIXTURES / name, roots[name])
    return roots


def publish(root: Path, article: LaterArticle) -> None:
    """Write the article and link it first on the site's home page, as a newsroom does."""
    page = root / article.path
    page.parent.mkdir(parents=True, exist_ok=True)
    encoding = "windows-1251" if root.name == "cyrillic" else "utf-8"
    text = article.page()
    if encoding != "utf-8":
        text = text.replace('<meta charset="utf-8">', f'<meta charset="{encoding}">')
    page.write_bytes(text.encode(encoding))
    href = "{{BASE}}/" + article.path.removesuffix("index.html")
    link = f'<p><a href="{href}">{html.escape(article.title)}</a></p>'
    home = root / "index.html"
    old = home.read_bytes().decode(encoding)
    home.write_bytes(_BODY.sub(lambda tag: tag.group() + link, old, count=1).encode(encoding))
