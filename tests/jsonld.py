"""JSON-LD blocks for test pages.

Their ``@context`` is the schema.org vocabulary's name: trafilatura reads a block only under
it (its pattern ``^https?://schema\\.org``), as real pages give it. A name, never fetched.
"""

from __future__ import annotations

import json

SCHEMA_ORG = "https://schema.org"


def news_article(headline: str) -> str:
    """A ``<script>`` block describing a NewsArticle with this headline."""
    block = json.dumps({"@context": SCHEMA_ORG, "@type": "NewsArticle", "headline": headline})
    return f'<script type="application/ld+json">{block}</script>'
