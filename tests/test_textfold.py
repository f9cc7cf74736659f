"""One folding for rules, the gazetteer and near-duplicate keys: a word written one way is
found written another way, and folds to the same words, in each of the three."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from crawlers.enrichment.entities import Gazetteer
from monitor.rules import RuleSet, RuleSpec
from storage import textfold
from storage.similarity import title_key

# (as a rule or an alias writes it, as an article writes it, the folded words)
SAME_WORD = [
    ("Geneva", "GENEVA", ["geneva"]),
    ("Genève", "GENEVE", ["geneve"]),
    ("élection présidentielle", "ÉLECTION PRÉSIDENTIELLE", ["election", "presidentielle"]),
    ("терроризм", "ТЕРРОРИЗМ", ["терроризм"]),
    ("الإرهاب", "الإِرْهـــَاب", ["الارهاب"]),  # harakat and tatweel
    ("İstanbul", "ISTANBUL", ["istanbul"]),  # dotted capital I: the dot goes
    # Turkish capitals: I is the capital of dotless ı, which folds to i as I does, so that
    # a headline in capitals matches the word in lower case
    ("Diyarbakır", "DİYARBAKIR", ["diyarbakir"]),
    ("ışid", "IŞİD", ["isid"]),
    ("Straße", "STRASSE", ["strasse"]),
    ("ガザ", "ｶﾞｻﾞ", ["ガ", "ザ"]),  # half-width kana; voicing marks kept; a word per character
    ("東京", "東京", ["東", "京"]),
    ("NATO", "ＮＡＴＯ", ["nato"]),  # full-width letters
    ("finance", "ﬁnance", ["finance"]),  # ligature
    ("l'OSCE", "l’OSCE", ["l", "osce"]),  # apostrophes
    ("пʼять", "п'ять", ["п", "ять"]),  # the modifier-letter apostrophe is an apostrophe
    ("Abu-Dhabi", "Abu—Dhabi", ["abu", "dhabi"]),  # dashes
]


@pytest.mark.parametrize(("written", "variant", "folded"), SAME_WORD)
def test_a_word_folds_the_same_everywhere(written: str, variant: str, folded: list[str]) -> None:
    text = f"Before {variant} after."
    assert [token.word for token in textfold.tokens(written)] == folded
    assert textfold.words(variant) == folded
    assert textfold.Words(variant).joined.split() == folded
    assert title_key(variant) == " ".join(folded)  # near-duplicate keys
    rules = RuleSet.compile([RuleSpec("rule", f'"{written}"')])
    assert [hit.rule for hit in rules.match(title="", text=text)] == ["rule"]
    gazetteer = Gazetteer.from_data({"places": [{"name": "Target", "aliases": [written]}]})
    assert gazetteer.find(text) == (("Target",), ())


def test_han_and_kana_words_are_found_inside_a_sentence() -> None:
    """Written without spaces, a name is found within the run of characters around it."""
    text = "東京都でガザ情勢について協議した。"
    gazetteer = Gazetteer.from_data(
        {"places": [{"name": "Tokyo", "aliases": ["東京"]}, {"name": "Gaza", "aliases": ["ガザ"]}]}
    )
    assert gazetteer.find(text) == (("Tokyo", "Gaza"), ())
    rules = RuleSet.compile([RuleSpec("rule", '"東京" AND ガザ')])
    assert [hit.rule for hit in rules.match(title="", text=text)] == ["rule"]


@pytest.mark.parametrize(
    ("first", "second"),
    [("カサ", "ガザ")],
)
def test_words_that_differ_stay_apart(first: str, second: str) -> None:
    """Kana voicing marks change the word."""
    assert textfold.words(first) != textfold.words(second)
    rules = RuleSet.compile([RuleSpec("rule", f'"{first}"')])
    assert rules.match(title="", text=second) == []


def test_every_character_folds_alike_in_a_whole_text_and_word_by_word() -> None:
    """Each assigned code point beside letters, before a combining accent and alone, in texts
    of a few thousand: what a text's words fold to in one pass (rules' automaton, the
    gazetteer, near-duplicate keys) is what its runs fold to one by one (rule queries)."""
    codes = [
        code
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) not in ("Cn", "Co", "Cs")  # unassigned, private
    ]
    differ = []
    for start in range(0, len(codes), 4096):
        text = " ".join(f"a{chr(c)}b{chr(c)}\u0301 {chr(c)}" for c in codes[start : start + 4096])
        if textfold.words(text) != [token.word for token in textfold.tokens(text)]:
            differ.append(hex(codes[start]))
    assert not differ
