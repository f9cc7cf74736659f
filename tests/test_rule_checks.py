"""Rules that say what they mean (issue 29): each pitfall a new user met gives a warning or a
clear error, and the gazetteer knows the shipped places in the languages analysts read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crawlers.enrichment.entities import GAZETTEER, find_names, gazetteer
from monitor import flow
from monitor.config import Config, ConfigError, load_config
from monitor.rules import field_lookalikes
from storage.articles import NewArticle, store_article
from storage.db import Database
from storage.migrate import upgrade
from tests.test_cli_errors import config_file, one_line, run


def rules_config(tmp_path: Path, *rules: tuple[str, str], **fields: object) -> Path:
    return config_file(
        tmp_path, rules=[{"name": name, "query": query} for name, query in rules], **fields
    )


def test_lowercase_and_in_check_is_a_warning_naming_the_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = rules_config(tmp_path, ("police", "Polizei and Sicherheit"))
    code, out, err = run(capsys, "--config", str(path), "check")
    assert code == 0 and "OK" in out
    assert "position 9: 'and' is read as a word to find; write AND to combine terms" in (
        one_line(err)
    )


def test_a_field_that_is_none_is_a_warning_naming_the_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`text:Dushanbe` was read as the words "text dushanbe", without a word said."""
    path = rules_config(tmp_path, ("ct", 'title:Dushanbe AND body:terror* AND "a:b" AND org:UN'))
    code, out, err = run(capsys, "--config", str(path), "check")
    assert code == 0 and "OK" in out
    assert one_line(err).endswith(
        "position 20: body: is no field, and is read as a word to find; the fields are "
        "title:, place:, org:"
    )


def test_a_url_in_a_query_is_no_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A URL's scheme was taken for a field: "http: is no field" for a query naming a link."""
    path = rules_config(tmp_path, ("link", "report AND http://127.0.0.1/report AND (text:x)"))
    code, out, err = run(capsys, "--config", str(path), "check")
    assert code == 0 and "OK" in out
    assert one_line(err).endswith("position 41: text: is no field, and is read as a word to "
                                  "find; the fields are title:, place:, org:")  # fmt: skip
    assert "http:" not in err


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("text:Dushanbe", [(1, "text")]),
        ("a AND text:(b OR c)", [(7, "text")]),  # as title:(b OR c) is written
        ('body:"a b"', [(1, "body")]),
        ("title:covid:19 OR place:Dushanbe:x", []),  # inside a field's own value
        ('see http://127.0.0.1/a "text:x" meeting 12:30', []),
    ],
)
def test_words_written_as_fields_that_are_none(query: str, named: list[tuple[int, str]]) -> None:
    assert field_lookalikes(query) == named


def test_capital_operators_and_quoted_words_give_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = rules_config(tmp_path, ("police", 'Polizei AND "law and order" NOT title:not'))
    code, _, err = run(capsys, "--config", str(path), "check")
    assert code == 0 and err == ""


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("place:Narnia", "place:Narnia is not in the gazetteer, so it can never match; add it"),
        ("org:Bundeswehr", "org:Bundeswehr is not in the gazetteer, so it can never match"),
        ("place:Dushanbee", "(did you mean place:Dushanbe?)"),
        ('org:"UN Security Councl"', '(did you mean org:"UN Security Council"?)'),
        ("terror AND place:Berlin", "position 12: place:Berlin is not in the gazetteer"),
    ],
)
def test_a_place_or_organisation_missing_from_the_gazetteer_is_a_config_error(
    tmp_path: Path, query: str, message: str
) -> None:
    path = rules_config(tmp_path, ("r", query))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "rules[0] (name 'r'): field query: rule 'r'" in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "query", ["place:Moskau", "place:Genf", "place:Switzerland", "org:OSZE", "place:Душанбе"]
)
def test_names_in_any_shipped_language_and_countries_of_cities_are_known(
    tmp_path: Path, query: str
) -> None:
    load_config(rules_config(tmp_path, ("r", query)))


def write_gazetteer(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_users_gazetteer_adds_names_rules_may_use_and_that_matching_finds(
    tmp_path: Path,
) -> None:
    own = {
        "places": [{"name": "Berlin", "kind": "city", "country": "Germany"}],
        "organisations": [{"name": "Bundeswehr", "aliases": ["German armed forces"]}],
    }
    write_gazetteer(tmp_path, own)
    path = rules_config(
        tmp_path, ("r", "place:Berlin OR place:Germany OR org:Bundeswehr"), gazetteer="mine.yaml"
    )
    _, config = load_config(path)
    assert config.own_gazetteer == tmp_path / "mine.yaml"
    mine = gazetteer(GAZETTEER, config.own_gazetteer)
    assert mine.find("The German armed forces met in Berlin and Dushanbe.") == (
        ("Berlin", "Dushanbe", "Germany", "Tajikistan"),
        ("Bundeswehr",),
    )


def test_a_users_entry_replaces_the_shipped_one_of_its_name(tmp_path: Path) -> None:
    own = write_gazetteer(tmp_path, {"places": [{"name": "Paris", "aliases": ["Lutetia"]}]})
    mine = gazetteer(GAZETTEER, own)
    assert mine.find("Lutetia")[0] == ("Paris",)
    assert mine.find("Париж")[0] == ()  # its shipped aliases went with it


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"places": [{"name": "Berlin", "alias": ["B"]}]},
            "places[0] (name 'Berlin'): field alias",
        ),
        ({"places": [{"aliases": ["x"]}]}, "places[0]: field name: Field required"),
        (
            {"organisations": [{"name": "Roma", "aliases": ["Rome"]}]},
            "names both 'Rome' and 'Roma'",
        ),
        ({"places": [{"name": "X", "aliases": ["***"]}]}, "has no letters"),
        ({"cities": []}, "cities: Extra inputs are not permitted"),
    ],
)
def test_a_users_gazetteer_is_checked_like_the_config(
    tmp_path: Path, data: object, message: str
) -> None:
    write_gazetteer(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(config_file(tmp_path, gazetteer="mine.yaml"))
    assert f"gazetteer: {tmp_path / 'mine.yaml'}" in str(caught.value)
    assert message in str(caught.value)


def test_a_missing_users_gazetteer_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_file(tmp_path, gazetteer="nowhere.yaml"))
    assert "cannot read the gazetteer file" in str(caught.value)
    assert "nowhere.yaml" in str(caught.value)


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A config with rules, and five stored events about police work."""
    path = rules_config(
        tmp_path, ("nato-phrase", '"NATO summit"'), ("police", "Polizei AND Sicherheit")
    )
    url = f"sqlite:///{tmp_path / 'ew.db'}"
    upgrade(url)
    db = Database(url)
    for number in range(5):
        page = f"https://news.example/{number}"
        store_article(db, NewArticle(
            source="news", url=page, canonical_url=page, title=f"Polizei report {number}",
            text=f"Die Polizei sprach über Sicherheit in Stadt {number} und {'x' * number}.",
        ))  # fmt: skip
    db.dispose()
    return path


def test_rules_test_with_a_mistyped_rule_name_says_which_was_meant(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--config", str(stored), "rules", "test", "nato-phrse")
    assert code == 2 and out == ""
    line = one_line(err)
    assert "no rule named 'nato-phrse'; did you mean 'nato-phrase'?" in line
    assert 'To test the word itself, quote it: "nato-phrse"' in line  # close to a rule's name
    code, out, err = run(capsys, "--config", str(stored), "rules", "test", '"nato-phrse"')
    assert code == 0, err  # tested as the word it is


def test_rules_test_warns_of_a_lowercase_operator(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--config", str(stored), "rules", "test", "Polizei and Sicherheit")
    assert code == 0 and "0 matching events" in out
    assert "'and' is read as a word to find; write AND" in one_line(err)


def test_rules_test_limit_bounds_the_matches_shown_not_the_events_searched(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--config", str(stored), "rules", "test", "police", "--limit", "2")
    assert code == 0
    assert "5 matching events (first 2 shown)" in out
    assert out.count("Polizei report") == 2


@pytest.mark.parametrize(
    ("text", "places", "organisations"),
    [
        ("Deutsche Waffen für Russland", ("Russia",), ()),
        ("Die Außenminister der Europäischen Union in Brüssel", ("Brussels", "Belgium"), ("EU",)),
        ("El Consejo de Seguridad de la ONU se reunió en Ginebra", ("Geneva", "Switzerland"),
         ("UN Security Council",)),
        ("Türkiye'nin Ankara'daki toplantısında AGİT", ("Turkey", "Ankara"), ("OSCE",)),
        ("نشست سازمان همکاری شانگهای در تاجیکستان", ("Tajikistan",), ("SCO",)),
        ("Toshkentda ShHT va BMT vakillari", ("Tashkent", "Uzbekistan"), ("SCO", "UN")),
        ("O‘zbekiston va Oʻzbekiston", ("Uzbekistan",), ()),
        ("Ҷумҳурии Тоҷикистон ва Созмони ҳамкории Шанхай", ("Tajikistan",), ("SCO",)),
        ("Қазақстан мен Ресейдің БҰҰ-дағы өкілдері", ("Kazakhstan", "Russia"), ("UN",)),
        ("上海合作组织成员国在杜尚别举行会议，联合国安理会出席。", ("Dushanbe", "Tajikistan"),
         ("SCO", "UN Security Council")),
        ("突尼斯市举行会议", ("Tunis", "Tunisia"), ()),
    ],
)  # fmt: skip
def test_the_gazetteer_finds_names_in_the_new_languages_and_scripts(
    text: str, places: tuple[str, ...], organisations: tuple[str, ...]
) -> None:
    assert find_names("", text) == (places, organisations)


def test_every_shipped_entry_has_aliases_beside_english() -> None:
    for (_, name), aliases in gazetteer().names.items():
        assert len(aliases) >= 2, name


def test_matching_finds_names_only_the_users_gazetteer_knows(tmp_path: Path) -> None:
    own = write_gazetteer(tmp_path, {"places": [{"name": "Berlin", "aliases": ["Berlin"]}]})
    url = f"sqlite:///{tmp_path / 'ew.db'}"
    upgrade(url)
    config = Config.model_validate({
        "database": url, "gazetteer": str(own),
        "rules": [{"name": "berlin", "query": "place:Berlin", "notify": ["hook"]}],
        "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/"}},
    })  # fmt: skip
    ctx = flow.Context(config)
    page = "https://news.example/berlin"
    text = "Ministers met in Berlin today."
    store_article(
        ctx.db, NewArticle(source="news", url=page, canonical_url=page, title="Talks", text=text)
    )
    assert flow.match_new_articles(ctx) == 1


def test_rules_test_warns_of_a_name_the_gazetteer_lacks_in_a_query(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--config", str(stored), "rules", "test", "place:Narnia")
    assert code == 0 and "0 matching events" in out
    assert "place:Narnia is not in the gazetteer, so it can never match" in one_line(err)
