"""The same storage, grouping, alerting and crawl behaviour on a real PostgreSQL server, for
installs that outgrow SQLite: migrations, storing and grouping (PostgreSQL takes SQLAlchemy's
insert for band keys and an advisory lock for grouping), matching and delivery to a real
webhook receiver, and an end-to-end crawl and re-crawl.

The tests imported below run here again with this module's ``db_url``: a new database on a
throwaway server (:mod:`tests.postgres`).
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from storage import articles
from storage.articles import store_article
from storage.db import Database
from storage.events import count_articles
from storage.leases import take_lease
from storage.migrate import upgrade
from storage.models import Article, Delivery, Event
from storage.schedule import claim_source
from tests import postgres
from tests.receivers import WebhookReceiver
from tests.sitehost import SiteServer
from tests.test_crawl import SITES, expected_for, run_cli, site, source_yaml  # noqa: F401
from tests.test_event_edits import (  # noqa: F401
    test_a_digest_whose_alerts_a_merge_took_away_is_not_sent,
    test_a_match_recorded_as_its_event_is_merged_away_lands_on_the_kept_event,
    test_a_merge_keeps_a_star_and_triage_of_an_event_merged_away_reaches_the_kept_one,
    test_a_merge_leaves_one_alert_per_channel_for_the_story,
    test_a_merge_moves_reports_and_alerts_and_never_sends_one_twice,
    test_a_merge_retires_the_other_events_updates_for_a_rule_both_matched,
    test_a_split_report_gets_its_own_event_and_is_matched_again,
    test_a_story_told_stays_told_through_later_merges,
    test_alerts_moved_by_one_merge_are_folded_by_the_next,
    test_an_alert_in_a_digest_that_failed_for_good_does_not_win_a_merge,
    test_an_event_merged_away_leaves_every_list_and_takes_no_more_edits,
    test_no_merge_while_an_alert_of_either_event_is_being_sent,
    test_reports_in_two_languages_sharing_signals_join_one_event_and_say_why,
)
from tests.test_flow import (  # noqa: F401
    ctx,
    receiver,
    test_an_alert_carries_what_the_events_reports_name,
    test_an_alert_that_cannot_be_sent_backs_off_and_the_others_go,
    test_an_article_that_cannot_be_matched_holds_back_no_other,
    test_an_article_whose_matches_cannot_be_stored_holds_back_no_other,
    test_an_event_whose_dates_are_malformed_is_alerted_all_the_same,
)
from tests.test_grouping import (  # noqa: F401
    WIRE,
    report,
    test_band_keys_are_stored_for_indexed_lookup,
    test_names_and_dates_are_merged_per_event,
    test_near_duplicate_outside_the_window_is_a_new_event,
    test_rewritten_report_at_another_site_joins_the_event,
    test_same_normalised_title_joins_within_the_window_only,
)
from tests.test_outbox_leases import (  # noqa: F401
    dispatcher,
    queue_alerts,
    slow_hook,
    test_a_dispatch_told_to_stop_sends_no_more_and_leaves_the_rest_pending,
    test_a_sender_that_lost_its_lease_cannot_renew_it_or_overwrite_the_outcome,
    test_only_failed_deliveries_are_queued_again,
    test_two_dispatchers_send_each_alert_once_when_sends_outlast_the_lease,
)
from tests.test_pagefailures import (  # noqa: F401
    test_a_page_failing_again_waits_longer_and_is_cleared_when_had,
    test_failures_kept_per_source_are_bounded_newest_first,
)
from tests.test_pipelines import (  # noqa: F401
    test_a_batch_stores_what_one_by_one_would,
    test_a_batch_that_meets_an_article_stored_meanwhile_stores_it_once,
)
from tests.test_refused_values import (  # noqa: F401
    long_site,
    test_a_crawl_keeps_its_articles_when_urls_and_headers_are_too_long_to_store,
    test_a_page_at_a_url_too_long_to_store_is_recorded_cut_and_cleared_when_had,
    test_a_run_whose_report_the_database_refuses_is_closed_and_its_source_freed,
    test_text_is_stored_without_nul_or_lone_surrogates,
    test_validators_too_long_to_store_are_dropped_and_the_rest_kept,
)
from tests.test_storage import (  # noqa: F401
    test_a_match_queues_each_channel_once_per_event,
    test_redirect_alias_is_known,
    test_same_story_from_two_sources_is_one_event,
    test_same_text_at_another_url_of_the_source_is_a_duplicate,
    test_same_url_is_stored_once,
    test_which_urls_are_stored_is_asked_in_chunks_and_knows_aliases,
)
from tests.test_web_parts import (  # noqa: F401
    test_a_place_or_organisation_filter_ignores_case_on_every_database,
)

pytestmark = pytest.mark.skipif(postgres.UNAVAILABLE is not None, reason=str(postgres.UNAVAILABLE))
_NAMES = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    with postgres.running_server() as url:
        yield url


@pytest.fixture
def db_url(postgres_server: str) -> str:
    return postgres.create_database(postgres_server, f"eventwatch_{next(_NAMES)}")


def test_a_migrated_database_upgrades_again_and_keeps_text_in_any_script(db: Database) -> None:
    upgrade(db.url)  # a second upgrade finds nothing to do
    title = "Конференция ПАЧЭС: Genève, الإرهاب"
    _, article_id = store_article(db, report("desk", title, WIRE + " Ünïcödé, 東京."))
    with db.session() as session:
        assert session.get_bind().dialect.name == "postgresql"
        stored = session.get(Article, article_id)
        assert stored is not None
        assert (stored.title, stored.text) == (title, WIRE + " Ünïcödé, 東京.")


def _store_in_a_process(url: str, source: str, first: bool, inside: Any, done: Any) -> str:
    """Store the wire story from ``source``. The first process holds its transaction open
    after looking for the story's event, until the second has stored or three seconds have
    passed; the second starts once the first is inside."""
    if first:
        looked_up = articles.find_event

        def look_up_and_hold(session: Any, keys: Any) -> Any:
            found = looked_up(session, keys)
            inside.set()
            done.wait(3)  # the grouping lock keeps the other out until we commit
            return found

        articles.find_event = look_up_and_hold  # type: ignore[assignment]
    else:
        inside.wait(60)
    database = Database(url)
    try:
        outcome, _ = store_article(database, report(source, "Parliamentarians gather", WIRE))
        return outcome
    finally:
        database.dispose()
        if not first:
            done.set()


def test_two_crawls_storing_one_story_at_once_make_one_event(db: Database) -> None:
    """The advisory lock: while one process is between looking for the story's event and
    committing the one it starts, another storing the same story waits, then joins it."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        inside, done = manager.Event(), manager.Event()
        with context.Pool(2) as pool:
            outcomes = pool.starmap(
                _store_in_a_process,
                [(db.url, "desk", True, inside, done), (db.url, "wire", False, inside, done)],
            )
    assert outcomes == ["new", "new"]  # one article per source
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1
    assert count_articles(db) == 2


@pytest.mark.parametrize("site", SITES[:1], indirect=True)
def test_a_crawl_and_a_recrawl_store_each_article_once_on_postgresql(
    site: SiteServer,  # noqa: F811 (the fixture imported from test_crawl)
    tmp_path: Path,
    db_url: str,
) -> None:
    name = site.name
    config = tmp_path / "eventwatch.yaml"
    sources = [source_yaml(name, site.base_url, max_listing_pages=5)]
    config.write_text(yaml.safe_dump({"database": db_url, "sources": sources}), encoding="utf-8")
    assert run_cli(config, "db", "upgrade").returncode == 0
    first = run_cli(config, "crawl", name, "--no-alerts")
    assert first.returncode == 0, first.stderr
    expected = len(expected_for(name)["articles"])
    assert f"new articles {expected}" in first.stdout
    second = run_cli(config, "crawl", name, "--no-alerts")
    assert second.returncode == 0, second.stderr
    assert "new articles 0" in second.stdout
    database = Database(db_url)
    try:
        assert count_articles(database) == expected
    finally:
        database.dispose()


def test_db_upgrade_names_the_database_without_its_password(
    postgres_server: str, tmp_path: Path
) -> None:
    """The line printed after `db upgrade` showed the URL whole, password included."""
    url = postgres.create_database(postgres_server, f"eventwatch_{next(_NAMES)}")
    with_password = url.replace("postgres@", "postgres:DBPASSWORD77@")  # the server trusts
    config = tmp_path / "eventwatch.yaml"
    config.write_text(yaml.safe_dump({"database": with_password}), encoding="utf-8")
    result = run_cli(config, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "postgres:***@" in result.stdout and "DBPASSWORD77" not in result.stdout


FAKETIME = shutil.which("faketime")
ROOT = Path(__file__).resolve().parents[1]
# Another machine's dispatcher and crawl, its clock ten minutes ahead of this one's: it sends
# what is due and claims a source, and says what its clock read.
AHEAD = """
import json, sys
from datetime import UTC, datetime, timedelta
from monitor import flow
from storage.schedule import claim_source
from tests.test_outbox_leases import dispatcher
url, hook = sys.argv[1:]
ctx = dispatcher(url, hook, "2m")
sent = flow.deliver_pending(ctx).sent
claimed = claim_source(ctx.db, "pam", "there", datetime.now(UTC), timedelta(minutes=2))
print(json.dumps({"clock": datetime.now(UTC).isoformat(), "sent": sent, "claimed": claimed}))
"""


def _ten_minutes_ahead(code: str, *args: str) -> dict[str, Any]:
    """What ``code`` prints (JSON) in a Python process whose clock reads ten minutes ahead,
    as on a machine whose clock runs ahead: libfaketime, by Debian's ``faketime``."""
    assert FAKETIME, "faketime is missing: `make test` installs it (apt-get)"
    env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [FAKETIME, "-f", "+10m", sys.executable, "-c", code, *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout))


def test_a_machine_whose_clock_runs_ahead_takes_no_lease_another_holds(db_url: str) -> None:
    """Leases were written and judged in each machine's own time: a machine whose clock ran
    ahead of the holder's by more than a lease took the holder's live leases for run out, and
    sent its alert or crawled its source a second time, at once."""
    upgrade(db_url)
    with WebhookReceiver() as hook:
        here = dispatcher(db_url, hook.url, "2m")
        try:
            queue_alerts(here, 1)
            with here.db.session() as session:
                row_id = session.scalars(select(Delivery.id)).one()
            # this machine is sending the alert, and crawling pam
            assert take_lease(here.db, Delivery, row_id, timedelta(minutes=2)) is not None
            assert claim_source(here.db, "pam", "here", datetime.now(UTC), timedelta(minutes=2))
            there = _ten_minutes_ahead(AHEAD, db_url, hook.url)
            assert datetime.fromisoformat(there["clock"]) > datetime.now(UTC) + timedelta(minutes=9)
            assert (there["sent"], there["claimed"]) == (0, False)
            assert hook.received == []
        finally:
            here.db.dispose()
