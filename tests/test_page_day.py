"""The page's own day: an article of 15 February 01:00 +05:00 is listed, filtered, alerted and
e-mailed as of 15 February (14 February in UTC), and its instant keeps the page's offset."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

from monitor.channels.alert import Alert, AlertArticle
from monitor.channels.email import text_body
from monitor.channels.webhook import payload
from storage.articles import NewArticle, store_article
from storage.db import Database
from storage.events import list_events
from storage.migrate import upgrade
from tests.test_crawl import run_cli, source_yaml, write_config

PLUS_FIVE = timezone(timedelta(hours=5))
EARLY = datetime(2024, 2, 15, 1, 0, tzinfo=PLUS_FIVE)  # 14 February 20:00 UTC
WORDS = "delegations budget railway museum festival election bridge school hospital river"


def article(title: str, at: datetime, offset: int | None, day: date | None) -> NewArticle:
    body = " ".join(f"{title} {word} {n}." for n, word in enumerate(WORDS.split() * 3))
    return NewArticle(
        source="desk",
        url=f"http://127.0.0.1/{title.replace(' ', '-')}",
        canonical_url=f"http://127.0.0.1/{title.replace(' ', '-')}",
        title=title,
        text=body,
        published_at=at.astimezone(UTC),
        published_offset_minutes=offset,
        published_day=day,
        date_source="meta",
    )


def stored_pair(db: Database) -> None:
    store_article(db, article("Early talks east", EARLY, 300, date(2024, 2, 15)))
    late = datetime(2024, 2, 14, 22, 0, tzinfo=UTC)
    store_article(db, article("Late talks west", late, None, None))


def test_events_carry_the_page_s_day_and_the_instant_at_its_offset(db: Database) -> None:
    stored_pair(db)
    events = {e.title: e for e in list_events(db)}
    early, late = events["Early talks east"], events["Late talks west"]
    assert early.published_day == date(2024, 2, 15)
    assert early.published_at is not None
    assert early.published_at.isoformat() == "2024-02-15T01:00:00+05:00"
    assert late.published_day == date(2024, 2, 14)  # no day stored: its UTC instant's


def test_since_a_day_keeps_the_articles_whose_page_states_that_day_or_later(
    db: Database,
) -> None:
    stored_pair(db)
    since = datetime(2024, 2, 15, tzinfo=UTC)
    assert [e.title for e in list_events(db, since=since)] == ["Early talks east"]
    at_a_time = datetime(2024, 2, 14, 21, 0, tzinfo=UTC)  # a time compares instants
    assert [e.title for e in list_events(db, since=at_a_time)] == ["Late talks west"]


def test_events_list_shows_the_day_and_json_gives_day_and_offset(tmp_path: Path) -> None:
    config = write_config(tmp_path, [source_yaml("desk", "http://127.0.0.1:9")])
    url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    upgrade(url)
    db = Database(url)
    stored_pair(db)
    db.dispose()
    listed = run_cli(config, "events", "list", "--since", "2024-02-15")
    assert listed.returncode == 0, listed.stderr
    assert "2024-02-15" in listed.stdout and "Early talks east" in listed.stdout
    assert "Late talks west" not in listed.stdout
    (found,) = [json.loads(line) for line in run_cli(config, "events", "list", "--json",
                "--since", "2024-02-15").stdout.splitlines()]  # fmt: skip
    assert found["published_day"] == "2024-02-15"
    assert found["published_at"] == "2024-02-15T01:00:00+05:00"


def test_alerts_show_the_page_s_day() -> None:
    alert = Alert(
        delivery_id="d-1",
        rule="talks",
        event_id=1,
        title="Early talks east",
        terms=("talks",),
        snippets=("early talks",),
        articles=(AlertArticle("desk", "https://x.test/1", "Early talks", EARLY, EARLY.date()),),
        created_at=datetime(2024, 2, 15, tzinfo=UTC),
    )
    (sent,) = payload(alert)["event"]["articles"]
    assert sent["published_day"] == "2024-02-15"
    assert sent["published_at"] == "2024-02-15T01:00:00+05:00"
    assert "published: 2024-02-15 (2024-02-15T01:00:00+05:00)" in text_body(alert)


def test_the_migration_gives_stored_articles_the_day_of_their_utc_instant(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO sources (id, name, created_at) VALUES (1, 'desk', '2024-02-14');"
        ))  # fmt: skip
        connection.execute(text(
            "INSERT INTO events (id, title, first_seen, updated_at) "
            "VALUES (1, 't', '2024-02-14', '2024-02-14')"
        ))  # fmt: skip
        for n, published in ((1, "'2024-02-14 20:00:00.000000'"), (2, "NULL")):
            connection.execute(text(
                "INSERT INTO articles (id, source_id, event_id, url, canonical_url, title, "
                "title_key, text, published_at, authors, languages, content_hash, first_seen, "
                f"last_seen) VALUES ({n}, 1, 1, 'u{n}', 'c{n}', 't', 't', 'x', {published}, "
                f"'[]', '[]', 'h{n}', '2024-02-14', '2024-02-14')"
            ))  # fmt: skip
    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, published_day, warnings FROM articles ORDER BY id")
        ).all()
    engine.dispose()
    assert [(r.id, r.published_day, json.loads(r.warnings)) for r in rows] == [
        (1, "2024-02-14", []),
        (2, None, []),
    ]
