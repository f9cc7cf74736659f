"""Loaded once into the extraction workers' fork server (:mod:`crawlers.workers.server`).

Importing trafilatura and the rest of extraction is slow, the language classifier
decompresses its model on first use, and trafilatura reads all of jusText's stoplists the
first time a page is too short for its own extraction. The fork server does all of it once
per crawl, by preparing one short article and one near-empty page at import; each worker
forked from it starts ready.
"""

from __future__ import annotations

import gc
import logging

from crawlers.workers.prepared import prepare_page
from crawlers.workers.server import NEAR_EMPTY

# Its words are not all ASCII, so that folding them builds the character classes once here.
SAMPLE = (
    "<html><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1>"
    + "".join(
        f"<p>On day {day} the assembly met in Genève and agreed on item {day * 7} of its "
        "work programme, to be reported on at the session of 3 March 2025.</p>"
        for day in range(1, 6)
    )
    + "</article></body></html>"
)

try:
    prepare_page(SAMPLE, "http://127.0.0.1/warm-up")
    prepare_page(NEAR_EMPTY, "http://127.0.0.1/")
except Exception:  # only an import error is harmless to a fork server: it must still start
    logging.getLogger(__name__).exception("extraction warm-up failed")

# What the server holds now is never freed: left out of the workers' garbage collections,
# which would otherwise walk it again and again (and touch its pages, copying them per worker).
gc.freeze()
