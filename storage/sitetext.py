"""Read-only: the stored texts of one source's articles, for learning its recurring lines,
and where they stated their dates, for learning where its template puts them.

The site-level boilerplate learner (``crawlers.crawling.sitelines``) needs many pages of a site; the
database already holds them. Texts are stored after the learned lines were stripped, so the
most recent articles alone would slowly forget a line they no longer contain; the source's
first articles, stored before anything was learned, keep it remembered.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import Article, Source

LATEST = 200
EARLIEST = 50


def source_article_texts(
    db: Database, source: str, *, latest: int = LATEST, earliest: int = EARLIEST
) -> list[tuple[str, str]]:
    """(canonical URL, text) of the source's newest and oldest articles, each once."""
    query = select(Article.id, Article.canonical_url, Article.text).join(Source)
    query = query.where(Source.name == source)
    with db.session() as session:
        newest = session.execute(query.order_by(Article.id.desc()).limit(latest)).all()
        oldest = session.execute(query.order_by(Article.id.asc()).limit(earliest)).all()
    texts = {row.id: (row.canonical_url, row.text) for row in [*newest, *oldest]}
    return [texts[key] for key in sorted(texts)]


def source_date_places(db: Database, source: str, *, latest: int = LATEST) -> list[list[str]]:
    """Where the source's newest articles stated their confirmed date
    (crawlers.crawling.sitedates)."""
    query = select(Article.date_places).join(Source).where(Source.name == source)
    with db.session() as session:
        rows = session.scalars(query.order_by(Article.id.desc()).limit(latest)).all()
    return [list(places or ()) for places in rows]
