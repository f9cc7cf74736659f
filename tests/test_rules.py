"""Rules: the query language from a YAML table, then errors, hits, sources and scale."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.rules import Hit, RuleSet, RuleSpec, RuleSyntaxError, parse_query
from storage.textfold import fold, tokens

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "rules_cases.yaml").read_text(encoding="utf-8")
)


def _matches(query: str, title: str, text: str) -> bool:
    return bool(RuleSet.compile([RuleSpec("r", query)]).match(title=title, text=text))


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_query_table(case: dict[str, Any]) -> None:
    assert _matches(case["query"], case["title"], case["text"]) is case["expect"]


def test_table_has_both_outcomes_for_each_feature() -> None:
    outcomes = {case["expect"] for case in CASES}
    assert outcomes == {True, False}
    assert len({case["id"] for case in CASES}) == len(CASES)


# --- folding and tokens --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Genève", "geneve"),
        ("ТЕРРОРИЗМ", "терроризм"),
        ("الإِرْهـــَاب", "الارهاب"),
        ("Straße", "strasse"),
        ("ﬁnance", "finance"),
        ("l’OSCE — talks", "l'osce - talks"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_tokens_keep_offsets_in_original_text() -> None:
    text = "À Genève, l’OSCE e\u0301te\u0301 الإِرْهَاب"
    found = tokens(text)
    assert [t.word for t in found] == ["a", "geneve", "l", "osce", "ete", "الارهاب"]
    assert [text[t.start : t.end] for t in found] == [
        "À",
        "Genève",
        "l",
        "OSCE",
        "e\u0301te\u0301",
        "الإِرْهَاب",
    ]


# --- syntax errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("(Dushanbe OR Almaty", 1, "unclosed '('"),
        ("Dushanbe (a OR (b AND c)", 10, "unclosed '('"),
        ("Dushanbe)", 9, "unmatched ')'"),
        ("a OR b) AND c", 7, "unmatched ')'"),
        ('Dushanbe "border security', 10, "unterminated quote"),
        ("Dushanbe AND", 10, "'AND' needs a term after it"),
        ("Dushanbe OR", 10, "'OR' needs a term after it"),
        ("Dushanbe AND OR x", 10, "'AND' needs a term after it"),
        ("AND Dushanbe", 1, "'AND' needs a term before it"),
        ("NOT", 1, "'NOT' needs a term after it"),
        ("NOT Dushanbe", 1, "a rule needs at least one positive term"),
        ("a OR NOT b", 6, "a rule needs at least one positive term"),
        ('Dushanbe ""', 10, "empty phrase"),
        ("Dushanbe *", 10, "'*' needs a word right before it"),
        ("ter*ror", 4, "'*' is only allowed at the end"),
        ("Dushanbe ()", 10, "empty parentheses"),
        ("title: Dushanbe", 1, "title: needs a term, phrase or group right after it"),
        # past Python's stack, a traceback (and a 500 from the web UI), not this line
        ("(" * 200 + "a" + ")" * 200, 51, "nested more than 50 levels deep"),
        ("NOT " * 3000 + "a", 201, "nested more than 50 levels deep"),
    ],
)
def test_syntax_error_position_and_message(query: str, position: int, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_query(query, "central-asia")
    error = caught.value
    assert (error.rule, error.position, error.message) == ("central-asia", position, message)
    assert str(error) == f"rule 'central-asia': position {position}: {message}"


def test_compile_reports_the_bad_rule_by_name() -> None:
    specs = [RuleSpec("good", "Dushanbe"), RuleSpec("broken", "(Dushanbe")]
    with pytest.raises(RuleSyntaxError, match=r"^rule 'broken': position 1: unclosed '\('$"):
        RuleSet.compile(specs)


def test_a_rule_nested_as_deep_as_allowed_compiles_and_matches() -> None:
    query = "(" * 48 + "Dushanbe AND NOT (Almaty" + ")" * 49  # 50 levels
    rules = RuleSet.compile([RuleSpec("deep", query)])
    assert [hit.rule for hit in rules.match(title="Talks", text="Talks in Dushanbe.")] == ["deep"]
    assert rules.match(title="Talks", text="Talks in Dushanbe and Almaty.") == []


def test_syntax_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="position 3"):
        parse_query("a AND")


# --- hits --------------------------------------------------------------------------------------

QUERY = 'Dushanbe AND (terrorism OR terrorisme OR терроризм OR "border security") NOT football'


def test_hit_terms_are_matched_positive_terms_in_query_order() -> None:
    rules = RuleSet.compile([RuleSpec("ca", QUERY)])
    [hit] = rules.match(
        title="Border  Security in DUSHANBE",
        text="Ministers discussed terrorisme and ТЕРРОРИЗМ. Nothing about trade.",
    )
    assert hit.rule == "ca"
    assert hit.terms == ("Dushanbe", "terrorisme", "терроризм", "border security")


def test_hit_terms_are_distinct() -> None:
    rules = RuleSet.compile([RuleSpec("r", "Dushanbe AND (Dushanbe OR title:Dushanbe)")])
    [hit] = rules.match(title="Dushanbe", text="Dushanbe and Dushanbe")
    assert hit.terms == ("Dushanbe",)
    assert len(hit.snippets) == 1


def test_snippet_comes_from_original_text_around_first_occurrence() -> None:
    before = " ".join(f"w{i}" for i in range(60))
    after = " ".join(f"z{i}" for i in range(60))
    text = f"{before}\n  Talks   in Genève on TERRORISM today. {after} Genève again"
    rules = RuleSet.compile([RuleSpec("r", "geneve terror*")])
    [hit] = rules.match(title="", text=text)
    assert hit.terms == ("geneve", "terror*")
    assert hit.words == ("Genève", "TERRORISM")  # the words found, not the patterns
    # Both terms stand in one sentence: one snippet holds them, not two that repeat it.
    [first] = hit.snippets
    assert "Talks in Genève on TERRORISM today." in first
    assert first.startswith("…") and first.endswith("…")
    assert "again" not in first
    body = first.strip("…")
    assert len(body) <= 80 + len("Genève on TERRORISM") + 80
    # Cut between words: every word in the snippet is a whole word of the text.
    assert set(body.split()) <= set(text.split())


def test_terms_far_apart_get_a_snippet_each_and_words_as_written() -> None:
    filler = " ".join(f"w{i}" for i in range(80))
    text = f"Die Polizei kam. {filler} Der Terrorismus wuchs. {filler} Polizei again."
    rules = RuleSet.compile([RuleSpec("r", "polizei AND terror*")])
    [hit] = rules.match(title="", text=text)
    assert hit.words == ("Polizei", "Terrorismus")
    first, second = hit.snippets
    assert "Die Polizei kam." in first and "Terrorismus" not in first
    assert "Der Terrorismus wuchs." in second and "Polizei" not in second


def test_a_name_term_gives_its_name_among_the_words_found() -> None:
    rules = RuleSet.compile([RuleSpec("r", "place:Dushanbe AND talks")])
    [hit] = rules.match(title="", text="Talks were held.", places=["Dushanbe"])
    assert hit.words == ("Talks", "Dushanbe")


def test_snippet_is_whole_text_when_short() -> None:
    rules = RuleSet.compile([RuleSpec("r", "OSCE")])
    [hit] = rules.match(title="Title", text="The  OSCE met.")
    assert hit.snippets == ("The OSCE met.",)


def test_snippet_from_title_when_term_only_in_title() -> None:
    rules = RuleSet.compile([RuleSpec("r", "Dushanbe AND trade")])
    [hit] = rules.match(title="Summit in Dushanbe", text="Trade was discussed.")
    assert hit.snippets == ("Summit in Dushanbe", "Trade was discussed.")


def test_snippet_from_title_for_title_scoped_term() -> None:
    rules = RuleSet.compile([RuleSpec("r", "title:Dushanbe")])
    [hit] = rules.match(title="Dushanbe summit", text="Leaders came to Dushanbe.")
    assert hit.snippets == ("Dushanbe summit",)


def test_negated_terms_are_not_reported() -> None:
    rules = RuleSet.compile([RuleSpec("r", "Dushanbe NOT (football AND NOT match)")])
    [hit] = rules.match(title="", text="Dushanbe football match")
    assert hit.terms == ("Dushanbe", "match")


def test_at_most_five_snippets() -> None:
    words = [f"word{i}" for i in range(7)]
    rules = RuleSet.compile([RuleSpec("r", " OR ".join(words))])
    filler = " ".join(f"x{i}" for i in range(60))  # far apart: a snippet each
    [hit] = rules.match(title="", text=f" {filler} ".join(words))
    assert hit.terms == tuple(words)
    assert len(hit.snippets) == 5


def test_hits_follow_rule_order() -> None:
    specs = [RuleSpec("z", "terrorism"), RuleSpec("a", "Dushanbe"), RuleSpec("m", "Almaty")]
    rules = RuleSet.compile(specs)
    hits = rules.match(title="Dushanbe", text="terrorism")
    assert [hit.rule for hit in hits] == ["z", "a"]


def test_no_match_gives_no_hits() -> None:
    rules = RuleSet.compile([RuleSpec("r", "Dushanbe")])
    assert rules.match(title="Almaty", text="Tashkent") == []


# --- sources and size --------------------------------------------------------------------------


def test_sources_restriction() -> None:
    specs = [RuleSpec("osce-only", "Dushanbe", ("osce",)), RuleSpec("everywhere", "Dushanbe")]
    rules = RuleSet.compile(specs)
    names = {
        source: [hit.rule for hit in rules.match(title="Dushanbe", text="", source=source)]
        for source in ("osce", "asia-plus", None)
    }
    assert names == {
        "osce": ["osce-only", "everywhere"],
        "asia-plus": ["everywhere"],
        None: ["osce-only", "everywhere"],
    }


def test_len_counts_rules() -> None:
    assert len(RuleSet.compile([])) == 0
    assert len(RuleSet.compile([RuleSpec("a", "x"), RuleSpec("b", "x"), RuleSpec("c", "y")])) == 3


def test_empty_ruleset_matches_nothing() -> None:
    assert RuleSet.compile([]).match(title="Dushanbe", text="terrorism") == []


VOCABULARY = [
    "dushanbe", "almaty", "osce", "oscepa", "terrorism", "terrorisme", "терроризм", "الإرهاب",
    "border", "security", "genève", "trade", "summit", "tashkent", "police", "attack",
]  # fmt: skip


def _random_query(rng: random.Random) -> str:
    def operand() -> str:
        word = rng.choice(VOCABULARY)
        form = rng.randrange(6)
        if form == 0:
            return f'"{word} {rng.choice(VOCABULARY)}"'
        if form == 1:
            return word[: rng.randint(2, len(word))] + "*"
        if form == 2:
            return f"title:{word}"
        if form == 3:
            return f"({word} OR {rng.choice(VOCABULARY)})"
        return word

    query = operand()
    for _ in range(rng.randrange(3)):
        joiner = rng.choice([" AND ", " OR ", " ", " NOT "])
        query += joiner + operand()
    return query


def _random_article(rng: random.Random) -> tuple[str, str]:
    def words(count: int) -> str:
        return " ".join(rng.choice([*VOCABULARY, "the", "and", "Genève."]) for _ in range(count))

    return words(rng.randrange(6)), words(rng.randrange(40))


def test_ten_thousand_rules_match_like_each_rule_alone() -> None:
    rng = random.Random(20240601)
    specs = [RuleSpec(f"rule{i}", _random_query(rng)) for i in range(10_000)]
    articles = [_random_article(rng) for _ in range(12)]
    together = RuleSet.compile(specs)
    assert len(together) == 10_000
    sample = {spec: RuleSet.compile([spec]) for spec in rng.sample(specs, 300)}
    matched_any = 0
    for title, text in articles:
        found = together.match(title=title, text=text)
        numbers = [int(hit.rule.removeprefix("rule")) for hit in found]
        assert numbers == sorted(numbers)  # hits come in rule order
        hits = {hit.rule: hit for hit in found}
        for spec, single in sample.items():
            alone: list[Hit] = single.match(title=title, text=text)
            assert alone == ([hits[spec.name]] if spec.name in hits else []), spec.query
            matched_any += bool(alone)
    # The sample exercises both outcomes, so equivalence is not vacuous.
    assert 0 < matched_any < len(sample) * len(articles)
