"""Extraction from small hand-written pages: residues removed, paragraphs kept, the article's
own date (never the header's "today", never the future), languages per paragraph, layout
tables, canonical URLs."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta

import pytest

from crawlers.extraction.cleaning import clean_lines
from crawlers.extraction.date_parsing import parse_date
from crawlers.extraction.extract import Extracted, extract
from crawlers.extraction.languages import classify, detect_languages
from tests.conftest import FIXTURES
from tests.jsonld import news_article

URL = "http://127.0.0.1/news/item-42"
BODY = [
    "Delegations from forty countries gathered in the capital on Tuesday for a two-day "
    "conference on countering terrorism, hosted by the national parliament.",
    "Opening the session, the deputy minister said that border cooperation and the exchange "
    "of information between security services remained the most effective tools.",
    "The organisers expect the conference to close with a declaration on regional "
    "cooperation, which will be presented to the assembly next year.",
]


def page(
    *inner: str,
    head: str = "",
    before: str = "",
    title: str = "Conference on countering terrorism opens",
    lang: str = "en",
) -> str:
    """A news page: header chrome, then the article (title, paragraphs, extra lines)."""
    paragraphs = "".join(f"<p>{p}</p>" for p in BODY)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{title} - Example Herald</title>{head}</head><body>"
        f'<div class="top">{before}<a href="http://127.0.0.1/">Home</a></div>'
        f'<div class="content"><article><h1>{title}</h1>{paragraphs}{"".join(inner)}'
        "</article></div></body></html>"
    )


def run(html: str, url: str = URL) -> Extracted:
    found = extract(html, url)
    assert found is not None
    return found


def assert_body_kept(found: Extracted) -> None:
    for paragraph in BODY:
        assert paragraph in found.text


# --- residues -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "residue",
    [
        "<p>[gallery id=2211 columns=3]</p>",
        "<p>[caption]</p>",
        "<p>delegation-photo-2024.jpg</p>",
        "<p>Comments are Closed</p>",
        "<p>All news</p>",
        "<p>You must be logged in to post a comment.</p>",
        "<p>Авторизуйтесь, пожалуйста</p>",
        "<p>Read more: Ministers meet in the capital to discuss the budget</p>",
        "<p>Lire aussi : Les ministres se réunissent dans la capitale</p>",
        "<p>Subscribe to our newsletter and never miss a story from the region.</p>",
        "<p>Follow us on Twitter and Facebook for the latest updates.</p>",
        "<p>Category: Press releases</p>",
        "<p>Photo: Press office of the Assembly</p>",
        "<p>© 2024 Example Herald. All rights reserved.</p>",
        "<p>Posted on December 24, 2024 by admin</p>",
        "<p>Опубликовано: 03.04.2023</p>",
        "<p>Share: Facebook | Twitter — #Dushanbe #terrorism</p>",
        "<p>Поделиться: ВКонтакте | Telegram</p>",
        "<p>Partager : Facebook, X, LinkedIn</p>",
        "<p>#Dushanbe #terrorism #OSCE</p>",
    ],
)
def test_residue_line_is_removed_and_article_kept(residue: str) -> None:
    found = run(page(residue))
    assert_body_kept(found)
    assert found.text.count("\n") == len(BODY) - 1, found.text


def test_shortcode_inside_a_paragraph_is_cut_out_and_the_sentence_kept() -> None:
    kept = clean_lines(["The session opened [embed]x[/embed] on Monday with a minute of silence."])
    assert kept == ["The session opened x on Monday with a minute of silence."]


def test_image_name_is_removed_only_as_a_whole_line() -> None:
    lines = ["IMG_2041.JPG", "The photo IMG_2041.JPG shows the delegation in the hall."]
    assert clean_lines(lines) == [lines[1]]


def test_headline_linked_elsewhere_is_removed_but_a_table_of_contents_heading_kept() -> None:
    sidebar = (
        '<a href="http://127.0.0.1/news/1">Talks on terrorism financing postponed</a>'
        '<a href="#outlook">Outlook for the next session</a>'
    )
    inner = (
        "<h3>Talks on terrorism financing postponed</h3>"
        '<h2 id="outlook">Outlook for the next session</h2>'
        "<p>The next session opens in April in the same hall.</p>"
    )
    found = run(page(inner, before=sidebar))
    assert_body_kept(found)
    assert "Talks on terrorism financing postponed" not in found.text  # another page's headline
    assert "Outlook for the next session" in found.text  # a link into the page is no headline


@pytest.mark.parametrize(
    "sentence",
    [
        "Published figures show a five per cent rise in unemployment in 2024.",
        "Copyright law reform was debated by the culture committee on Wednesday.",
        "(c) the member states shall exchange information on seized goods;",
        "Register of seized goods to be shared between the customs services.",
        "Follow-up talks are planned for the spring session in Baku.",
        "Share prices in Dushanbe fell: the exchange closed two per cent lower.",
        "#1 on the agenda was the exchange of border-crossing data.",
        "Share: 45% of votes",
        "Teilen: die Hälfte der Stimmen",
        "#MeToo",
        "#1 #2",
    ],
)
def test_sentence_that_begins_with_a_chrome_word_is_kept(sentence: str) -> None:
    assert clean_lines([sentence]) == [sentence]


def test_a_line_that_nearly_is_a_tag_or_share_list_is_judged_without_backtracking() -> None:
    """One pattern for the whole line backtracked for seconds on an embedded post's eight
    hashtags and a full stop, and for days on a share label followed by many words."""
    tags = " ".join(f"#Topic{number}word" for number in range(40)) + " and more."
    share = "Share: " + "x " * 80 + "more"
    assert clean_lines([tags, share]) == [tags, share]
    assert clean_lines([tags.removesuffix(" and more.") + "."]) == []


def test_line_that_only_starts_like_chrome_but_is_a_long_paragraph_is_kept() -> None:
    long_line = (
        "Subscribe is what the committee asked member states to do with the new convention, "
        "and eleven parliaments have already ratified it, while the remaining seven expect "
        "to vote on ratification before the end of the year, the rapporteur told the session "
        "on Tuesday afternoon."
    )
    found = run(page(f"<p>{long_line}</p>"))
    assert long_line in found.text


# --- dates --------------------------------------------------------------------------------

TODAY_HEADER = '<p class="date today">Thursday, December 26, 2024</p>'


def test_header_today_date_is_not_the_articles_date_and_no_date_is_recorded_as_none() -> None:
    found = run(page(before=TODAY_HEADER + '<time datetime="2024-12-26">Today</time>'))
    assert found.published_at is None
    assert found.date_source is None
    assert "December 26, 2024" not in found.text


@pytest.mark.parametrize(
    ("head", "inner", "url", "expected", "origin"),
    [
        (
            '<meta property="article:published_time" content="2024-12-20T09:30:00+05:00">',
            "",
            URL,
            "2024-12-20",
            "meta",
        ),
        (
            '<script type="application/ld+json">'
            + json.dumps(
                {"@graph": [{"@type": "NewsArticle", "datePublished": "2024-11-15T08:00:00Z"}]}
            )
            + "</script>",
            "",
            URL,
            "2024-11-15",
            "jsonld",
        ),
        ("", "", "http://127.0.0.1/2024/10/02/chess-school-opens/", "2024-10-02", "url"),
        (
            "",
            '<div class="byline">Published: 3 September 2024</div>',
            URL,
            "2024-09-03",
            "page",
        ),
    ],
)
def test_article_date_from_meta_jsonld_url_or_byline(
    head: str, inner: str, url: str, expected: str, origin: str
) -> None:
    found = run(page(inner, head=head, before=TODAY_HEADER), url)
    assert found.published_at is not None
    assert found.published_at.date().isoformat() == expected
    assert found.date_source == origin


def test_the_fast_pass_does_not_measure_the_whole_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast pass turns trafilatura's recall escalation off through a module constant. An
    upgrade that renames it, or moves the check, must fail here, not silently cost CPU on
    every page: the escalation's first step, measuring the page's text, must not run."""
    from trafilatura import core

    before = core.ESCALATION_MAX_LENGTH
    assert isinstance(before, int) and before > 1500
    measured: list[object] = []
    real = core.html2txt
    monkeypatch.setattr(core, "html2txt", lambda *a, **k: measured.append(a) or real(*a, **k))
    paragraphs = [f"<p>{BODY[n % 3]} Paragraph {n} adds its own detail.</p>" for n in range(6)]
    found = run(page(*paragraphs))
    assert 1000 <= len(found.text) < before  # long enough for the fast pass alone, and short
    assert measured == []  # enough that trafilatura would have measured the page
    assert before == core.ESCALATION_MAX_LENGTH


def test_the_fast_pass_skips_the_backup_copy_and_extracts_what_trafilatura_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast pass prepares the page's tree without the backup copy it never reads. An
    upgrade that renames the step, or starts reading the backup, must fail here."""
    from trafilatura.utils import decode_file

    from crawlers.extraction import trafilatura_internals as internals

    prepared: list[bool] = []
    real = internals._prepare_in_place
    monkeypatch.setattr(
        internals, "_prepare_in_place", lambda *a: prepared.append(True) or real(*a)
    )
    pages = [decode_file(p.read_bytes()) for p in sorted((FIXTURES / "sites").rglob("*.html"))]
    ours = [extract(html, URL) for html in pages]
    assert len(prepared) == len(pages)  # each page's fast pass
    monkeypatch.setattr(internals, "_prepare_in_place", internals.TRAFILATURA_PREPARE)
    with_backup = [extract(html, URL) for html in pages]
    assert sum(found is not None for found in ours) >= 20
    assert ours == with_backup


def test_a_page_whose_text_trafilatura_s_rules_miss_is_rescued() -> None:
    """Lines in ``span``s: trafilatura's baseline rescue, or the comparison pass, finds them."""
    lines = "".join(f"<span>{BODY[n % 3]} Line {n}.</span><br>" for n in range(9))
    html = f"<html><head><title>Notice</title></head><body>{lines}</body></html>"
    found = extract(html, URL)
    assert found is not None
    assert all(f"Line {n}." in found.text for n in range(9))


@pytest.mark.parametrize(
    ("written", "utc", "day"),
    [
        ("13 March 2024 00:30 MSK", "2024-03-12T21:30:00+00:00", "2024-03-13"),
        ("2024-03-12 10:00 CET", "2024-03-12T09:00:00+00:00", "2024-03-12"),
        ("Published 12 July 2024, 10:00 CEST", "2024-07-12T08:00:00+00:00", "2024-07-12"),
        ("12.03.2024 10:00 EET", "2024-03-12T08:00:00+00:00", "2024-03-12"),
        ("2024-02-15T01:00:00+05:00", "2024-02-14T20:00:00+00:00", "2024-02-15"),
    ],
)
def test_a_time_zone_the_page_names_is_applied_and_its_day_kept(
    written: str, utc: str, day: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning about a zone dateutil does not know
        parsed = parse_date(written)
    assert parsed is not None
    assert parsed.astimezone(UTC).isoformat() == utc
    assert parsed.date().isoformat() == day


@pytest.mark.parametrize(
    "written", ["12.03.2024 10:00", "2023-11-02T20-59-53Z", "2024-03-12T10:00:00+15:00"]
)
def test_a_stamp_without_a_zone_or_with_one_no_place_has_keeps_its_day_and_time(
    written: str,
) -> None:
    parsed = parse_date(written)
    assert parsed is not None
    assert parsed.tzinfo is None
    assert parsed.date().isoformat() in ("2024-03-12", "2023-11-02")


def test_an_article_after_midnight_east_of_utc_keeps_the_day_its_page_states() -> None:
    head = '<meta property="article:published_time" content="2024-02-15T01:00:00+05:00">'
    found = run(page(head=head))
    assert found.published_day is not None
    assert found.published_day.isoformat() == "2024-02-15"
    assert found.published_at == datetime(2024, 2, 14, 20, 0, tzinfo=UTC)
    assert found.published_offset_minutes == 300
    assert found.date_source == "meta"


def test_future_date_is_rejected_for_the_next_source() -> None:
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    head = f'<meta property="article:published_time" content="{future}">'
    found = run(page(head=head), "http://127.0.0.1/2024/05/12/exercise-held/")
    assert found.published_at is not None
    assert found.published_at.date().isoformat() == "2024-05-12"
    assert found.date_source == "url"


# --- languages ----------------------------------------------------------------------------

TRILINGUAL = [
    "The Parliamentary Assembly adopted a resolution on the protection of cultural heritage "
    "in times of armed conflict and called on member states to share their inventories.",
    "L'Assemblée parlementaire a adopté une résolution sur la protection du patrimoine "
    "culturel en période de conflit armé et a invité les États membres à partager leurs "
    "inventaires.",
    "اعتمدت الجمعية البرلمانية قرارا بشأن حماية التراث الثقافي في أوقات النزاع المسلح ودعت "
    "الدول الأعضاء إلى تبادل قوائم الجرد الخاصة بها مع المنظمات الدولية المعنية.",
]


def test_trilingual_page_keeps_every_paragraph_and_records_three_languages() -> None:
    body = "".join(f"<p>{p}</p>" for p in TRILINGUAL)
    html = (
        '<html><head><meta charset="utf-8"><title>Cultural heritage</title></head><body>'
        f"<article><h1>Cultural heritage resolution</h1>{body}</article></body></html>"
    )
    found = run(html)
    for paragraph in TRILINGUAL:
        assert paragraph in found.text
    assert set(found.languages) == {"en", "fr", "ar"}
    assert found.language in {"en", "fr", "ar"}


def test_a_language_holding_less_than_a_tenth_of_the_letters_is_not_recorded() -> None:
    english = " ".join([TRILINGUAL[0]] * 15)  # French: 7% of the letters
    assert detect_languages([english, TRILINGUAL[1]]) == ["en"]
    assert detect_languages([TRILINGUAL[0], TRILINGUAL[1]]) in (["en", "fr"], ["fr", "en"])


def test_text_in_capitals_control_characters_or_a_lone_surrogate_is_still_classified() -> None:
    assert classify("THE PARLIAMENTARY ASSEMBLY MET IN BAKU TO DISCUSS TERRORISM") == "en"
    assert classify("L'Assemblée parlementaire\x00 a adopté\x07 une résolution") == "fr"
    assert classify("Заседание ассамблеи прошло в Санкт-Петербурге \ud800 в среду") == "ru"
    assert classify(" \n\t ") is None
    assert detect_languages(["", " "]) == []


def test_paragraphs_too_short_to_tell_alone_are_classified_together() -> None:
    short = ["The assembly met on Monday.", "It adopted a resolution on terrorism."]
    assert detect_languages(short) == ["en"]


# --- layout and canonical URL -------------------------------------------------------------


def test_layout_table_page_keeps_the_article_and_drops_the_sidebar_cell() -> None:
    paragraphs = "".join(f"<p>{p}</p>" for p in BODY)
    html = (
        '<html><head><meta charset="utf-8"><title>Session report</title></head><body>'
        '<table width="100%"><tr><td colspan="2"><h2>Example Herald</h2></td></tr>'
        '<tr><td class="side"><a href="http://127.0.0.1/a">Archive</a><br>'
        '<a href="http://127.0.0.1/b">Photo gallery</a><br>'
        '<a href="http://127.0.0.1/c">Contacts</a></td>'
        f'<td class="main"><h1>Session report</h1>{paragraphs}</td></tr></table></body></html>'
    )
    found = run(html)
    assert_body_kept(found)
    assert "|" not in found.text  # cells were not rendered as a data table
    assert "Photo gallery" not in found.text


def test_canonical_url_on_the_same_site_is_taken() -> None:
    head = '<link rel="canonical" href="http://127.0.0.1/news/item-42?utm_source=feed">'
    assert run(page(head=head)).url == "http://127.0.0.1/news/item-42"


def test_canonical_url_on_another_host_is_rejected() -> None:
    head = '<link rel="canonical" href="https://aggregator.example.org/copied/item-42">'
    found = run(page(head=head), "https://news.example.net/news/item-42")
    assert found.url == "https://news.example.net/news/item-42"


def test_page_with_too_little_text_is_no_article() -> None:
    html = "<html><body><h1>Contacts</h1><p>Call us.</p></body></html>"
    assert extract(html, URL) is None


FILLER = " ".join(
    ["Delegates from twelve states met in Dushanbe to agree on border security and training."] * 4
)


@pytest.mark.parametrize("reference", ["&#1;", "&#8;", "&#27;", "&#11;", "&#x1f;", "&#xFFFE;",
                                       "&#65535;", "&#xD800;", "&#x110000;", "&#0000000000001;",
                                       "&#99999999999999999999;"])  # fmt: skip
def test_a_reference_to_a_character_xml_cannot_hold_loses_neither_article_nor_title(
    reference: str,
) -> None:
    """One such reference anywhere made trafilatura discard the whole page, or the title."""
    html = (
        f"<html><head><title>Talks{reference} in Dushanbe</title></head><body><article>"
        f"<h1>Talks{reference} in Dushanbe</h1><p>{FILLER}{reference} More.</p>"
        f"<p>{FILLER}</p></article></body></html>"
    )
    found = extract(html, "http://127.0.0.1/news/talks")
    assert found is not None
    assert found.title == "Talks in Dushanbe"
    assert "More." in found.text and "Dushanbe" in found.text


def test_a_zero_padded_reference_still_reads_as_its_character() -> None:
    html = (
        "<html><head><title>Talks in Dushanbe&#000000000033;</title></head><body><article>"
        f"<h1>Talks in Dushanbe&#x0000000021;</h1><p>{FILLER}</p><p>{FILLER}</p></article>"
        "</body></html>"
    )
    found = extract(html, "http://127.0.0.1/news/talks")
    assert found is not None and found.title == "Talks in Dushanbe!"


def test_control_and_bidi_override_characters_never_reach_the_title() -> None:
    """A JSON-LD headline's escapes: terminal sequences, a bell, backspaces, and an override
    that shows "gpj.exe" as "exe.jpg"."""
    headline = "Dushanbe \u001b[31mRED \u0007bell \u202egpj.exe\u202c \b\bXYZ"
    html = (
        f"<html><head>{news_article(headline)}</head><body><article>"
        f"<p>{FILLER}</p><p>{FILLER}</p></article></body></html>"
    )
    found = extract(html, "http://127.0.0.1/news/talks")
    assert found is not None
    assert found.title == "Dushanbe [31mRED bell gpj.exe XYZ"
