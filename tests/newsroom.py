"""A 40-article news site written to a folder for tests/sitehost.py: a home page listing its
articles, two of them named ``archive.org.….html``, one under /archive/2024/05/ and one under
/video/, beside links that are no articles (a tag, a gallery, an off-site page)."""

from __future__ import annotations

import random
from pathlib import Path

VOCABULARY = (
    "assembly border council delegation ministers treaty security summit cooperation region "
    "agreement parliament session members committee report experts exercise training police "
    "customs bridge river valley province capital mayor budget water energy harvest school "
    "hospital road railway station market farmers workers union election observers mission"
)
WORDS = VOCABULARY.split()

STORIES = [f"/news/story-{n:02}.html" for n in range(1, 37)]
ARCHIVE_ORG = ["/news/archive.org.first-mirror-story.html", "/news/archive.org.second-copy.html"]
ARCHIVE_DATED = "/archive/2024/05/river-bridge-reopens"
VIDEO = "/video/ministers-meet-at-the-border-post"
ARTICLES = [*STORIES, *ARCHIVE_ORG, ARCHIVE_DATED, VIDEO]
GALLERY = "/gallery/photos-of-the-summit-day"  # tried, and not an article
PHOTOS = "/photos/another-gallery-of-the-week"  # not tried: the page's tries are spent
TAG = "/tag/security/"
GONE = "/news/gone-story.html"  # never there: 404
BROKEN = "/news/broken-story.html"  # answered with a 500 until it is written


def article_html(path: str, seed: int) -> str:
    rng = random.Random(seed)
    title = f"Story {seed}: " + " ".join(rng.choice(WORDS) for _ in range(5)).capitalize()
    paragraphs = "".join(
        "<p>" + " ".join(rng.choice(WORDS) for _ in range(45)).capitalize() + ".</p>"
        for _ in range(5)
    )
    return (
        f"<html><head><title>{title}</title>"
        '<meta property="article:published_time" content="2024-05-14T09:00:00+00:00">'
        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>"
        f"{paragraphs}</article><footer>Newsroom {path}</footer></body></html>"
    )


def gallery_html() -> str:
    captions = "".join(f"<figure><figcaption>Photo {n}</figcaption></figure>" for n in range(9))
    return f"<html><head><title>Gallery</title></head><body>{captions}</body></html>"


def write_page(root: Path, path: str, html: str) -> None:
    target = root / path.lstrip("/")
    if path.endswith("/") or "." not in target.name:
        target = target / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


def home_html(extra: tuple[str, ...] = ()) -> str:
    links = [*ARTICLES, GALLERY, PHOTOS, TAG, GONE, BROKEN, *extra]
    items = "".join(f'<li><a href="{path}">Read {path}</a></li>' for path in links)
    offsite = '<a href="https://elsewhere.example/news/story-99.html">Elsewhere</a>'
    return (
        f"<html><head><title>Newsroom</title></head><body><ul>{items}</ul>{offsite}</body></html>"
    )


def build(root: Path) -> None:
    """The site, less BROKEN (see :func:`mend`)."""
    for seed, path in enumerate(ARTICLES, start=1):
        write_page(root, path, article_html(path, seed))
    write_page(root, GALLERY, gallery_html())
    write_page(root, PHOTOS, gallery_html())
    write_page(root, TAG, home_html())
    write_page(root, "/", home_html())


def mend(root: Path) -> None:
    write_page(root, BROKEN, article_html(BROKEN, 99))
