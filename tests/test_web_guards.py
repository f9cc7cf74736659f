"""The pure guards behind the fault matrix: XML without a DTD, site bounds, Retry-After,
private addresses, mislabelled charsets. No network: addresses are literals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse
from scrapy.utils.sitemap import Sitemap

from crawlers.crawling.charsets import page_text
from crawlers.crawling.middlewares import BlockedAddress, _refuse_private, retry_after_seconds
from crawlers.crawling.xmlguard import parse_feed, without_doctype
from crawlers.launcher.sources import CrawlSource
from crawlers.urls import on_site

LAUGHS = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))


def bomb(root: str, body: str) -> bytes:
    return f'<?xml version="1.0"?><!DOCTYPE {root} [<!ENTITY l0 "ha">{LAUGHS}]>{body}'.encode()


def external(root: str, target: Path, body: str) -> bytes:
    doctype = f'<!DOCTYPE {root} [<!ENTITY leak SYSTEM "file://{target}">]>'
    return f'<?xml version="1.0"?>{doctype}{body}'.encode()


def test_doctype_with_internal_subset_is_cut_and_nothing_else() -> None:
    cut = without_doctype(bomb("rss", "<rss><channel><title>&l9;</title></channel></rss>"))
    assert b"ENTITY" not in cut and b"<rss><channel><title>&l9;</title>" in cut
    plain = b"<?xml version='1.0'?><urlset><url><loc>https://x.example.org/a</loc></url></urlset>"
    assert without_doctype(plain) == plain
    quoted = b"<rss><item><title>&lt;!DOCTYPE html&gt;</title></item></rss>"
    assert without_doctype(quoted) == quoted  # after the root element: text, not a DTD


def test_feed_entity_bomb_is_not_expanded() -> None:
    feed = parse_feed(
        bomb("rss", "<rss><channel><item><title>&l9;</title><link>/a</link></item></channel></rss>")
    )
    assert "haha" not in str(feed.entries)
    assert [entry.link for entry in feed.entries] == ["/a"]


def test_feed_external_entity_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    body = "<rss><channel><item><title>&leak;</title><link>/b</link></item></channel></rss>"
    assert "TOP-SECRET-VALUE" not in str(parse_feed(external("rss", secret, body)))


def test_feed_body_naming_a_local_file_is_not_opened(tmp_path: Path) -> None:
    local = tmp_path / "feed.xml"
    local.write_text("<rss><channel><item><link>/c</link></item></channel></rss>", "utf-8")
    assert parse_feed(str(local).encode()).entries == []


def test_sitemap_bomb_and_external_entity(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    urls = "<urlset><url><loc>https://x.example.org/a</loc></url><url><loc>{}</loc></url></urlset>"
    for body in (
        bomb("urlset", urls.format("&l9;")),
        external("urlset", secret, urls.format("&leak;")),
    ):
        locs = [entry.get("loc") for entry in Sitemap(without_doctype(body))]
        assert "https://x.example.org/a" in locs
        assert not [loc for loc in locs if loc and ("haha" in loc or "SECRET" in loc)]


def test_on_site_keeps_to_the_source_domains_and_ports() -> None:
    domains = CrawlSource(
        "s", start_urls=("http://127.0.0.1:8080/", "https://x.example.org/")
    ).domains()
    assert domains == ("127.0.0.1:8080", "x.example.org")
    assert on_site("http://127.0.0.1:8080/news/1", domains)
    assert not on_site("http://127.0.0.1:8081/news/1", domains)  # another service
    assert not on_site("http://127.0.0.1/news/1", domains)
    assert on_site("https://www.x.example.org/a", domains) and on_site(
        "http://x.example.org:80/a", domains
    )
    assert not on_site("http://x.example.org:6379/", domains)
    for url in (
        "file:///etc/passwd",
        "ftp://x.example.org/a",
        "javascript:alert(1)",
        "http://x.example.org:99999/",
    ):
        assert not on_site(url, domains)
    assert not on_site("http://169.254.169.254/latest/meta-data/", domains)


def test_retry_after_seconds_or_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(b"120", now) == 120
    assert retry_after_seconds(b"Thu, 01 Jan 2026 12:02:00 GMT", now) == 120
    assert retry_after_seconds(b"Thu, 01 Jan 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds(b"soon", now) is None
    assert retry_after_seconds(None, now) is None


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://169.254.169.254/", "http://10.1.2.3/", "http://[::1]/",
     "http://192.168.0.1/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"],
)  # fmt: skip
def test_private_and_link_local_addresses_are_refused(url: str) -> None:
    with pytest.raises(BlockedAddress, match="non-public address"):
        asyncio.run(_refuse_private(url))


def test_public_addresses_pass() -> None:
    asyncio.run(_refuse_private("http://93.184.215.14/"))
    asyncio.run(_refuse_private("http://[2606:4700::1111]/"))


def test_utf8_labelled_latin1_is_read_as_utf8() -> None:
    body = "<p>Делегация — café</p>".encode()
    wrong = HtmlResponse(
        "http://x.example.org/",
        body=body,
        headers={"Content-Type": "text/html; charset=iso-8859-1"},
    )
    assert "Делегация — café" in page_text(wrong)
    latin = "<p>café crème</p>".encode("latin-1")
    right = HtmlResponse(
        "http://x.example.org/",
        body=latin,
        headers={"Content-Type": "text/html; charset=iso-8859-1"},
    )
    assert "café crème" in page_text(right)
    broken = HtmlResponse("http://x.example.org/", body=b"<p>ok \xff\xfe ok</p>", encoding="utf-8")
    assert "ok \ufffd" in page_text(broken)


def test_given_domains_keep_the_entry_urls() -> None:
    source = CrawlSource(
        "s", start_urls=("http://x.example.org:8080/",), allowed_domains=("x.example.org",)
    )
    assert source.domains() == ("x.example.org", "x.example.org:8080")
    feed_elsewhere = CrawlSource(
        "t", feeds=("https://feeds.example.net/x",), allowed_domains=("x.example.org",)
    )
    assert feed_elsewhere.domains() == ("x.example.org", "feeds.example.net")
