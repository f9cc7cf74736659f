"""A page's text when its declared character set is wrong.

Servers often label UTF-8 pages as Latin-1 or Windows-1252 (a default in a web server's
config), and the result is mojibake in every stored article. Text in a legacy 8-bit
charset is almost never valid UTF-8 once it has non-ASCII letters, so bytes that decode
as UTF-8 are read as UTF-8 whatever the label says. Invalid bytes in a page that is
declared UTF-8 become U+FFFD and the rest of the page is kept.
"""

from __future__ import annotations

import codecs

from scrapy.http import TextResponse


def page_text(response: TextResponse) -> str:
    if _is_utf8(response.encoding) or response.body.isascii():
        return response.text
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError:
        return response.text


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False
