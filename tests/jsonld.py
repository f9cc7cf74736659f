"""JSON-LD blocks for test pages.

The block's fields come from ``fixtures/jsonld/news-article.json``, beside the saved pages
that carry the same ``@context``: the schema.org vocabulary's name, under which alone
trafilatura reads a block (its pattern ``^https?://schema\\.org``). A name, never fetched.
"""

from __future__ import annotations

import json
from pathlib import Path

NEWS_ARTICLE = Path(__file__).parent / "fixtures" / "jsonld" / "news-article.json"


def news_article(headline: str) -> str:
    """A ``<script>`` block describing a NewsArticle with this headline."""
    fields = json.loads(NEWS_ARTICLE.read_text(encoding="utf-8"))
    block = json.dumps({**fields, "headline": headline})
    return f'<script type="application/ld+json">{block}</script>'
