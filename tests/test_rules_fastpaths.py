"""The fast paths of matching give what the plain definitions give: folding all runs at once,
the Latin-1 byte table, the written-out character classes, compiled checks, the candidate
index and hits described when read."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from monitor.rules import (
    Hit,
    RuleSet,
    RuleSpec,
    _checker,
    _found_keys,
    _holds,
    _terms,
    parse_query,
    snippet,
)
from storage.textfold import (
    _IDEOGRAPHIC,
    _KEPT_MARKS,
    _PUNCTUATION,
    TATWEEL,
    Words,
    _flat_pattern,
    _marks,
    _run_matches,
    _runs,
    _slow_path_needed,
    _word_pattern,
    fold,
    tokens,
)

# Characters where folding or splitting into words is not plain: accents and harakat, kana
# voicing, ligatures, fractions, apostrophes and dashes, tatweel, underscore, Han and kana,
# halfwidth katakana, final sigma, Cherokee (casefolds to upper case), astral letters, emoji,
# variation selectors and astral marks, a lone mark.
TRICKY = (
    "aEz09 \n\t,.;:-'\"()_`"
    "éÅçñßİıſﬁﬀ½¼²ª™℡①µÿøæðþ¹º¿«»·×÷\xa0\xad"
    "\u0301\u0308\u0327\u0640\u3099\u309a"
    "ʼ’‘—–‑"
    "الإِرْهـــَاب"
    "ТЕРРОРИЗМ ΣΑΣ ς"
    "東京かがｶﾞｶ゛・゠〆"
    "Ꭰꭰᏸ"
    "𝐀𝟙😀\U000e0100\U0001d165"
)


def _reference_fold(text: str) -> str:
    """`fold` as first written: one character at a time."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ı", "i")  # Turkish
    folded = folded.translate(_PUNCTUATION)
    decomposed = unicodedata.normalize("NFD", folded)
    kept = "".join(
        char
        for char in decomposed
        if char != TATWEEL
        and not (unicodedata.category(char) in ("Mn", "Me") and char not in _KEPT_MARKS)
    )
    return unicodedata.normalize("NFC", kept)


def _random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = TRICKY + "abcdefghij  " * 3
    return ["".join(rng.choices(pool, k=rng.randrange(0, 16))) for _ in range(count)]


def test_fold_is_the_character_by_character_fold() -> None:
    for code in range(0x10000):
        assert fold(chr(code)) == _reference_fold(chr(code)), hex(code)
    for text in [*TRICKY, *_random_texts(3000, seed=1)]:
        assert fold(text) == _reference_fold(text), repr(text)


def test_latin1_letters_fold_alike_alone_and_together() -> None:
    letters = [char for char in map(chr, range(256)) if tokens(char)]
    for first in letters:
        for second in letters:
            assert fold(first + second) == fold(first) + fold(second), (first, second)


def test_runs_fold_alike_alone_and_joined_by_newlines() -> None:
    for text in _random_texts(3000, seed=2):
        runs = _runs(text)
        assert fold("\n".join(runs)).split("\n") == [fold(run) for run in runs] or not runs


def test_written_out_classes_are_the_unicode_ones() -> None:
    everything = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code < 0xE000)
    slow = re.compile(f"[{_IDEOGRAPHIC}\U00010000-\U0010ffff]")
    assert [m.span() for m in _slow_path_needed().finditer(everything)] == [
        m.span() for m in slow.finditer(everything)
    ]
    flat_text = slow.sub(" ", everything)  # the flat pattern only sees text without them
    marks = "".join(chr(code) for code in _marks() if code < 0x10000)
    assert _flat_pattern().findall(flat_text) == re.findall(
        f"[\\w{re.escape(marks)}]+", flat_text.replace("_", " ")
    )
    assert _flat_pattern().findall(flat_text) == _word_pattern().findall(flat_text)


def test_runs_are_those_of_the_full_pattern() -> None:
    ideographic = "".join(re.findall(f"[{_IDEOGRAPHIC}]", "".join(map(chr, range(0x10000)))))
    for text in [ideographic, f"a{ideographic}b", *_random_texts(3000, seed=10)]:
        expected = _word_pattern().findall(text)
        assert _runs(text) == expected, repr(text)
        assert [match.group() for match in _run_matches(text)] == expected, repr(text)


@pytest.mark.parametrize("seed", [3, 4])
def test_words_are_the_tokens_with_their_spans(seed: int) -> None:
    for text in [TRICKY, "Genève Genève", "", "  ", *_random_texts(2000, seed)]:
        found = tokens(text)
        words = Words(text)
        assert words.joined == " " + " ".join(token.word for token in found) + " ", repr(text)
        offset = 0
        for token in found:
            assert words.span(offset, 1) == (token.start, token.end), repr(text)
            offset += len(token.word) + 1


def _random_query(rng: random.Random) -> str:
    def operand(depth: int) -> str:
        word = rng.choice(["a", "b", "c", "d", "e"])
        form = rng.randrange(7 if depth < 2 else 4)
        if form == 0:
            return f"title:{word}"
        if form == 1:
            return f"NOT {operand(depth + 1)}"
        if form >= 4:
            joiner = rng.choice([" AND ", " OR ", " "])
            return f"({operand(depth + 1)}{joiner}{operand(depth + 1)})"
        return word

    query = operand(0)
    for _ in range(rng.randrange(4)):
        query += rng.choice([" AND ", " OR ", " ", " NOT "]) + operand(0)
    return query


def _valid_queries(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    queries: list[str] = []
    while len(queries) < count:
        query = _random_query(rng)
        try:
            parse_query(query)
        except ValueError:  # no positive term
            continue
        queries.append(query)
    return queries


def _pattern(word: str) -> str:
    return f" {word} "


def test_compiled_checks_agree_with_the_tree() -> None:
    rng = random.Random(5)
    words = ["a", "b", "c", "d", "e"]
    for query in _valid_queries(400, seed=6):
        tree = parse_query(query)
        check = _checker(tree)
        for _ in range(30):
            anywhere = frozenset(_pattern(w) for w in words if rng.random() < 0.5)
            title = frozenset(p for p in anywhere if rng.random() < 0.5)
            expected = _holds(tree, title, anywhere)
            assert check(_found_keys(title, anywhere)) is expected, (query, title, anywhere)


def test_match_is_every_rule_evaluated_on_its_own() -> None:
    """The index and the rules decided by finding a key leave out no rule that holds."""
    rng = random.Random(7)
    queries = _valid_queries(600, seed=8)
    ruleset = RuleSet.compile([RuleSpec(f"r{n}", query) for n, query in enumerate(queries)])
    trees = [parse_query(query) for query in queries]
    for _ in range(150):
        title = " ".join(rng.choices("abcde", k=rng.randrange(3)))
        text = " ".join(rng.choices("abcdexyz", k=rng.randrange(8)))
        in_title = frozenset(_pattern(w) for w in title.split())
        anywhere = in_title | frozenset(_pattern(w) for w in text.split())
        expected = [f"r{n}" for n, tree in enumerate(trees) if _holds(tree, in_title, anywhere)]
        assert [hit.rule for hit in ruleset.match(title=title, text=text)] == expected


def test_hit_terms_are_found_terms_that_count() -> None:
    queries = _valid_queries(300, seed=9)
    ruleset = RuleSet.compile([RuleSpec(f"r{n}", query) for n, query in enumerate(queries)])
    for hit in ruleset.match(title="a b", text="c d"):
        tree = parse_query(queries[int(hit.rule.removeprefix("r"))])
        counting = {term.text for term, counts in _terms(tree) if counts}
        assert hit.terms
        assert set(hit.terms) <= counting


def test_a_hit_describes_itself_alike_whichever_is_read_first() -> None:
    """Matching names a hit's terms and snippets only when one is first read."""
    rules = RuleSet.compile(
        [RuleSpec("r", '"counter terrorism" OR sanctions'), RuleSpec("s", "osce")]
    )
    article = {"title": "OSCE", "text": "Sanctions and counter-terrorism, OSCE PA said."}
    terms_first, snippets_first = rules.match(**article), rules.match(**article)
    described = [(hit.rule, hit.terms, hit.snippets) for hit in terms_first]
    assert [(hit.rule, hit.snippets, hit.terms) for hit in snippets_first] == [
        (rule, snippets, terms) for rule, terms, snippets in described
    ]
    assert described == [
        ("r", ("counter terrorism", "sanctions"), (  # one sentence: one snippet
            "Sanctions and counter-terrorism, OSCE PA said.",
        )),
        ("s", ("osce",), ("Sanctions and counter-terrorism, OSCE PA said.",)),
    ]  # fmt: skip
    assert terms_first == snippets_first
    assert len({*terms_first, *snippets_first}) == 2


def test_snippets_are_cut_once_when_first_read() -> None:
    calls: list[int] = []

    def cut() -> tuple[str, ...]:
        calls.append(1)
        return ("…around…",)

    lazy = Hit("r", ("x",), cut)
    assert calls == []
    assert lazy.snippets == ("…around…",)
    assert lazy.snippets == ("…around…",)
    assert calls == [1]
    eager = Hit("r", ("x",), ("…around…",))
    assert lazy == eager
    assert hash(lazy) == hash(eager)
    assert repr(lazy) == "Hit(rule='r', terms=('x',), snippets=('…around…',))"
    assert lazy != Hit("r", ("x",), ("elsewhere",))
    assert lazy != "r"


def test_lazy_snippets_are_those_of_the_first_occurrence() -> None:
    text = "Genève first. " + "filler " * 40 + "Genève again, and TERRORISM."
    rules = RuleSet.compile([RuleSpec("r", "geneve terror*"), RuleSpec("s", "title:summit")])
    first, second = rules.match(title="Summit", text=text)
    terror = text.index("TERRORISM")
    assert first.snippets == (snippet(text, 0, 6), snippet(text, terror, terror + 9))
    assert second.snippets == ("Summit",)
