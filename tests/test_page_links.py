"""The link an analyst gets is the page's own, and its title reads as the page shows it
(issue 26, 8): a real local site crawled, then listed and read as alerts read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from crawlers.extraction.extract import extract
from monitor.cli import main
from storage.db import Database
from storage.events import list_events
from storage.migrate import upgrade
from storage.outbox import event_articles
from tests.jsonld import news_article
from tests.sitehost import SiteServer, serve
from tests.test_crawl import run_cli, source_yaml, write_config

TOPICS = {
    "dushanbe-ministers": "Interior ministers of five Central Asian states met in Dushanbe "
    "to agree a joint plan against terrorism financing and online recruitment of the young.",
    "summit-story": "The regional summit on water sharing ended with a declaration on the "
    "rivers that cross the borders of the upstream and downstream countries alike.",
    "parasite-upset": "South Korean thriller Parasite was the upset winner at the Screen "
    "Actors Guild awards, cementing its standing ahead of the Oscars next month.",
    "fish-and-chips": "A seaside town held its yearly fish and chips festival, where forty "
    "stalls competed for the title of the crispiest batter on the whole coast.",
    "borrowed-address": "A parliamentary assembly adopted a resolution on cross-border "
    "cooperation against smuggling of cultural goods along the old caravan roads.",
}
HEAD_EXTRA = {
    "summit-story": '<link rel="Canonical" href="/stories/summit-story/">',
    "parasite-upset": news_article("&#039;Parasite&#039; scores historic upset at SAG awards"),
    "fish-and-chips": news_article("Fish &amp;amp; chips festival crowns its crispiest stall"),
    "borrowed-address": '<link rel="canonical" href="https://elsewhere.example.org/a/1">',
}
LINKED = {
    "dushanbe-ministers": "/news/2024/12/dushanbe-ministers/",
    "summit-story": "/news/2024/12/summit-story?utm_source=feed",
    "parasite-upset": "/news/2024/12/parasite-upset/",
    "fish-and-chips": "/news/2024/12/fish-and-chips/",
    "borrowed-address": "/news/2024/12/borrowed-address/",
}


def article_page(slug: str) -> str:
    paragraphs = "".join(
        f"<p>{TOPICS[slug]} Paragraph {n} goes on with details that only this report "
        f"gives about {slug.replace('-', ' ')}, told at length for the readers.</p>"
        for n in range(1, 4)
    )
    title = slug.replace("-", " ").capitalize()
    return (
        f"<html><head><title>{title}</title>{HEAD_EXTRA.get(slug, '')}</head><body>"
        f"<nav>Home News About</nav><article><h1>{title}</h1>{paragraphs}</article>"
        "</body></html>"
    )


def build_site(root: Path) -> None:
    links = "".join(f'<li><a href="{path}">{slug}</a></li>' for slug, path in LINKED.items())
    root.mkdir()
    (root / "index.html").write_text(f"<html><body><ul>{links}</ul></body></html>")
    for slug in TOPICS:
        page = root / "news" / "2024" / "12" / slug
        page.mkdir(parents=True)
        (page / "index.html").write_text(article_page(slug), encoding="utf-8")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    """(config, the site's base URL, event titles by URL as `events list --json` gives them)"""
    tmp = tmp_path_factory.mktemp("links")
    build_site(tmp / "site")
    with serve(tmp / "site") as site:
        config = write_config(tmp, [source_yaml("links", site.base_url, follow=["/news/"])])
        result = run_cli(config, "crawl", "links", "--no-alerts")
        assert result.returncode == 0, result.stdout + result.stderr
        events = run_cli(config, "events", "list", "--json")
    listed = [json.loads(line) for line in events.stdout.splitlines()]
    assert len(listed) == len(TOPICS), events.stdout + events.stderr
    return config, _base(site), {event["url"]: event["title"] for event in listed}


def _base(site: SiteServer) -> str:
    return site.base_url


def test_a_trailing_slash_url_is_listed_with_its_slash(crawled: tuple[Path, str, dict]) -> None:
    _, base, titles = crawled
    assert f"{base}/news/2024/12/dushanbe-ministers/" in titles
    assert f"{base}/news/2024/12/dushanbe-ministers" not in titles


def test_a_declared_canonical_url_on_the_same_site_is_the_link(
    crawled: tuple[Path, str, dict],
) -> None:
    _, base, titles = crawled
    assert titles[f"{base}/stories/summit-story/"] == "Summit story"
    # another site's address is not the page's to claim: the URL fetched stands
    assert f"{base}/news/2024/12/borrowed-address/" in titles


def test_entity_encoded_titles_are_decoded_once(crawled: tuple[Path, str, dict]) -> None:
    _, _, titles = crawled
    shown = set(titles.values())
    assert "'Parasite' scores historic upset at SAG awards" in shown
    assert "Fish &amp; chips festival crowns its crispiest stall" in shown


def test_alerts_carry_the_same_links(crawled: tuple[Path, str, dict]) -> None:
    config, base, titles = crawled
    db = Database(f"sqlite:///{config.parent / 'eventwatch.db'}")
    with db.session() as session:
        event_ids = session.scalars(text("SELECT id FROM events")).all()
        sent = {a.url for event_id in event_ids for a in event_articles(session, event_id)}
    db.dispose()
    assert sent == set(titles)
    assert f"{base}/news/2024/12/parasite-upset/" in sent


def test_the_migration_gives_stored_articles_their_normalised_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    db = Database(url)
    with db.session() as session:
        session.execute(
            text("INSERT INTO sources (id, name, created_at) VALUES (1, 's', '2024-01-01')")
        )
        session.execute(
            text("INSERT INTO events (id, title, first_seen, updated_at) "
                 "VALUES (1, 't', '2024-01-01', '2024-01-01')")
        )  # fmt: skip
        session.execute(
            text(
                "INSERT INTO articles (source_id, event_id, url, canonical_url, title, title_key,"
                " text, authors, languages, content_hash, first_seen, last_seen) VALUES (1, 1,"
                " 'http://h/a', 'http://h/a', 't', 't', 'x', '[]', '[]', 'd', '2024-01-01',"
                " '2024-01-01')"
            )
        )
    upgrade(url)
    with db.session() as session:
        assert session.scalar(text("SELECT display_url FROM articles")) == "http://h/a"
        session.execute(text(ROW_WITHOUT_LINK))  # as a bulk load that names no display_url
    assert [(e.url, e.urls) for e in list_events(db)] == [
        ("http://h/a", ("http://h/a", "http://h/b"))
    ]
    db.dispose()


ROW_WITHOUT_LINK = (
    "INSERT INTO articles (source_id, event_id, url, canonical_url, title, title_key, text,"
    " authors, languages, content_hash, first_seen, last_seen) VALUES (1, 1, 'http://h/b',"
    " 'http://h/b', 't2', 't2', 'y', '[]', '[]', 'e', '2024-01-02', '2024-01-02')"
)


def test_extract_reads_a_saved_page_as_fetched_from_its_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "saved.html"
    page = article_page("dushanbe-ministers").replace(
        "</head>", '<link rel="canonical" href="../ministers-meet/"></head>'
    )
    saved.write_text(page, encoding="utf-8")
    url = "https://news.example.org/2024/03/15/dushanbe-ministers/"
    assert main(["extract", str(saved), "--url", url, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["url"] == "https://news.example.org/2024/03/15/ministers-meet/"
    assert found["published_at"].startswith("2024-03-15")  # the date in the URL
    assert main(["extract", str(saved), "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["url"] == saved.resolve().as_uri() and alone["published_at"] is None


def test_extract_url_takes_one_page_and_an_http_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", str(tmp_path), str(tmp_path), "--url", "https://a.example/"]) == 2
    assert main(["extract", str(tmp_path), "--url", "news.example.org/x"]) == 2
    assert "extract --url" in capsys.readouterr().err


def test_an_invalid_declared_canonical_leaves_the_url_fetched() -> None:
    for declared in ("http://127.0.0.1:99999/x", "http://[::1/x", "javascript:alert(1)"):
        page = article_page("summit-story").replace("/stories/summit-story/", declared)
        found = extract(page, "https://news.example.org/a/b/")
        assert found is not None and found.display_url == "https://news.example.org/a/b/"
